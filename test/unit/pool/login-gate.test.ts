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
