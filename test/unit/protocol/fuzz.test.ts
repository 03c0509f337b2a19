// Random bytes into the frame reader and every decoder, and random reads on BodyReader: the only
// exception allowed to escape is ProtocolError, and no decoder may read outside its frame.

import { describe, expect, test } from "bun:test";
import {
  BodyReader,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeDataRow,
  decodeErrorFields,
  decodeParameterStatus,
  decodeParse,
  decodePasswordMessage,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeStartupPacket,
  FrameReader,
  ProtocolError,
  UNTYPED,
} from "../../../src/protocol/index.ts";
import { cat, cstr, i16, i32, typed, untyped } from "../../frames.ts";
import { prng, randInt } from "./fixtures.ts";

const CHUNKS = 10_000;
const MAX = 4096;

type Decoder = (buf: Uint8Array, start: number, end: number) => unknown;

const bodyDecoders: Record<string, Decoder> = {
  decodeAuthentication,
  decodeParameterStatus,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeQuery,
  decodeParse,
  decodeDataRow,
  decodePasswordMessage,
  decodeSASLInitialResponse,
};

const letters = "RSKZTDCEANdcIH123nspPBQXfGWv";

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand() < 0.15 ? 0 : randInt(rand, 0, 255);
  return b;
}

/** A body that decoders get further into: cstrings, small ints, NULs, stray bytes. */
function plausibleBody(rand: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  const n = randInt(rand, 0, 6);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.3) parts.push(cstr(["user", "alice", "SCRAM-SHA-256", "", "x", "SELECT 1", "_pq_.opt", "é✓"][randInt(rand, 0, 7)]));
    else if (r < 0.5) parts.push(i32([0, 3, 5, 10, 11, 12, -1, 4, 1 << 30][randInt(rand, 0, 8)]));
    else if (r < 0.65) parts.push(i16(randInt(rand, 0, 3)));
    else if (r < 0.8) parts.push(Uint8Array.of([0x53, 0x43, 0x4d, 0][randInt(rand, 0, 3)]));
    else parts.push(randomBytes(rand, randInt(rand, 0, 12)));
  }
  return cat(...parts);
}

/** A whole frame with a mostly-right header, sometimes off by a little or a lot. */
function plausibleFrame(rand: () => number, untypedMode: boolean): Uint8Array {
  const body = plausibleBody(rand);
  let frame: Uint8Array;
  if (untypedMode) {
    const code = [196608, 80877103, 80877102, 80877104, 131072, 196609, randInt(rand, 0, 0xffffffff) | 0][randInt(rand, 0, 6)];
    frame = untyped(i32(code), body, rand() < 0.7 ? Uint8Array.of(0) : new Uint8Array(0));
  } else {
    frame = typed(letters[randInt(rand, 0, letters.length - 1)], body);
  }
  const r = rand();
  if (r < 0.1) {
    const lenAt = untypedMode ? 0 : 1;
    new DataView(frame.buffer).setInt32(lenAt, new DataView(frame.buffer).getInt32(lenAt) + randInt(rand, -6, 6));
  } else if (r < 0.13) {
    new DataView(frame.buffer).setInt32(untypedMode ? 0 : 1, randInt(rand, 0, 0xffffffff) | 0);
  }
  return frame;
}

/**
 * Chunks of 0..300 bytes: pure noise, or a run of plausible frames cut at random. A run starts
 * over after noise and whenever the reader is replaced, so fresh readers see frame starts too.
 */
class ChunkSource {
  private readonly rand: () => number;
  private pending: Uint8Array = new Uint8Array(0);
  private episodeStart = true;

  constructor(
    seed: number,
    private readonly mode: "typed" | "untyped" | "session",
  ) {
    this.rand = prng(seed);
  }

  next(readerReplaced: boolean): Uint8Array {
    const rand = this.rand;
    if (readerReplaced) this.restart();
    if (rand() < 0.25) {
      this.restart();
      return randomBytes(rand, randInt(rand, 0, 300));
    }
    while (this.pending.length < 300 && rand() < 0.8) {
      const untypedFrame = this.mode === "untyped" || (this.mode === "session" && this.episodeStart);
      this.pending = cat(this.pending, plausibleFrame(rand, untypedFrame));
      this.episodeStart = false;
    }
    const len = randInt(rand, 0, Math.min(300, this.pending.length));
    const chunk = this.pending.slice(0, len);
    this.pending = this.pending.slice(len);
    return chunk;
  }

  private restart(): void {
    this.pending = new Uint8Array(0);
    this.episodeStart = true;
  }
}

interface Tally {
  frames: number;
  protocolErrors: number;
  decoded: Record<string, number>;
}

/** Only ProtocolError may escape; anything else is rethrown with what caused it. */
function guarded(what: string, fn: () => void, tally: Tally): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) {
      tally.protocolErrors++;
      return false;
    }
    throw new Error(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

/** Every Uint8Array in a decoder's result must be a view inside [start, end) of the frame. */
function assertInside(result: unknown, buf: Uint8Array, start: number, end: number, what: string): void {
  const views = result && typeof result === "object" ? Object.values(result).filter((v) => v instanceof Uint8Array) : [];
  for (const v of views as Uint8Array[]) {
    if (v.length === 0) continue;
    const lo = v.byteOffset - buf.byteOffset;
    if (v.buffer !== buf.buffer || lo < start || lo + v.length > end) throw new Error(`${what} returned bytes outside its frame`);
  }
}

function decodeAll(isUntyped: boolean, buf: Uint8Array, start: number, end: number, tally: Tally): void {
  tally.frames++;
  const bodyStart = start + (isUntyped ? 4 : 5);
  const run = (name: string, decode: Decoder, s: number) => {
    let result: unknown;
    if (guarded(name, () => (result = decode(buf, s, end)), tally)) {
      assertInside(result, buf, s, end, name);
      tally.decoded[name] = (tally.decoded[name] ?? 0) + 1;
    }
  };
  // A startup packet decoder sees [length, body); for a typed frame, the bytes after its type.
  run("decodeStartupPacket", decodeStartupPacket, isUntyped ? start : start + 1);
  for (const [name, decode] of Object.entries(bodyDecoders)) run(name, decode, bodyStart);
}

function fuzzReader(seed: number, mode: "typed" | "untyped" | "session"): Tally {
  const tally: Tally = { frames: 0, protocolErrors: 0, decoded: {} };
  let reader = new FrameReader(MAX, mode !== "typed");
  const sink = (type: number, buf: Uint8Array, start: number, end: number): void => {
    // The reader's mode, not `type`, says what a frame is: a typed frame may carry type byte 0.
    const isUntyped = reader.expectUntyped;
    const lenAt = isUntyped ? start : start + 1;
    const declared = new DataView(buf.buffer, buf.byteOffset).getInt32(lenAt);
    if (start < 0 || end > buf.length || end - lenAt < 4 || declared !== end - lenAt || type !== (isUntyped ? UNTYPED : buf[start])) {
      throw new Error(`bad frame: type ${type}, range [${start}, ${end}) of ${buf.length}, declared length ${declared}`);
    }
    decodeAll(isUntyped, buf, start, end, tally);
    // The session flips to typed frames after the first packet, as after a StartupMessage.
    if (mode === "session") reader.expectUntyped = false;
  };
  const source = new ChunkSource(seed, mode);
  let replaced = false;
  for (let i = 0; i < CHUNKS; i++) {
    const chunk = source.next(replaced);
    replaced = !guarded("FrameReader.push", () => reader.push(chunk, sink), tally);
    if (replaced) reader = new FrameReader(MAX, mode !== "typed");
  }
  return tally;
}

describe("fuzz: FrameReader and every decoder", () => {
  for (const [mode, seed] of [
    ["typed", 1],
    ["untyped", 2],
    ["session", 3],
  ] as const) {
    test(`${CHUNKS} random chunks, ${mode} frames: only ProtocolError escapes`, () => {
      const tally = fuzzReader(seed, mode);
      // The fuzz must actually reach the decoders and their success paths, or it proves nothing.
      expect(tally.frames).toBeGreaterThan(1000);
      expect(tally.protocolErrors).toBeGreaterThan(100);
      const reached = Object.keys(tally.decoded).sort();
      expect(reached).toEqual(["decodeStartupPacket", ...Object.keys(bodyDecoders)].sort());
    });
  }
});

/** What BodyReader must do, written from the protocol's definitions of Int8/16/32 and String. */
type Op = { op: "int8" | "int16" | "int32" | "cstring" | "rest" } | { op: "bytes"; n: number };

function modelRead(body: Uint8Array, off: number, o: Op): { value: unknown; next: number } | "error" {
  const dv = new DataView(body.buffer, body.byteOffset, body.length);
  const left = body.length - off;
  switch (o.op) {
    case "int8":
      return left < 1 ? "error" : { value: body[off], next: off + 1 };
    case "int16":
      return left < 2 ? "error" : { value: dv.getUint16(off), next: off + 2 };
    case "int32":
      return left < 4 ? "error" : { value: dv.getInt32(off), next: off + 4 };
    case "cstring": {
      const nul = body.subarray(off).indexOf(0);
      if (nul < 0) return "error";
      return { value: new TextDecoder().decode(body.subarray(off, off + nul)), next: off + nul + 1 };
    }
    case "bytes":
      return o.n < 0 || o.n > left ? "error" : { value: [...body.subarray(off, off + o.n)], next: off + o.n };
    case "rest":
      return { value: [...body.subarray(off)], next: body.length };
  }
}

describe("fuzz: BodyReader", () => {
  test("20,000 random read sequences agree with a model and never see past the range", () => {
    const rand = prng(0xb0d7);
    let errors = 0;
    let reads = 0;
    for (let round = 0; round < 20_000; round++) {
      // The range sits inside a larger buffer whose outside bytes would satisfy any over-read:
      // NULs (a cstring would "terminate" there) and 0x41s (bytes/ints would get plausible data).
      const body = randomBytes(rand, randInt(rand, 0, 40));
      const before = randInt(rand, 0, 8);
      const buf = new Uint8Array(before + body.length + 16).fill(rand() < 0.5 ? 0 : 0x41);
      buf.set(body, before);
      const r = new BodyReader(buf, before, before + body.length);
      let off = 0;
      for (let k = 0; k < 8; k++) {
        const pick = randInt(rand, 0, 5);
        const o: Op =
          pick === 5
            ? { op: "bytes", n: randInt(rand, -2, body.length - off + 2) }
            : { op: (["int8", "int16", "int32", "cstring", "rest"] as const)[pick] };
        const want = modelRead(body, off, o);
        let got: unknown;
        try {
          got = o.op === "bytes" ? r.bytes(o.n) : r[o.op]();
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          expect(want).toBe("error");
          errors++;
          break;
        }
        if (want === "error") throw new Error(`${o.op} at ${off} of ${body.length} succeeded; the model says it must fail`);
        const value = got instanceof Uint8Array ? [...got] : got;
        expect(value).toEqual(want.value);
        off = want.next;
        expect(r.remaining).toBe(body.length - off);
        reads++;
      }
    }
    expect(errors).toBeGreaterThan(1000);
    expect(reads).toBeGreaterThan(10_000);
  });

  test("a cstring whose NUL lies just past the range is a ProtocolError, not a longer string", () => {
    const buf = Uint8Array.of(0x61, 0x62, 0x63, 0);
    expect(() => new BodyReader(buf, 0, 3).cstring()).toThrow(ProtocolError);
    expect(new BodyReader(buf, 0, 4).cstring()).toBe("abc");
  });

  test("reads on an empty or inverted range fail cleanly", () => {
    const buf = new Uint8Array(16); // all NULs: an over-read would find a terminator at once
    const reads: [string, (r: BodyReader) => unknown][] = [
      ["int8", (r) => r.int8()],
      ["int16", (r) => r.int16()],
      ["int32", (r) => r.int32()],
      ["cstring", (r) => r.cstring()],
      ["bytes(1)", (r) => r.bytes(1)],
    ];
    for (const [start, end] of [
      [8, 8],
      [10, 4],
    ]) {
      for (const [, read] of reads) expect(() => read(new BodyReader(buf, start, end))).toThrow(ProtocolError);
    }
    expect(new BodyReader(buf, 8, 8).rest().length).toBe(0);
    expect(() => new BodyReader(buf, 10, 4).rest()).toThrow(ProtocolError);
  });
});
