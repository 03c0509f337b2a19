// FrameReader against hand-built fixture streams cut every way a socket can cut them (every
// offset, offset pairs, 1-byte drips, seeded random chunkings), plus its length guards.

import { describe, expect, test } from "bun:test";
import { FrameReader, MAX_STARTUP_PACKET, ProtocolError, UNTYPED } from "../../../src/protocol/index.ts";
import { INITIAL_PARTIAL_BYTES } from "../../../src/protocol/frame-reader.ts";
import { cat, cstr, i32, sslRequest, typed } from "../../frames.ts";
import { backend, backendSmall, frontend, frontendAfterSsl, prng, randInt, sameBytes, startupPacket, type FixtureStream } from "./fixtures.ts";

const MAX = 1 << 20;
const streams = [backend, backendSmall, frontend, frontendAfterSsl];

interface Emitted {
  type: number;
  buf: Uint8Array;
  start: number;
  end: number;
}

/**
 * Feeds `chunks` to a fresh reader the way the session does (flipping to typed frames after the
 * stream's startup packets) and returns the first discrepancy with the fixture, or null. Frames
 * are compared only after the last push, so a view that a later push overwrote is caught too.
 */
function feed(fx: FixtureStream, chunks: readonly Uint8Array[], emitted: Emitted[] = []): string | null {
  const reader = new FrameReader(MAX, fx.untypedPrefix > 0);
  let pushed = 0;
  let framed = 0;
  let problem: string | null = null;
  const sink = (type: number, buf: Uint8Array, start: number, end: number): void => {
    if (start < 0 || end > buf.length || start >= end) problem ??= `frame ${emitted.length}: bad range [${start}, ${end}) of ${buf.length}`;
    emitted.push({ type, buf, start, end });
    framed += end - start;
    if (emitted.length === fx.untypedPrefix) reader.expectUntyped = false;
  };
  for (const [i, chunk] of chunks.entries()) {
    reader.push(chunk, sink);
    pushed += chunk.length;
    if (reader.buffered !== pushed - framed) {
      return `after chunk ${i}: buffered ${reader.buffered}, but ${pushed - framed} bytes are pushed and not yet framed`;
    }
  }
  if (problem) return problem;
  if (reader.buffered !== 0) return `buffered ${reader.buffered} at the end`;
  if (emitted.length !== fx.frames.length) return `${emitted.length} frames, expected ${fx.frames.length}`;
  for (const [i, want] of fx.frames.entries()) {
    const got = emitted[i];
    if (got.type !== want.type) return `frame ${i} (${want.name}): type ${got.type}, expected ${want.type}`;
    if (!sameBytes(got.buf.subarray(got.start, got.end), want.bytes)) return `frame ${i} (${want.name}): bytes differ`;
  }
  return null;
}

/** Cuts `bytes` at the given ascending offsets into views (no copies: the splits are many). */
function cutAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const o of offsets) {
    out.push(bytes.subarray(prev, o));
    prev = o;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Frame boundaries of a stream and the offsets around them, where header handling changes. */
function offsetsNearBoundaries(fx: FixtureStream): number[] {
  const set = new Set<number>();
  let off = 0;
  for (const fr of fx.frames) {
    for (let d = -2; d <= 6; d++) set.add(off + d);
    off += fr.bytes.length;
  }
  set.add(off - 1);
  set.add(off);
  return [...set].filter((o) => o >= 0 && o <= fx.bytes.length).sort((a, b) => a - b);
}

describe("FrameReader: fixture streams", () => {
  test("fixture streams have the expected shape", () => {
    expect(UNTYPED).toBe(0);
    expect(backend.bytes.length).toBeGreaterThan(70 * 1024);
    expect(backend.frames.some((fr) => fr.bytes.length === 5)).toBe(true);
    expect(backendSmall.bytes.length).toBeLessThan(1200);
    expect(frontend.bytes.length).toBeLessThan(400);
  });

  for (const fx of streams) {
    test(`${fx.name}: whole stream in one chunk, every frame a zero-copy view of that chunk`, () => {
      const emitted: Emitted[] = [];
      expect(feed(fx, [fx.bytes], emitted)).toBeNull();
      expect(emitted.every((e) => e.buf === fx.bytes)).toBe(true);
    });
  }

  for (const fx of streams) {
    test(`${fx.name}: split into two chunks at every byte offset`, () => {
      const failures: string[] = [];
      for (let i = 0; i <= fx.bytes.length; i++) {
        const p = feed(fx, cutAt(fx.bytes, [i]));
        if (p) failures.push(`split at ${i}: ${p}`);
      }
      expect(failures).toEqual([]);
    });
  }

  for (const fx of [frontend, frontendAfterSsl]) {
    test(`${fx.name}: split into three chunks at every pair of offsets`, () => {
      const failures: string[] = [];
      const n = fx.bytes.length;
      for (let i = 0; i <= n && failures.length < 5; i++) {
        for (let j = i; j <= n; j++) {
          const p = feed(fx, cutAt(fx.bytes, [i, j]));
          if (p) failures.push(`split at ${i}, ${j}: ${p}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }

  test(`${backendSmall.name}: split into three chunks at every pair of offsets at most 48 bytes apart`, () => {
    // Every way to cut one header or short frame twice; far-apart pairs add nothing the
    // two-chunk splits and the boundary pairs below do not already cover.
    const failures: string[] = [];
    const n = backendSmall.bytes.length;
    for (let i = 0; i <= n && failures.length < 5; i++) {
      for (let j = i; j <= Math.min(n, i + 48); j++) {
        const p = feed(backendSmall, cutAt(backendSmall.bytes, [i, j]));
        if (p) failures.push(`split at ${i}, ${j}: ${p}`);
      }
    }
    expect(failures).toEqual([]);
  });

  for (const fx of [backend, backendSmall]) {
    test(`${fx.name}: split into three chunks at every pair of offsets near frame boundaries`, () => {
      const offsets = offsetsNearBoundaries(fx);
      const failures: string[] = [];
      for (const i of offsets) {
        for (const j of offsets) {
          if (j < i) continue;
          const p = feed(fx, cutAt(fx.bytes, [i, j]));
          if (p) failures.push(`split at ${i}, ${j}: ${p}`);
        }
      }
      expect(offsets.length).toBeGreaterThan(200);
      expect(failures).toEqual([]);
    });
  }

  for (const fx of streams) {
    test(`${fx.name}: 1-byte drips`, () => {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < fx.bytes.length; i++) chunks.push(fx.bytes.subarray(i, i + 1));
      expect(feed(fx, chunks)).toBeNull();
    });
  }

  for (const [k, fx] of streams.entries()) {
    test(`${fx.name}: seeded random chunkings into fresh buffers, empty chunks included`, () => {
      const seed = 0x5eed + k;
      const rand = prng(seed);
      const failures: string[] = [];
      for (let round = 0; round < 200; round++) {
        // Mix tiny, medium and socket-sized pieces; a fresh copy each, as Bun's data events are.
        const chunks: Uint8Array[] = [];
        for (let off = 0; off < fx.bytes.length; ) {
          const r = rand();
          const len = r < 0.05 ? 0 : randInt(rand, 1, r < 0.35 ? 8 : r < 0.65 ? 64 : r < 0.9 ? 1000 : 65536);
          chunks.push(fx.bytes.slice(off, off + len));
          off += len;
        }
        const p = feed(fx, chunks);
        if (p) failures.push(`seed ${seed} round ${round}: ${p}`);
      }
      expect(failures).toEqual([]);
    });
  }

  test("emitted views stay valid after later pushes, and reassembled frames never share a buffer", () => {
    // Chunk 1 ends inside a header, chunk 2 inside a body, chunk 3 finishes the stream; then more
    // split frames make the reader reassemble again. Frames kept from the start must not change.
    const bytes = frontend.bytes;
    const a = frontend.frames[0].bytes.length + frontend.frames[1].bytes.length + 3;
    const b = a - 3 + frontend.frames[2].bytes.length + 2;
    const extra = typed("Q", cstr("SELECT 2"));
    const chunks: Uint8Array[] = [bytes.slice(0, a), bytes.slice(a, b), bytes.slice(b), extra.slice(0, 3), extra.slice(3, 9), extra.slice(9)];
    const kept: Emitted[] = [];
    const reader = new FrameReader(MAX, true);
    const sink = (type: number, buf: Uint8Array, start: number, end: number): void => {
      kept.push({ type, buf, start, end });
      reader.expectUntyped = false;
    };
    reader.push(chunks[0], sink);
    expect(kept.length).toBe(2);
    const firstTwo = kept.map((e) => e.buf.slice(e.start, e.end));
    for (const c of chunks.slice(1)) reader.push(c, sink);

    expect(kept.length).toBe(frontend.frames.length + 1);
    for (const [i, want] of [...frontend.frames.map((fr) => fr.bytes), extra].entries()) {
      const e = kept[i];
      expect(sameBytes(e.buf.subarray(e.start, e.end), want)).toBe(true);
    }
    expect(sameBytes(kept[0].buf.subarray(kept[0].start, kept[0].end), firstTwo[0])).toBe(true);
    expect(sameBytes(kept[1].buf.subarray(kept[1].start, kept[1].end), firstTwo[1])).toBe(true);
    const reassembled = kept.filter((e) => !chunks.includes(e.buf));
    expect(reassembled.length).toBe(3); // the frame cut at a, the one cut at b, and `extra`
    expect(new Set(reassembled.map((e) => e.buf.buffer)).size).toBe(3);
    expect(reader.buffered).toBe(0);
  });
});

describe("FrameReader: startup packet mode", () => {
  test("untyped frames until the sink flips expectUntyped, effective from the very next frame", () => {
    const seen: number[] = [];
    const reader = new FrameReader(MAX, true);
    reader.push(cat(startupPacket, typed("Q", cstr("SELECT 1"))), (type, buf, start, end) => {
      seen.push(type, end - start);
      reader.expectUntyped = false;
    });
    expect(seen).toEqual([UNTYPED, startupPacket.length, 0x51, 14]);
  });

  test("without the flip, a typed Query after the startup packet is refused as a startup packet", () => {
    const reader = new FrameReader(MAX, true);
    // 'Q' 00 00 00 read as an Int32 length is 0x51000000: far above the startup limit.
    expect(() => reader.push(cat(startupPacket, typed("Q", cstr("SELECT 1"))), () => {})).toThrow(ProtocolError);
  });

  test("SSLRequest stays untyped when the sink keeps expectUntyped (answered 'N', startup follows)", () => {
    const types: number[] = [];
    const reader = new FrameReader(MAX, true);
    reader.push(cat(sslRequest, startupPacket), (type) => types.push(type));
    expect(types).toEqual([UNTYPED, UNTYPED]);
    expect(reader.buffered).toBe(0);
  });
});

/** Ways to deliver a stream whose last frame has a bad header: the guard must fire on each. */
function deliveries(bytes: Uint8Array, badAt: number): [string, Uint8Array[]][] {
  const drips: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) drips.push(bytes.slice(i, i + 1));
  return [
    ["whole", [bytes]],
    ["1-byte drips", drips],
    ["header split after 2 bytes", [bytes.slice(0, badAt + 2), bytes.slice(badAt + 2)]],
    ["header split after 4 bytes", [bytes.slice(0, badAt + 4), bytes.slice(badAt + 4)]],
  ];
}

/** Pushes all chunks; returns the error thrown (or null) and how many frames came out first. */
function pushAll(reader: FrameReader, chunks: Uint8Array[]): { error: unknown; frames: number } {
  let frames = 0;
  try {
    for (const c of chunks) reader.push(c, () => frames++);
  } catch (error) {
    return { error, frames };
  }
  return { error: null, frames };
}

describe("FrameReader: length guards", () => {
  const ok = typed("S", cstr("x")); // one good frame first, so the bad header is mid-stream

  const badTyped: [string, Uint8Array, RegExp][] = [
    ["length 3", cat(Uint8Array.of(0x51), i32(3)), /invalid message length 3/],
    ["length 0", cat(Uint8Array.of(0x51), i32(0)), /invalid message length 0/],
    ["negative length", cat(Uint8Array.of(0x51), i32(-1)), /invalid message length -1/],
    ["length 0x80000000", Uint8Array.of(0x44, 0x80, 0, 0, 0), /invalid message length/],
    ["length above max", cat(Uint8Array.of(0x44), i32(1001), new Uint8Array(20)), /listen\.max_message_size/],
  ];
  for (const [name, bad, message] of badTyped) {
    for (const [how, chunks] of deliveries(cat(ok, bad), ok.length)) {
      test(`typed ${name} (${how}) → ProtocolError, good frame before it still delivered`, () => {
        const { error, frames } = pushAll(new FrameReader(1000), chunks);
        expect(error).toBeInstanceOf(ProtocolError);
        expect((error as Error).message).toMatch(message);
        expect(frames).toBe(1);
      });
    }
  }

  test("an oversized length is refused from its header alone, before the body is buffered", () => {
    const reader = new FrameReader(1 << 20);
    expect(() => reader.push(cat(Uint8Array.of(0x44), i32(1 << 30)), () => {})).toThrow(
      "message of 1073741824 bytes exceeds the limit of 1048576 bytes (listen.max_message_size)",
    );
  });

  for (const [name, body, accepted] of [
    ["length exactly max_message_size is accepted", 996, true],
    ["length max_message_size + 1 is refused", 997, false],
  ] as const) {
    for (const [how, chunks] of deliveries(cat(ok, typed("d", new Uint8Array(body))), ok.length)) {
      test(`${name} (${how})`, () => {
        const reader = new FrameReader(1000);
        const { error, frames } = pushAll(reader, chunks);
        if (accepted) {
          expect(error).toBeNull();
          expect(frames).toBe(2);
          expect(reader.buffered).toBe(0);
        } else {
          expect(error).toBeInstanceOf(ProtocolError);
          expect(frames).toBe(1);
        }
      });
    }
  }

  const startupCases: [string, number, boolean][] = [
    ["length 7", 7, false],
    ["length 4", 4, false],
    ["negative length", -8, false],
    ["length 8", 8, true],
    [`length ${MAX_STARTUP_PACKET}`, MAX_STARTUP_PACKET, true],
    [`length ${MAX_STARTUP_PACKET + 1}`, MAX_STARTUP_PACKET + 1, false],
  ];
  for (const [name, len, accepted] of startupCases) {
    const packet = cat(i32(len), new Uint8Array(Math.max(0, Math.min(len, MAX_STARTUP_PACKET + 1) - 4)));
    for (const [how, chunks] of deliveries(cat(sslRequest, packet), sslRequest.length)) {
      test(`startup packet ${name} (${how}) is ${accepted ? "accepted" : "a ProtocolError"}`, () => {
        const reader = new FrameReader(MAX, true);
        const { error, frames } = pushAll(reader, chunks);
        if (accepted) {
          expect(error).toBeNull();
          expect(frames).toBe(2);
        } else {
          expect(error).toBeInstanceOf(ProtocolError);
          expect((error as Error).message).toMatch(/invalid startup packet length/);
          expect(frames).toBe(1);
        }
      });
    }
  }

  test("max_message_size does not bound startup packets; the 10,000-byte limit does", () => {
    const reader = new FrameReader(100, true);
    let frames = 0;
    reader.push(cat(i32(5000), new Uint8Array(4996)), () => frames++);
    expect(frames).toBe(1);
  });
});

describe("FrameReader: what a declared length costs", () => {
  test("a huge declared length allocates only as its bytes arrive (at most about twice them)", () => {
    const reader = new FrameReader(1 << 30);
    reader.push(cat(Uint8Array.of(0x70), i32(256 << 20)), () => {});
    expect(reader.buffered).toBe(5);
    expect(reader.reserved).toBeLessThanOrEqual(INITIAL_PARTIAL_BYTES);
    let sent = 5;
    for (let i = 0; i < 40; i++) {
      reader.push(new Uint8Array(50_000), () => {});
      sent += 50_000;
      expect(reader.buffered).toBe(sent);
      expect(reader.reserved).toBeLessThanOrEqual(Math.max(INITIAL_PARTIAL_BYTES, 2 * sent));
    }
  });

  test("a grown frame is delivered whole and exactly sized, however it was chunked", () => {
    const body = new Uint8Array(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const frame = typed("d", body);
    const rand = prng(7);
    for (let round = 0; round < 20; round++) {
      const reader = new FrameReader(1 << 20);
      const got: Uint8Array[] = [];
      let off = 0;
      while (off < frame.length) {
        const n = randInt(rand, 1, 90_000);
        reader.push(frame.slice(off, off + n), (_t, buf, start, end) => got.push(buf.slice(start, end)));
        off += n;
      }
      expect(got.length).toBe(1);
      expect(sameBytes(got[0], frame)).toBe(true);
      expect(reader.reserved).toBe(0);
    }
  });

  test("a lowered limit (before authentication) refuses a password message from its header", () => {
    const reader = new FrameReader(1 << 30);
    reader.maxMessageSize = 8192;
    expect(() => reader.push(cat(Uint8Array.of(0x70), i32(256 << 20)), () => {})).toThrow(ProtocolError);
  });
});

describe("FrameReader: bytes behind a frame (trailing)", () => {
  // SSLRequest followed by a plaintext StartupMessage: whatever the chunking, the sink must see
  // trailing > 0 when it handles the SSLRequest, unless the request was the last byte so far.
  const both = cat(sslRequest, startupPacket);
  test("every two-chunk split: trailing counts what follows SSLRequest in the delivering chunk", () => {
    for (let cut = 1; cut < both.length; cut++) {
      const reader = new FrameReader(MAX, true);
      let seen = -1;
      const sink = (_t: number, buf: Uint8Array, start: number): void => {
        if (seen === -1 && buf[start + 3] === 8) seen = reader.trailing;
      };
      reader.push(both.slice(0, cut), sink);
      if (seen === -1) reader.push(both.slice(cut), sink);
      const expected = cut === sslRequest.length ? 0 : cut < sslRequest.length ? both.length - sslRequest.length : cut - sslRequest.length;
      expect([cut, seen]).toEqual([cut, expected]);
    }
  });

  test("1-byte drips: the request completes on its last byte with nothing behind it", () => {
    const reader = new FrameReader(MAX, true);
    const trailing: number[] = [];
    for (let i = 0; i < sslRequest.length; i++) reader.push(sslRequest.slice(i, i + 1), () => trailing.push(reader.trailing));
    expect(trailing).toEqual([0]);
  });
});
