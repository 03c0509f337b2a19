// MemoryBudget without sockets: who is paused past the limit, who resumes below 90 %, and that
// somebody always goes on.
import { describe, expect, test } from "bun:test";
import { MemoryBudget } from "../../../src/net/memory-budget.ts";

function member() {
  const m = { resumed: 0, budgetResumed: () => m.resumed++ };
  return m;
}

describe("MemoryBudget", () => {
  test("past the limit a holder pauses while another reads; below 90 % every paused one resumes", () => {
    const b = new MemoryBudget(100);
    const a = member();
    const c = member();
    expect(b.charge(a, 60, 60)).toBe(false);
    expect(b.charge(c, 50, 50)).toBe(true); // 110 > 100, and a still reads
    expect(b.charge(a, -60, 0)).toBe(false); // a's message went out: 50 ≤ 90
    expect(c.resumed).toBe(1);
  });

  test("the last holder still reading is never paused (no deadlock); one holding nothing always reads", () => {
    const b = new MemoryBudget(100);
    const a = member();
    const c = member();
    expect(b.charge(a, 80, 80)).toBe(false);
    expect(b.charge(c, 80, 80)).toBe(true);
    expect(b.charge(a, 10, 90)).toBe(false); // c is paused: a must go on
    expect(b.charge(member(), 0, 0)).toBe(false);
  });

  test("fits() says whether a message may be allocated whole; 0 means a quarter of RAM", () => {
    const b = new MemoryBudget(100);
    expect(b.fits(100)).toBe(true);
    b.charge(member(), 50, 50);
    expect(b.fits(60)).toBe(false);
    expect(new MemoryBudget(0).limit).toBeGreaterThan(1024 * 1024);
  });
});
