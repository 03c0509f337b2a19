// PoolCore without sockets: who gets which connection and when, FIFO fairness, hand-over on
// release, shrinking, open failures, deadlines, adoption; then a seeded random run of 10,000
// operations that plays the shell's part (as src/pool/pools.ts does) and checks the invariants.

import { prng } from "../prng.ts";
import { describe, expect, test } from "bun:test";
import { PoolCore, type Waiter } from "../../../src/pool/pool-core.ts";

interface Conn {
  id: number;
}

interface TestWaiter extends Waiter<Conn> {
  readonly id: number;
  grants: { conn: Conn | null; error?: Error }[];
}

let nextWaiter = 1;
function waiter(deadline = Number.MAX_SAFE_INTEGER, enqueuedAt = 0): TestWaiter {
  const w: TestWaiter = {
    id: nextWaiter++,
    enqueuedAt,
    deadline,
    grants: [],
    grant(conn, error) {
      w.grants.push({ conn, error });
    },
  };
  return w;
}

let nextConn = 1;
const conn = (): Conn => ({ id: nextConn++ });

/** A pool of `size` holding `n` connections, all idle, pushed in order (the last is the warmest). */
function poolWithIdle(size: number, n: number): { pool: PoolCore<Conn>; conns: Conn[] } {
  const pool = new PoolCore<Conn>(size);
  const conns: Conn[] = [];
  for (let i = 0; i < n; i++) {
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
    pool.opened();
    conns.push(conn());
  }
  for (const c of conns) expect(pool.release(c, true)).toBe("idle");
  return { pool, conns };
}

function counts(pool: PoolCore<Conn>) {
  return { idle: pool.idleCount, active: pool.active, connecting: pool.connecting, waiting: pool.waiting, total: pool.total };
}

describe("acquire", () => {
  test("reserves open slots up to size, then queues", () => {
    const pool = new PoolCore<Conn>(2);
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 2, waiting: 0, total: 2 });
    expect(pool.acquire(waiter())).toEqual({ kind: "queued" });
    expect(pool.acquire(waiter())).toEqual({ kind: "queued" });
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 2, waiting: 2, total: 2 });
    pool.opened();
    expect(counts(pool)).toEqual({ idle: 0, active: 1, connecting: 1, waiting: 2, total: 2 });
  });

  test("returns an idle connection before opening a new one, warmest (last released) first", () => {
    const { pool, conns } = poolWithIdle(5, 3);
    expect(counts(pool)).toEqual({ idle: 3, active: 0, connecting: 0, waiting: 0, total: 3 });
    expect(pool.acquire(waiter())).toEqual({ kind: "conn", conn: conns[2] });
    expect(pool.acquire(waiter())).toEqual({ kind: "conn", conn: conns[1] });
    expect(pool.acquire(waiter())).toEqual({ kind: "conn", conn: conns[0] });
    expect(counts(pool)).toEqual({ idle: 0, active: 3, connecting: 0, waiting: 0, total: 3 });
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
  });

  test("idleConnections lists the coldest first", () => {
    const { pool, conns } = poolWithIdle(5, 3);
    expect([...pool.idleConnections]).toEqual(conns);
  });

  test("a newcomer queues behind waiters even when there is room to open", () => {
    // Size 2, both slots busy, one waiter; a slot frees up by a failed open while something is
    // active (waiters stay queued). A newcomer must not get that slot ahead of the queued waiter.
    const pool = new PoolCore<Conn>(2);
    pool.acquire(waiter());
    pool.opened();
    pool.acquire(waiter());
    const queued = waiter();
    expect(pool.acquire(queued)).toEqual({ kind: "queued" });
    expect(pool.openFailed()).toEqual([]);
    expect(pool.total).toBe(1);
    expect(pool.acquire(waiter())).toEqual({ kind: "queued" });
    expect(pool.waiting).toBe(2);
    // The slot goes to the head of the queue.
    expect(pool.reserveForWaiter()).toBe(queued);
  });

  test("a newcomer queues behind waiters after a size increase (before reserveForWaiter runs)", () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    const first = waiter();
    pool.acquire(first);
    pool.size = 3;
    const late = waiter();
    expect(pool.acquire(late)).toEqual({ kind: "queued" });
    expect(pool.reserveForWaiter()).toBe(first);
    expect(pool.reserveForWaiter()).toBe(late);
    expect(pool.reserveForWaiter()).toBeNull();
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 3, waiting: 0, total: 3 });
  });
});

describe("release", () => {
  test("hands the connection to the head waiter, in FIFO order, still counted active", () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    pool.opened();
    const c = conn();
    const [w1, w2, w3] = [waiter(), waiter(), waiter()];
    for (const w of [w1, w2, w3]) expect(pool.acquire(w)).toEqual({ kind: "queued" });
    expect(pool.release(c, true)).toBe(w1);
    expect(counts(pool)).toEqual({ idle: 0, active: 1, connecting: 0, waiting: 2, total: 1 });
    expect(pool.release(c, true)).toBe(w2);
    expect(pool.release(c, true)).toBe(w3);
    expect(pool.release(c, true)).toBe("idle");
    expect(counts(pool)).toEqual({ idle: 1, active: 0, connecting: 0, waiting: 0, total: 1 });
    // The core never calls grant itself: the shell does, with what release() returned.
    expect(w1.grants).toEqual([]);
  });

  test("keeps the connection idle when nobody waits", () => {
    const pool = new PoolCore<Conn>(3);
    pool.acquire(waiter());
    pool.opened();
    const c = conn();
    expect(pool.release(c, true)).toBe("idle");
    expect([...pool.idleConnections]).toEqual([c]);
    expect(pool.acquire(waiter())).toEqual({ kind: "conn", conn: c });
  });

  test('"drop" for a connection that is not reusable, even with waiters; reserveForWaiter then opens for the head', () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    pool.opened();
    const [w1, w2] = [waiter(), waiter()];
    pool.acquire(w1);
    pool.acquire(w2);
    expect(pool.release(conn(), false)).toBe("drop");
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 0, waiting: 2, total: 0 });
    expect(pool.reserveForWaiter()).toBe(w1);
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 1, waiting: 1, total: 1 });
    // Full again: the second waiter keeps waiting.
    expect(pool.reserveForWaiter()).toBeNull();
    expect(pool.waiting).toBe(1);
  });

  test('"drop" when the pool shrank below its current total, even with waiters, until back under size', () => {
    const pool = new PoolCore<Conn>(3);
    const cs = [conn(), conn(), conn()];
    for (let i = 0; i < 3; i++) {
      pool.acquire(waiter());
      pool.opened();
    }
    const w = waiter();
    pool.acquire(w);
    pool.size = 1;
    expect(pool.release(cs[0], true)).toBe("drop");
    expect(pool.reserveForWaiter()).toBeNull();
    expect(pool.release(cs[1], true)).toBe("drop");
    expect(pool.reserveForWaiter()).toBeNull();
    expect(pool.total).toBe(1);
    // Now at size: the last one is handed over instead of dropped.
    expect(pool.release(cs[2], true)).toBe(w);
    expect(counts(pool)).toEqual({ idle: 0, active: 1, connecting: 0, waiting: 0, total: 1 });
  });

  test('"drop" instead of idle when the pool shrank and nobody waits', () => {
    const pool = new PoolCore<Conn>(2);
    const [a, b] = [conn(), conn()];
    pool.acquire(waiter());
    pool.opened();
    pool.acquire(waiter());
    pool.opened();
    pool.size = 1;
    expect(pool.release(a, true)).toBe("drop");
    expect(pool.release(b, true)).toBe("idle");
    expect(counts(pool)).toEqual({ idle: 1, active: 0, connecting: 0, waiting: 0, total: 1 });
  });
});

describe("removeIdle and reserveForWaiter", () => {
  test("removeIdle removes only connections that are idle", () => {
    const { pool, conns } = poolWithIdle(3, 2);
    expect(pool.removeIdle(conn())).toBe(false);
    expect(pool.removeIdle(conns[0])).toBe(true);
    expect(pool.removeIdle(conns[0])).toBe(false);
    expect([...pool.idleConnections]).toEqual([conns[1]]);
    expect(pool.total).toBe(1);
  });

  test("reserveForWaiter with nobody waiting reserves nothing", () => {
    const pool = new PoolCore<Conn>(2);
    expect(pool.reserveForWaiter()).toBeNull();
    expect(pool.connecting).toBe(0);
  });
});

describe("openFailed", () => {
  test("fails every waiter when nothing is active or idle", () => {
    const pool = new PoolCore<Conn>(1);
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
    const [w1, w2] = [waiter(), waiter()];
    pool.acquire(w1);
    pool.acquire(w2);
    expect(pool.openFailed()).toEqual([w1, w2]);
    expect(counts(pool)).toEqual({ idle: 0, active: 0, connecting: 0, waiting: 0, total: 0 });
  });

  test("keeps waiters queued while a connection is active (it will be handed over)", () => {
    const pool = new PoolCore<Conn>(2);
    pool.acquire(waiter());
    pool.opened();
    pool.acquire(waiter());
    const w = waiter();
    pool.acquire(w);
    expect(pool.openFailed()).toEqual([]);
    expect(counts(pool)).toEqual({ idle: 0, active: 1, connecting: 0, waiting: 1, total: 1 });
    expect(pool.release(conn(), true)).toBe(w);
  });

  test("with nobody waiting just frees the slot", () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    expect(pool.openFailed()).toEqual([]);
    expect(pool.total).toBe(0);
    expect(pool.acquire(waiter())).toEqual({ kind: "open" });
  });
});

describe("expire and cancel", () => {
  function fullPoolWith(ws: TestWaiter[]): PoolCore<Conn> {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    for (const w of ws) expect(pool.acquire(w)).toEqual({ kind: "queued" });
    return pool;
  }

  test("removes exactly the waiters whose deadline is at or before now (sorted deadlines)", () => {
    const ws = [waiter(100), waiter(200), waiter(300)];
    const pool = fullPoolWith(ws);
    expect(pool.expire(99)).toEqual([]);
    expect(pool.expire(200)).toEqual([ws[0], ws[1]]);
    expect(pool.waiting).toBe(1);
    expect(pool.reserveForWaiter()).toBeNull();
    expect(pool.release(conn(), true)).toBe(ws[2]);
  });

  test("finds expired waiters anywhere in the queue when deadlines are unsorted (timeout changed on reload)", () => {
    const ws = [waiter(500), waiter(100), waiter(400), waiter(50), waiter(900)];
    const pool = fullPoolWith(ws);
    const expired = pool.expire(400);
    expect(new Set(expired)).toEqual(new Set([ws[1], ws[2], ws[3]]));
    expect(expired.length).toBe(3);
    expect(pool.waiting).toBe(2);
    // The survivors keep their FIFO order.
    expect(pool.release(conn(), true)).toBe(ws[0]);
    expect(pool.release(conn(), true)).toBe(ws[4]);
  });

  test("an expired head followed by unsorted deadlines", () => {
    const ws = [waiter(10), waiter(20), waiter(1000), waiter(30), waiter(2000), waiter(5)];
    const pool = fullPoolWith(ws);
    const expired = pool.expire(30);
    expect(new Set(expired)).toEqual(new Set([ws[0], ws[1], ws[3], ws[5]]));
    expect(expired.length).toBe(4);
    expect(pool.release(conn(), true)).toBe(ws[2]);
    expect(pool.release(conn(), true)).toBe(ws[4]);
    expect(pool.release(conn(), true)).toBe("idle");
  });

  test("cancel removes a queued waiter once; FIFO order of the rest holds", () => {
    const ws = [waiter(), waiter(), waiter()];
    const pool = fullPoolWith(ws);
    expect(pool.cancel(ws[1])).toBe(true);
    expect(pool.cancel(ws[1])).toBe(false);
    expect(pool.cancel(waiter())).toBe(false);
    expect(pool.waiting).toBe(2);
    expect(pool.release(conn(), true)).toBe(ws[0]);
    expect(pool.release(conn(), true)).toBe(ws[2]);
  });
});

describe("adopt", () => {
  test("keeps a connection idle when there is room", () => {
    const pool = new PoolCore<Conn>(1);
    expect(pool.canAdopt).toBe(true);
    const c = conn();
    expect(pool.adopt(c)).toBeNull();
    expect(counts(pool)).toEqual({ idle: 1, active: 0, connecting: 0, waiting: 0, total: 1 });
    expect(pool.canAdopt).toBe(false);
    expect(pool.acquire(waiter())).toEqual({ kind: "conn", conn: c });
  });

  test("hands the connection to the head waiter when a slot is free", () => {
    const pool = new PoolCore<Conn>(2);
    pool.acquire(waiter());
    pool.opened(); // one active
    pool.acquire(waiter()); // reserves the second slot
    const [w1, w2] = [waiter(), waiter()];
    pool.acquire(w1);
    pool.acquire(w2);
    // The reserved slot fails while a connection is active: waiters stay queued, a slot is free.
    expect(pool.openFailed()).toEqual([]);
    expect(pool.canAdopt).toBe(true);
    expect(pool.adopt(conn())).toBe(w1);
    expect(pool.waiting).toBe(1);
    expect(pool.total).toBeLessThanOrEqual(pool.size);
  });

  test("cannot adopt into a full pool with nobody waiting", () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    expect(pool.canAdopt).toBe(false);
  });

  test("a full pool never adopts, even with waiters: pool.size is a hard cap", () => {
    const pool = new PoolCore<Conn>(1);
    pool.acquire(waiter());
    pool.opened();
    pool.acquire(waiter());
    expect(pool.waiting).toBe(1);
    expect(pool.canAdopt).toBe(false);
  });
});

// --- seeded random operations -------------------------------------------------------------


type Fate = "queued" | "granted" | "failed" | "expired" | "cancelled" | "opening";

/**
 * Plays the shell against a PoolCore: `strictAdopt` adopts only with room (total <= size must
 * then hold whenever size was never lowered); otherwise adopts whenever canAdopt.
 */
function randomRun(seed: number, ops: number, opts: { shrink: boolean; strictAdopt: boolean }): string[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const problems: string[] = [];
  const fail = (step: number, op: string, msg: string): void => {
    if (problems.length < 10) problems.push(`seed ${seed} step ${step} (${op}): ${msg}`);
  };

  let size = 1 + Math.floor(rand() * 6);
  const pool = new PoolCore<Conn>(size);
  let now = 0;
  const active = new Set<Conn>(); // held by clients
  const idle: Conn[] = []; // our mirror of the core's idle list
  const opening: TestWaiter[] = []; // reserved slots being opened (shell side)
  const queue: TestWaiter[] = []; // our mirror of the FIFO
  const fate = new Map<TestWaiter, Fate>();
  const all: TestWaiter[] = [];
  let grantsGiven = 0;

  const give = (w: TestWaiter, c: Conn | null, step: number, op: string): void => {
    if (w.grants.length > 0) fail(step, op, `waiter ${w.id} granted twice`);
    w.grant(c, c ? undefined : new Error("x"));
    grantsGiven++;
  };
  const takeHead = (w: TestWaiter | null, step: number, op: string): void => {
    if (!w) return;
    const head = queue.shift();
    if (head !== w) fail(step, op, `got waiter ${w.id}, expected queue head ${head?.id}`);
  };

  for (let step = 0; step < ops; step++) {
    const before = pool.total;
    const r = rand();
    let op: string;
    if (r < 0.3) {
      op = "acquire";
      const w = waiter(now + 1 + Math.floor(rand() * 50), now);
      all.push(w);
      const res = pool.acquire(w);
      if (res.kind === "conn") {
        if (queue.length > 0) fail(step, op, "idle conn handed out while others wait");
        if (idle.pop() !== res.conn) fail(step, op, "not the warmest idle connection");
        active.add(res.conn);
        fate.set(w, "granted");
        give(w, res.conn, step, op);
      } else if (res.kind === "open") {
        if (queue.length > 0) fail(step, op, "open reserved while others wait");
        opening.push(w);
        fate.set(w, "opening");
      } else {
        queue.push(w);
        fate.set(w, "queued");
      }
    } else if (r < 0.42) {
      op = "open-done";
      if (opening.length === 0) continue;
      const w = opening.splice(Math.floor(rand() * opening.length), 1)[0];
      if (rand() < 0.85) {
        pool.opened();
        const c = conn();
        active.add(c);
        fate.set(w, "granted");
        give(w, c, step, op);
      } else {
        op = "open-failed";
        fate.set(w, "failed");
        give(w, null, step, op);
        const failed = pool.openFailed() as TestWaiter[];
        if (failed.length > 0) {
          if (active.size > 0 || idle.length > 0) fail(step, op, "waiters failed while connections exist");
          if (failed.length !== queue.length || failed.some((x, i) => x !== queue[i])) fail(step, op, "did not fail the whole queue in order");
          queue.length = 0;
          for (const x of failed) {
            fate.set(x, "failed");
            give(x, null, step, op);
          }
        }
      }
    } else if (r < 0.72) {
      op = "release";
      if (active.size === 0) continue;
      const c = pick([...active]);
      active.delete(c);
      const reusable = rand() < 0.9;
      const res = pool.release(c, reusable);
      if (res !== "drop" && pool.total > size) fail(step, op, `kept a connection with total ${pool.total} over size ${size}`);
      if (res === "idle") {
        if (queue.length > 0) fail(step, op, "went idle while others wait");
        if (!reusable) fail(step, op, "kept a connection that is not reusable");
        idle.push(c);
      } else if (res === "drop") {
        if (reusable && pool.total < size) fail(step, op, "dropped a reusable connection with room");
        const w = pool.reserveForWaiter() as TestWaiter | null;
        takeHead(w, step, op);
        if (w) {
          opening.push(w);
          fate.set(w, "opening");
        }
      } else {
        const w = res as TestWaiter;
        if (!reusable) fail(step, op, "handed over a connection that is not reusable");
        takeHead(w, step, op);
        active.add(c);
        fate.set(w, "granted");
        give(w, c, step, op);
      }
    } else if (r < 0.78) {
      op = "idle-close";
      if (idle.length === 0) continue;
      const c = idle.splice(Math.floor(rand() * idle.length), 1)[0];
      if (!pool.removeIdle(c)) fail(step, op, "idle connection not found");
      const w = pool.reserveForWaiter() as TestWaiter | null;
      takeHead(w, step, op);
      if (w) {
        opening.push(w);
        fate.set(w, "opening");
      }
    } else if (r < 0.83) {
      op = "adopt";
      const room = pool.total < size;
      if (!pool.canAdopt || (opts.strictAdopt && !room)) continue;
      const c = conn();
      const w = pool.adopt(c) as TestWaiter | null;
      if (w) {
        takeHead(w, step, op);
        active.add(c);
        fate.set(w, "granted");
        give(w, c, step, op);
      } else {
        if (queue.length > 0) fail(step, op, "adopted into idle while others wait");
        if (!room) fail(step, op, "adopted into a full pool with nobody waiting");
        idle.push(c);
      }
      if (!room && pool.total !== before + 1) fail(step, op, "adopt into a full pool should add exactly one");
    } else if (r < 0.9) {
      op = "expire";
      now += Math.floor(rand() * 20);
      const expired = pool.expire(now) as TestWaiter[];
      const expected = queue.filter((w) => w.deadline <= now);
      if (expired.length !== expected.length || !expected.every((w) => expired.includes(w))) fail(step, op, "wrong set expired");
      for (const w of expired) {
        fate.set(w, "expired");
        give(w, null, step, op);
      }
      const rest = queue.filter((w) => w.deadline > now);
      queue.length = 0;
      queue.push(...rest);
    } else if (r < 0.95) {
      op = "cancel";
      if (queue.length === 0) continue;
      const w = queue.splice(Math.floor(rand() * queue.length), 1)[0];
      if (!pool.cancel(w)) fail(step, op, "queued waiter not found");
      fate.set(w, "cancelled");
    } else {
      op = "resize";
      // The sweep: new size, drop surplus idle connections, then reserve for the head waiter.
      size = opts.shrink ? 1 + Math.floor(rand() * 6) : Math.max(size, 1 + Math.floor(rand() * 8));
      pool.size = size;
      while (idle.length > 0 && pool.total > size) pool.removeIdle(idle.shift()!);
      for (let w = pool.reserveForWaiter() as TestWaiter | null; w; w = pool.reserveForWaiter() as TestWaiter | null) {
        takeHead(w, step, op);
        opening.push(w);
        fate.set(w, "opening");
      }
    }

    // Invariants after every operation.
    const mirror = idle.length + active.size + opening.length;
    if (pool.total !== mirror) fail(step, op, `total ${pool.total} != idle+active+connecting ${mirror}`);
    if (pool.total !== pool.idleCount + pool.active + pool.connecting) fail(step, op, "total is not the sum of its parts");
    if (pool.idleCount !== idle.length || pool.active !== active.size || pool.connecting !== opening.length) {
      fail(step, op, `counts idle ${pool.idleCount}/${idle.length} active ${pool.active}/${active.size} connecting ${pool.connecting}/${opening.length}`);
    }
    if (pool.waiting !== queue.length) fail(step, op, `waiting ${pool.waiting} != ${queue.length}`);
    if (pool.idleCount > 0 && pool.waiting > 0) fail(step, op, "a client waits while a connection is idle");
    if (pool.idleCount < 0 || pool.active < 0 || pool.connecting < 0) fail(step, op, "negative count");
    // Nothing but adopt() may take the pool over max(size, where it already was).
    if (op !== "adopt" && pool.total > Math.max(size, before)) fail(step, op, `total ${pool.total} grew past size ${size}`);
    if (opts.strictAdopt && !opts.shrink && pool.total > size) fail(step, op, `total ${pool.total} > size ${size}`);
  }

  // Drain: finish every open, release everything, sweep; nobody may be left waiting.
  for (let guard = 0; guard < 10_000 && (opening.length > 0 || active.size > 0 || queue.length > 0); guard++) {
    const w = opening.shift();
    if (w) {
      pool.opened();
      const c = conn();
      active.add(c);
      fate.set(w, "granted");
      give(w, c, ops, "drain");
      continue;
    }
    const c = active.values().next().value;
    if (c) {
      active.delete(c);
      const res = pool.release(c, true);
      if (res === "idle") idle.push(c);
      else if (res !== "drop") {
        takeHead(res as TestWaiter, ops, "drain");
        active.add(c);
        fate.set(res as TestWaiter, "granted");
        give(res as TestWaiter, c, ops, "drain");
      }
    }
    for (let x = pool.reserveForWaiter() as TestWaiter | null; x; x = pool.reserveForWaiter() as TestWaiter | null) {
      takeHead(x, ops, "drain");
      opening.push(x);
      fate.set(x, "opening");
    }
  }
  if (queue.length > 0 || pool.waiting > 0) fail(ops, "drain", `${pool.waiting} waiters stranded`);

  // Every waiter was granted exactly once, unless it cancelled.
  let granted = 0;
  for (const w of all) {
    const f = fate.get(w);
    const expected = f === "cancelled" ? 0 : 1;
    if (w.grants.length !== expected) fail(ops, "end", `waiter ${w.id} (${f}) granted ${w.grants.length} times`);
    if ((f === "granted") !== (w.grants[0]?.conn != null)) fail(ops, "end", `waiter ${w.id} (${f}) grant does not match`);
    granted += w.grants.length;
  }
  if (granted !== grantsGiven) fail(ops, "end", "grant count mismatch");
  if (all.length < ops / 5) fail(ops, "end", `only ${all.length} waiters: the run exercised too little`);
  return problems;
}

describe("random operations (seeded)", () => {
  test("10,000 ops with fixed or growing size and adopt only with room: total never exceeds size", () => {
    expect(randomRun(0xc0ffee, 10_000, { shrink: false, strictAdopt: true })).toEqual([]);
  });

  test("10,000 ops with shrinking size and adopt whenever canAdopt: only adopt ever grows the pool past size", () => {
    expect(randomRun(0x5eed, 10_000, { shrink: true, strictAdopt: false })).toEqual([]);
  });

  test("more seeds, shorter runs", () => {
    const problems: string[] = [];
    for (let seed = 1; seed <= 20; seed++) problems.push(...randomRun(seed, 2_000, { shrink: seed % 2 === 0, strictAdopt: seed % 3 !== 0 }));
    expect(problems).toEqual([]);
  });
});

describe("login slots (connections a login opens itself count against size)", () => {
  test("full with idle connections: the coldest is taken out; full with active ones: null", () => {
    const core = new PoolCore<Conn>(1);
    expect(core.reserveSlot()).toBe("slot");
    const a = { id: 1 };
    core.slotAdopt(a);
    expect(core.idleCount).toBe(1);
    expect(core.reserveSlot()).toEqual({ evict: a });
    expect(core.idleCount).toBe(0);
    expect(core.total).toBe(1);
    expect(core.reserveSlot()).toBeNull();
    core.slotRelease();
    expect(core.total).toBe(0);
  });

  test("a queued login handed a returned connection turns it into its slot; the total never exceeds size", () => {
    const core = new PoolCore<Conn>(1);
    const r = core.acquire(waiter());
    expect(r.kind).toBe("open");
    core.opened();
    const login = { ...waiter(), wantsSlot: true as const };
    expect(core.reserveSlot()).toBeNull();
    expect(core.acquire(login).kind).toBe("queued");
    const c = { id: 7 };
    expect(core.release(c, true)).toBe(login);
    core.slotFromActive();
    expect(core.active).toBe(0);
    expect(core.connecting).toBe(1);
    expect(core.total).toBe(1);
    expect(core.slotAdopt({ id: 8 })).toBeNull();
    expect(core.idleCount).toBe(1);
  });

  test("nobody queued is overtaken by a login", () => {
    const core = new PoolCore<Conn>(1);
    core.acquire(waiter());
    core.opened();
    core.acquire(waiter());
    expect(core.reserveSlot()).toBeNull();
  });
});

describe("reserve (PgBouncer's reserve_pool_size / reserve_pool_timeout)", () => {
  /** A pool of `size` with every slot lent out (active), reserve `reserve`. */
  function fullPool(size: number, reserve: number, canGrow?: () => boolean): PoolCore<Conn> {
    const pool = new PoolCore<Conn>(size, canGrow);
    pool.reserveSize = reserve;
    for (let i = 0; i < size; i++) {
      expect(pool.acquire(waiter()).kind).toBe("open");
      pool.opened();
    }
    return pool;
  }

  test("nothing beyond size before the head waiter has waited the timeout; then one slot per call, up to the reserve", () => {
    const pool = fullPool(2, 2);
    const w3 = waiter(Number.MAX_SAFE_INTEGER, 1000);
    const w4 = waiter(Number.MAX_SAFE_INTEGER, 1100);
    const w5 = waiter(Number.MAX_SAFE_INTEGER, 1200);
    for (const w of [w3, w4, w5]) expect(pool.acquire(w)).toEqual({ kind: "queued" });
    expect(pool.reserveBeyondSize(1299, 300)).toBeNull();
    expect(pool.reserveInUse).toBe(0);
    // w3 has waited 300 ms: its slot; w4 only 200 ms: not yet.
    expect(pool.reserveBeyondSize(1300, 300)).toBe(w3);
    expect(pool.reserveBeyondSize(1300, 300)).toBeNull();
    expect(counts(pool)).toEqual({ idle: 0, active: 2, connecting: 1, waiting: 2, total: 3 });
    expect(pool.reserveBeyondSize(1400, 300)).toBe(w4);
    // The reserve is spent: w5 waits for a connection to come back.
    expect(pool.reserveBeyondSize(10_000, 300)).toBeNull();
    expect(pool.total).toBe(4);
    expect(pool.reserveInUse).toBe(2);
    expect(pool.reserveUsedTotal).toBe(2);
    expect(pool.waiting).toBe(1);
  });

  test("reserve_size 0 or timeout 0 disables it; a pool with room of its own does not use it", () => {
    const none = fullPool(1, 0);
    none.acquire(waiter(Number.MAX_SAFE_INTEGER, 0));
    expect(none.reserveBeyondSize(1_000_000, 1)).toBeNull();
    const off = fullPool(1, 5);
    off.acquire(waiter(Number.MAX_SAFE_INTEGER, 0));
    expect(off.reserveBeyondSize(1_000_000, 0)).toBeNull();
    const roomy = new PoolCore<Conn>(2);
    roomy.reserveSize = 2;
    expect(roomy.reserveBeyondSize(1_000_000, 1)).toBeNull(); // nobody waits
  });

  test("still bounded by the node budget (canGrow)", () => {
    let room = true;
    const pool = fullPool(1, 3, () => room);
    pool.acquire(waiter(Number.MAX_SAFE_INTEGER, 0));
    room = false;
    expect(pool.reserveBeyondSize(500, 100)).toBeNull();
    room = true;
    expect(pool.reserveBeyondSize(500, 100)).not.toBeNull();
  });

  test("a connection beyond size serves whoever waits, and is closed (not kept idle) once nobody does", () => {
    const pool = fullPool(1, 1);
    const late = waiter(Number.MAX_SAFE_INTEGER, 0);
    const next = waiter(Number.MAX_SAFE_INTEGER, 400);
    pool.acquire(late);
    pool.acquire(next);
    expect(pool.reserveBeyondSize(500, 100)).toBe(late);
    pool.opened();
    expect(pool.total).toBe(2);
    // First release: `next` still waits, so the connection goes to it (any connection: the pool is over size).
    const a = conn();
    expect(pool.release(a, true)).toBe(next);
    expect(pool.total).toBe(2);
    // Nobody waits: the next one back is dropped (the pool returns to size), the last kept idle.
    expect(pool.release(a, true)).toBe("drop");
    expect(pool.total).toBe(1);
    expect(pool.reserveInUse).toBe(0);
    expect(pool.release(conn(), true)).toBe("idle");
    expect(counts(pool)).toEqual({ idle: 1, active: 0, connecting: 0, waiting: 0, total: 1 });
  });

  test("the reserve shrinking (reload) drops connections beyond size + reserve even with waiters", () => {
    const pool = fullPool(1, 1);
    pool.acquire(waiter(Number.MAX_SAFE_INTEGER, 0));
    pool.acquire(waiter(Number.MAX_SAFE_INTEGER, 0));
    expect(pool.reserveBeyondSize(100, 50)).not.toBeNull();
    pool.opened();
    pool.reserveSize = 0;
    expect(pool.release(conn(), true)).toBe("drop");
    expect(pool.total).toBe(1);
    expect(pool.waiting).toBe(1);
  });
});
