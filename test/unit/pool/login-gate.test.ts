// LoginGate: at most `limit` slots per key, FIFO hand-over, waiters whose client left removed at once.
import { describe, expect, test } from "bun:test";
import { GateAbandoned, LoginGate } from "../../../src/pool/login-gate.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));
const live = () => new AbortController().signal;

describe("LoginGate", () => {
  test("grants up to the limit at once, then FIFO as slots are released", async () => {
    let limit = 2;
    const gate = new LoginGate<string>(() => limit);
    const r1 = await gate.acquire("p", live());
    const r2 = await gate.acquire("p", live());
    const order: number[] = [];
    const later = [3, 4, 5].map((i) => gate.acquire("p", live()).then((rel) => (order.push(i), rel)));
    await tick();
    expect(gate.inUse("p")).toBe(2);
    expect(gate.waiting("p")).toBe(3);
    r1();
    r1(); // a second release of the same slot is harmless
    await tick();
    expect(order).toEqual([3]);
    expect(gate.inUse("p")).toBe(2);
    limit = 3; // a reload raising the limit is used at the next hand-over
    r2();
    await tick();
    expect(order).toEqual([3, 4, 5]);
    for (const rel of await Promise.all(later)) rel();
    expect(gate.inUse("p")).toBe(0);
    expect(gate.size).toBe(0);
  });

  test("oldestWaitingSince: the head waiter still present on any key (for /readyz), Infinity when none waits", async () => {
    const gate = new LoginGate<string>(() => 1);
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
    const release = await gate.acquire("a", live());
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
    const leaving = new AbortController();
    const before = Date.now();
    const first = gate.acquire("a", leaving.signal).catch((e: Error) => e);
    await Bun.sleep(20);
    const second = gate.acquire("a", live());
    const firstSince = gate.oldestWaitingSince();
    expect(firstSince).toBeGreaterThanOrEqual(before);
    expect(firstSince).toBeLessThan(before + 20);
    // The first waiter's client left: the oldest one still waiting is the second.
    leaving.abort();
    expect(gate.oldestWaitingSince()).toBeGreaterThanOrEqual(firstSince + 15);
    expect(await first).toBeInstanceOf(GateAbandoned);
    release();
    (await second)();
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
  });

  test("keys are independent", async () => {
    const gate = new LoginGate<string>(() => 1);
    await gate.acquire("a", live());
    const b = await gate.acquire("b", live());
    expect(gate.inUse("b")).toBe(1);
    b();
    expect(gate.inUse("b")).toBe(0);
  });

  test("a waiter whose client left leaves the queue at once and is rejected", async () => {
    const gate = new LoginGate<string>(() => 1);
    const r1 = await gate.acquire("p", live());
    const leaving = new AbortController();
    const abandoned = gate.acquire("p", leaving.signal);
    const next = gate.acquire("p", live());
    expect(gate.waiting("p")).toBe(2);
    leaving.abort();
    expect(gate.waiting("p")).toBe(1);
    await expect(abandoned).rejects.toBeInstanceOf(GateAbandoned);
    r1();
    (await next)();
    expect(gate.inUse("p")).toBe(0);
    expect(gate.size).toBe(0);
  });

  test("a client already gone is refused without queueing", async () => {
    const gate = new LoginGate<string>(() => 1);
    const c = new AbortController();
    c.abort();
    await expect(gate.acquire("p", c.signal)).rejects.toBeInstanceOf(GateAbandoned);
    expect(gate.size).toBe(0);
  });

  test("run releases the slot when the work throws", async () => {
    const gate = new LoginGate<string>(() => 1);
    await expect(gate.run("p", live(), async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(gate.inUse("p")).toBe(0);
  });
});
