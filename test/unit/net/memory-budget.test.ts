// MemoryBudget without sockets: who is paused past the limit, who resumes below 90 %, that
// somebody always goes on, and that a member leaving gives everything back.
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

  test("a member that leaves gives back what it held and the paused one resumes (issue 23 #9)", () => {
    const b = new MemoryBudget(100);
    const a = member();
    const c = member();
    b.charge(a, 80, 80);
    expect(b.charge(c, 30, 30)).toBe(true);
    b.retain(a, 5);
    b.forget(a);
    expect(b.used).toBe(30);
    expect(b.retained).toBe(0);
    expect(c.resumed).toBe(1);
    // Whatever a forgotten member releases afterwards is not given back twice.
    b.retain(a, -5);
    b.charge(a, -80, 0);
    expect(b.used).toBe(30);
  });

  test("still over the limit when the only reader leaves: the longest waiting goes on, not all of them", () => {
    const b = new MemoryBudget(100);
    const x = member();
    const y = member();
    const z = member();
    b.charge(x, 50, 50);
    expect(b.charge(y, 60, 60)).toBe(true);
    expect(b.charge(z, 40, 40)).toBe(true);
    b.forget(x); // 100 > 90, and nobody reads
    expect([y.resumed, z.resumed]).toEqual([1, 0]);
    b.charge(y, -60, 0); // y done: 40 ≤ 90, z resumes
    expect(z.resumed).toBe(1);
  });

  test("kept statements count against the limit but pause nobody; once freed, waiters resume", () => {
    const b = new MemoryBudget(100);
    const a = member();
    const c = member();
    b.retain(a, 95);
    expect(b.fits(10)).toBe(false);
    expect(b.retained).toBe(95);
    // c alone holds input: over the limit, but nobody else reads, so it goes on.
    expect(b.charge(c, 10, 10)).toBe(false);
    expect(b.charge(a, 5, 5)).toBe(true); // c reads: a waits
    b.retain(a, -95);
    expect(b.used).toBe(15);
    expect(a.resumed).toBe(1);
  });
});
