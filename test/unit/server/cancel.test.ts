// sendCancel against fake postmasters (close in order, reset, stay silent, refuse), and a
// ServerConn held after a cancel: lent again only once every cancel toward its backend ended and
// an empty Query of ours made a round trip; closed instead when a cancel's fate is unknown.
// Frames come from test/frames.ts, never from src/protocol.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { CancelFence, sendCancel, unwatchCancels, watchCancels, watchedBackends, type CancelOutcome, type CancelTarget, type Fenceable } from "../../../src/server/cancel.ts";
import { ServerConn } from "../../../src/server/server-conn.ts";
import { cancelRequest, cat, fieldsBody, i32, messages, text, typed } from "../../frames.ts";

const PID = 4242;
const KEY = 99;

type CancelMode = "close" | "close_late" | "reset" | "silent";

/** What a fake PostgreSQL saw and does: cancel connections per `mode`; one backend connection. */
interface Fake {
  port: number;
  /** Every CancelRequest packet received, raw. */
  cancels: Uint8Array[];
  /** Typed frames received on the backend connection. */
  frames: { type: string; body: Uint8Array }[];
  backend: Socket<{ buf: Uint8Array; startup: boolean }> | null;
  mode: CancelMode;
  /** Answer to each Query on the backend connection (after ReadyForQuery of the startup). */
  onQuery: (sql: string, reply: (...frames: Uint8Array[]) => void) => void;
}

const listeners: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.stop(true);
});

const READY_IDLE = typed("Z", text("I"));
const STARTUP_REPLY = cat(typed("R", i32(0)), typed("K", i32(PID), i32(KEY)), READY_IDLE);
const canceledError = typed("E", fieldsBody([["S", "ERROR"], ["C", "57014"], ["M", "canceling statement due to user request"]]));

function fakePostgres(mode: CancelMode = "close"): Fake {
  const fake: Fake = { port: 0, cancels: [], frames: [], backend: null, mode, onQuery: (_sql, reply) => reply(typed("I"), READY_IDLE) };
  const listener = Bun.listen<{ buf: Uint8Array; startup: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: new Uint8Array(0), startup: true };
      },
      data(s, chunk) {
        const d = s.data;
        d.buf = cat(d.buf, chunk);
        if (d.startup) {
          if (d.buf.length < 8) return;
          const len = new DataView(d.buf.buffer, d.buf.byteOffset).getInt32(0);
          if (d.buf.length < len) return;
          const packet = d.buf.slice(0, len);
          d.buf = d.buf.slice(len);
          d.startup = false;
          if (new DataView(packet.buffer).getInt32(4) === 80877102) {
            fake.cancels.push(packet);
            if (fake.mode === "close") s.end();
            else if (fake.mode === "close_late") setTimeout(() => s.end(), 80);
            else if (fake.mode === "reset") s.terminate();
            return;
          }
          fake.backend = s;
          s.write(STARTUP_REPLY);
        }
        for (const m of messages(d.buf)) {
          fake.frames.push(m);
          if (m.type === "Q") fake.onQuery(new TextDecoder().decode(m.body.subarray(0, -1)), (...f) => s.write(cat(...f)));
        }
        let used = 0;
        for (const m of messages(d.buf)) used += m.body.length + 5;
        d.buf = d.buf.slice(used);
      },
    },
  });
  listeners.push(listener);
  fake.port = listener.port;
  return fake;
}

const nodeOf = (fake: Fake) => ({ name: "fake", host: "127.0.0.1", port: fake.port });

class RecordingTarget implements CancelTarget {
  readonly events: string[] = [];
  cancelStarted(): void {
    this.events.push("started");
  }
  cancelEnded(outcome: CancelOutcome): void {
    this.events.push(outcome);
  }
}

describe("sendCancel", () => {
  test("sends the 16-byte CancelRequest and reports 'signaled' only once the server closed", async () => {
    const fake = fakePostgres("close_late");
    const t0 = performance.now();
    expect(await sendCancel(nodeOf(fake), PID, KEY)).toBe("signaled");
    // The server closes 80 ms after reading: a report before that would not prove the signal was sent.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    expect(fake.cancels).toEqual([cancelRequest(PID, KEY)]);
  });

  test("a refused connection is 'not_sent'", async () => {
    const fake = fakePostgres();
    const port = fake.port;
    listeners.pop()!.stop(true);
    expect(await sendCancel({ name: "gone", host: "127.0.0.1", port }, PID, KEY)).toBe("not_sent");
  });

  test("a server that never closes, or resets, leaves the outcome 'unknown'", async () => {
    const silent = fakePostgres("silent");
    expect(await sendCancel(nodeOf(silent), PID, KEY, 100)).toBe("unknown");
    const reset = fakePostgres("reset");
    expect(await sendCancel(nodeOf(reset), PID, KEY)).toBe("unknown");
  });
});

/** A ServerConn logged in to `fake` (no authentication asked), idle and unattached. */
async function connectTo(fake: Fake): Promise<ServerConn> {
  const conn = await ServerConn.connect(nodeOf(fake), new Map([["user", "alice"], ["database", "app"]]), { mode: "disable", ca: "", serverName: "" }, 2000, 1 << 20);
  await conn.completeStartup();
  return conn;
}

/** Resolves with whenCancelsSpent's verdict, or "pending" if none came within `ms`. */
function verdict(conn: ServerConn, ms = 150): Promise<boolean | "pending"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("pending"), ms);
    conn.cancels.whenSpent((ok) => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

const queriesSent = (fake: Fake): string[] => fake.frames.filter((f) => f.type === "Q").map((f) => new TextDecoder().decode(f.body));

describe("ServerConn after a cancel toward its backend", () => {
  test("registers its backend for cancels while open, and forgets it on close", async () => {
    const fake = fakePostgres();
    const before = watchedBackends();
    const conn = await connectTo(fake);
    expect(watchedBackends()).toBe(before + 1);
    conn.destroy();
    expect(watchedBackends()).toBe(before);
  });

  test("without a cancel it is free at once, with no query sent", async () => {
    const fake = fakePostgres();
    const conn = await connectTo(fake);
    expect(conn.cancels.mayLand).toBe(false);
    expect(await verdict(conn)).toBe(true);
    expect(queriesSent(fake)).toEqual([]);
    conn.destroy();
  });

  test("waits for the cancel connection to close, then for an empty Query's round trip (57014 there is fine)", async () => {
    const fake = fakePostgres("close_late");
    const conn = await connectTo(fake);
    let answer: (() => void) | null = null;
    fake.onQuery = (_sql, reply) => (answer = () => reply(canceledError, READY_IDLE));
    const cancel = sendCancel(conn.node, PID, KEY);
    expect(conn.cancels.mayLand).toBe(true);
    const result = verdict(conn, 2000);
    await Bun.sleep(40);
    expect(queriesSent(fake)).toEqual([]); // the cancel connection is still open: no fence yet
    expect(await cancel).toBe("signaled");
    await Bun.sleep(20);
    expect(queriesSent(fake)).toEqual([String.fromCharCode(0)]); // an empty Query
    answer!();
    expect(await result).toBe(true);
    expect(conn.cancels.mayLand).toBe(false);
    conn.destroy();
  });

  test("a cancel whose outcome is unknown makes it unusable", async () => {
    const fake = fakePostgres("reset");
    const conn = await connectTo(fake);
    expect(await sendCancel(conn.node, PID, KEY)).toBe("unknown");
    expect(await verdict(conn)).toBe(false);
    expect(queriesSent(fake)).toEqual([]);
    conn.destroy();
  });

  test("a connection that closes during the fence is given back as unusable", async () => {
    const fake = fakePostgres("close");
    const conn = await connectTo(fake);
    fake.onQuery = () => fake.backend?.end(); // never answers the empty Query
    expect(await sendCancel(conn.node, PID, KEY)).toBe("signaled");
    expect(await verdict(conn, 2000)).toBe(false);
  });

  test("a cancel for another process ID leaves it alone", async () => {
    const fake = fakePostgres("close");
    const conn = await connectTo(fake);
    expect(await sendCancel(conn.node, PID + 1, KEY)).toBe("signaled");
    expect(conn.cancels.mayLand).toBe(false);
    conn.destroy();
  });
});

describe("watchCancels", () => {
  test("tells the registered target of that node and process ID, once per cancel; only its owner unregisters it", async () => {
    const fake = fakePostgres("close");
    const node = nodeOf(fake);
    const target = new RecordingTarget();
    const stranger = new RecordingTarget();
    watchCancels(node, 7, target);
    unwatchCancels(node, 7, stranger);
    await sendCancel(node, 7, KEY);
    await sendCancel({ ...node }, 7, KEY); // another NodeTarget object: not this backend's connection
    expect(target.events).toEqual(["started", "signaled"]);
    unwatchCancels(node, 7, target);
    await sendCancel(node, 7, KEY);
    expect(target.events).toEqual(["started", "signaled"]);
    expect(stranger.events).toEqual([]);
  });
});

/** A connection as the fence sees it, recording what the fence asks of it. */
class FakeConn implements Fenceable {
  isClosed = false;
  readonly sent: string[] = [];
  readonly expected: string[] = [];
  resumed = 0;
  private answers: ((ok: boolean) => void)[] = [];
  resume(): void {
    this.resumed++;
  }
  destroy(): void {
    this.isClosed = true;
  }
  sendInternal(sql: string, _onRow: undefined, done: (ok: boolean) => void, expectedCode: string): void {
    this.sent.push(sql);
    this.expected.push(expectedCode);
    this.answers.push(done);
  }
  /** The server's ReadyForQuery for the oldest internal query. */
  answer(ok = true): void {
    this.answers.shift()!(ok);
  }
}

describe("CancelFence (no sockets)", () => {
  const setup = () => {
    const conn = new FakeConn();
    const fence = new CancelFence(conn);
    const verdicts: boolean[] = [];
    return { conn, fence, verdicts, wait: () => fence.whenSpent((ok) => verdicts.push(ok)) };
  };

  test("cancels in flight hold it; after they end 'signaled', one empty Query (57014 expected) frees it", () => {
    const { conn, fence, verdicts, wait } = setup();
    fence.cancelStarted();
    fence.cancelStarted();
    expect(fence.mayLand).toBe(true);
    wait();
    fence.cancelEnded("signaled");
    expect(conn.sent).toEqual([]); // one still in flight
    fence.cancelEnded("signaled");
    expect(conn.sent).toEqual([""]);
    expect(conn.expected).toEqual(["57014"]);
    expect(conn.resumed).toBe(1);
    expect(verdicts).toEqual([]);
    conn.answer(false); // the empty Query itself was cancelled: the signal is spent
    expect(verdicts).toEqual([true]);
    expect(fence.mayLand).toBe(false);
  });

  test("a cancel that never reached the server needs no fence", () => {
    const { conn, fence, verdicts, wait } = setup();
    fence.cancelStarted();
    wait();
    fence.cancelEnded("not_sent");
    expect(conn.sent).toEqual([]);
    expect(verdicts).toEqual([true]);
  });

  test("a cancel that ended before the release still costs one fence", () => {
    const { conn, fence, verdicts, wait } = setup();
    fence.cancelStarted();
    fence.cancelEnded("signaled");
    wait();
    expect(conn.sent).toEqual([""]);
    conn.answer();
    expect(verdicts).toEqual([true]);
    // The next release of the same connection is free again.
    wait();
    expect(verdicts).toEqual([true, true]);
    expect(conn.sent).toEqual([""]);
  });

  test("an 'unknown' outcome among several makes it unusable, once all have ended", () => {
    const { conn, fence, verdicts, wait } = setup();
    fence.cancelStarted();
    fence.cancelStarted();
    fence.cancelEnded("unknown");
    wait();
    expect(verdicts).toEqual([false]);
    fence.cancelEnded("signaled");
    expect(verdicts).toEqual([false]);
    expect(conn.sent).toEqual([]);
  });

  test("closing during the fence ends it unusable, once", () => {
    const { conn, fence, verdicts, wait } = setup();
    fence.cancelStarted();
    fence.cancelEnded("signaled");
    wait();
    conn.isClosed = true;
    fence.connectionClosed();
    expect(verdicts).toEqual([false]);
    conn.answer();
    expect(verdicts).toEqual([false]);
  });
});
