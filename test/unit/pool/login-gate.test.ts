// LoginGate: at most `limit` slots per node, FIFO hand-over, abandoned waiters skipped.
import { describe, expect, test } from "bun:test";
import { GateAbandoned, LoginGate } from "../../../src/pool/login-gate.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("LoginGate", () => {
  test("grants up to the limit at once, then FIFO as slots are released", async () => {
    let limit = 2;
    const gate = new LoginGate<string>(() => limit);
    const r1 = await gate.acquire("p", () => false);
    const r2 = await gate.acquire("p", () => false);
    const order: number[] = [];
    const later = [3, 4, 5].map((i) => gate.acquire("p", () => false).then((rel) => (order.push(i), rel)));
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
  });

  test("oldestWaitingSince: the head waiter still present on any node (for /readyz), Infinity when none waits", async () => {
    const gate = new LoginGate<string>(() => 1);
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
    const release = await gate.acquire("a", () => false);
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
    let gone = false;
    const before = Date.now();
    const first = gate.acquire("a", () => gone).catch((e: Error) => e);
    await Bun.sleep(20);
    const second = gate.acquire("a", () => false);
    const firstSince = gate.oldestWaitingSince();
    expect(firstSince).toBeGreaterThanOrEqual(before);
    expect(firstSince).toBeLessThan(before + 20);
    // The first waiter's client left: the oldest one still waiting is the second.
    gone = true;
    expect(gate.oldestWaitingSince()).toBeGreaterThanOrEqual(firstSince + 15);
    release();
    expect(await first).toBeInstanceOf(GateAbandoned);
    (await second)();
    expect(gate.oldestWaitingSince()).toBe(Number.POSITIVE_INFINITY);
  });

  test("nodes are independent", async () => {
    const gate = new LoginGate<string>(() => 1);
    await gate.acquire("a", () => false);
    const b = await gate.acquire("b", () => false);
    expect(gate.inUse("b")).toBe(1);
    b();
    expect(gate.inUse("b")).toBe(0);
  });

  test("a waiter whose client left is skipped and rejected", async () => {
    const gate = new LoginGate<string>(() => 1);
    const r1 = await gate.acquire("p", () => false);
    let gone = false;
    const abandoned = gate.acquire("p", () => gone);
    const next = gate.acquire("p", () => false);
    gone = true;
    r1();
    await expect(abandoned).rejects.toBeInstanceOf(GateAbandoned);
    (await next)();
    expect(gate.inUse("p")).toBe(0);
  });

  test("run releases the slot when the work throws", async () => {
    const gate = new LoginGate<string>(() => 1);
    await expect(gate.run("p", () => false, async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(gate.inUse("p")).toBe(0);
  });
});
