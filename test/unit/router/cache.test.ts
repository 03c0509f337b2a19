// createRouter: LRU behaviour, what is never cached, and that a hit skips classification.

import { describe, expect, test } from "bun:test";
import { createRouter, type ClassifyContext } from "../../../src/router/index.ts";

function countingContext(volatility: Record<string, "v" | "s" | "i"> = {}): { ctx: ClassifyContext; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ctx: {
      writeFunctions: new Set(),
      readFunctions: new Set(),
      volatility: (n) => (calls.push(n), volatility[n]),
    },
  };
}

describe("createRouter", () => {
  test("a hit returns the cached result without classifying again", () => {
    const { ctx, calls } = countingContext({ stable_fn: "s" });
    const router = createRouter({ context: ctx });
    const first = router.classify("SELECT stable_fn()");
    expect(first.route).toBe("replica");
    expect(calls).toEqual(["stable_fn"]);
    const second = router.classify("SELECT stable_fn()");
    expect(second).toBe(first);
    expect(calls).toEqual(["stable_fn"]);
    expect(router.size).toBe(1);
  });

  test("cached results are frozen so one caller cannot corrupt another's answer", () => {
    const router = createRouter({ context: countingContext().ctx });
    const c = router.classify("SELECT 1");
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.unknownFunctions)).toBe(true);
  });

  test("results waiting on a volatility lookup are not cached", () => {
    const learned: Record<string, "v" | "s" | "i"> = {};
    const { ctx } = countingContext(learned);
    const router = createRouter({ context: ctx });
    expect(router.classify("SELECT report_fn()").unknownFunctions).toEqual(["report_fn"]);
    expect(router.size).toBe(0);
    learned.report_fn = "s";
    expect(router.classify("SELECT report_fn()")).toMatchObject({ route: "replica", unknownFunctions: [] });
    expect(router.size).toBe(1);
  });

  test("the oldest entry is evicted at capacity (FIFO: hits do not reorder)", () => {
    const { ctx, calls } = countingContext({ a: "s", b: "s", c: "s" });
    const router = createRouter({ context: ctx, capacity: 2 });
    router.classify("SELECT a()");
    router.classify("SELECT b()");
    router.classify("SELECT a()"); // a hit: no reordering
    router.classify("SELECT c()"); // evicts a, the oldest
    expect(router.size).toBe(2);
    calls.length = 0;
    router.classify("SELECT b()");
    router.classify("SELECT c()");
    expect(calls).toEqual([]);
    router.classify("SELECT a()");
    expect(calls).toEqual(["a"]);
    expect(router.size).toBe(2);
  });

  test("statements differing only in numeric literals share one entry", () => {
    const { ctx, calls } = countingContext({ f: "s" });
    const router = createRouter({ context: ctx });
    router.classify("SELECT f() FROM t WHERE id = 41");
    router.classify("SELECT f() FROM t WHERE id = 42");
    router.classify("SELECT f() FROM t WHERE id = 1234.5");
    expect(calls).toEqual(["f"]);
    expect(router.size).toBe(1);
    // Digits inside names and parameters are part of the statement.
    router.classify("SELECT f() FROM t1 WHERE id = $1");
    router.classify("SELECT f() FROM t2 WHERE id = $2");
    expect(router.size).toBe(3);
  });

  test("SET pggate.min_lsn keeps its value: never shared across literals", () => {
    const router = createRouter({ context: countingContext().ctx });
    expect(router.classify("SET pggate.min_lsn = '0/16'").pggateSet?.value).toBe("0/16");
    expect(router.classify("SET pggate.min_lsn = '0/17'").pggateSet?.value).toBe("0/17");
  });

  test("clear() empties the cache", () => {
    const router = createRouter({ context: countingContext().ctx });
    router.classify("SELECT a");
    router.classify("SELECT b");
    expect(router.size).toBe(2);
    router.clear();
    expect(router.size).toBe(0);
  });

  test("capacity 0 disables caching", () => {
    const router = createRouter({ context: countingContext().ctx, capacity: 0 });
    router.classify("SELECT 1");
    expect(router.size).toBe(0);
    expect(router.classify("SELECT 1").route).toBe("replica");
  });

  test("query strings longer than maxQueryLength are classified but not cached", () => {
    const router = createRouter({ context: countingContext().ctx, maxQueryLength: 20 });
    expect(router.classify("SELECT * FROM a_rather_long_table_name").route).toBe("replica");
    expect(router.size).toBe(0);
    router.classify("SELECT 1");
    expect(router.size).toBe(1);
  });

  test("the cache key is the exact text", () => {
    const router = createRouter({ context: countingContext().ctx });
    expect(router.classify("SELECT 1").route).toBe("replica");
    expect(router.classify("/* pggate:primary */ SELECT 1").route).toBe("primary");
    expect(router.classify("SELECT 1").route).toBe("replica");
    expect(router.size).toBe(2);
  });
});
