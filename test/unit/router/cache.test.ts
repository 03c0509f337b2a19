// createRouter: LRU behaviour, what is never cached, that a hit skips classification, and that
// no verdict resting on one database's catalog is handed to another database.

import { describe, expect, test } from "bun:test";
import { createRouter, type CatalogLookup, type RelationKind, type RouterOptions, type Volatility } from "../../../src/router/index.ts";

const DB = "app";

/** Router options over one database's volatilities (relations all ordinary); counts lookups. */
function countingContext(volatility: Record<string, Volatility> = {}): { ctx: RouterOptions; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ctx: {
      writeFunctions: new Set(),
      readFunctions: new Set(),
      catalog: {
        volatility: (_db, n) => (calls.push(n), volatility[n]),
        relationKind: () => "other",
      },
    },
  };
}

/** A catalog with facts per database, as nested records: database -> name -> fact. */
function perDatabase(volatility: Record<string, Record<string, Volatility>>, relations: Record<string, Record<string, RelationKind>>): CatalogLookup {
  return {
    volatility: (db, n) => volatility[db]?.[n],
    relationKind: (db, n) => relations[db]?.[n],
  };
}

describe("createRouter", () => {
  test("a hit returns the cached result without classifying again", () => {
    const { ctx, calls } = countingContext({ stable_fn: "s" });
    const router = createRouter(ctx);
    const first = router.classify("SELECT stable_fn()", DB);
    expect(first.route).toBe("replica");
    expect(calls).toEqual(["stable_fn"]);
    const second = router.classify("SELECT stable_fn()", DB);
    expect(second).toBe(first);
    expect(calls).toEqual(["stable_fn"]);
    expect(router.size).toBe(1);
  });

  test("cached results are frozen so one caller cannot corrupt another's answer", () => {
    const router = createRouter(countingContext().ctx);
    const c = router.classify("SELECT 1", DB);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.unknownFunctions)).toBe(true);
    expect(Object.isFrozen(c.unknownRelations)).toBe(true);
  });

  test("results waiting on a volatility lookup are not cached", () => {
    const learned: Record<string, "v" | "s" | "i"> = {};
    const { ctx } = countingContext(learned);
    const router = createRouter(ctx);
    expect(router.classify("SELECT report_fn()", DB).unknownFunctions).toEqual(["report_fn"]);
    expect(router.size).toBe(0);
    learned.report_fn = "s";
    expect(router.classify("SELECT report_fn()", DB)).toMatchObject({ route: "replica", unknownFunctions: [] });
    expect(router.size).toBe(1);
  });

  test("results waiting on a relation lookup are not cached", () => {
    const kinds: Record<string, Record<string, RelationKind>> = { [DB]: {} };
    const router = createRouter({ writeFunctions: new Set(), readFunctions: new Set(), catalog: perDatabase({}, kinds) });
    expect(router.classify("SELECT last_value FROM s", DB)).toMatchObject({ route: "primary", reason: "node_local", unknownRelations: ["s"] });
    expect(router.size).toBe(0);
    kinds[DB]!.s = "sequence";
    expect(router.classify("SELECT last_value FROM s", DB)).toMatchObject({ route: "primary", reason: "node_local", unknownRelations: [] });
    expect(router.size).toBe(1);
  });

  test("a verdict resting on one database's catalog is never returned for another database", () => {
    // f is STABLE in a but VOLATILE in b; x is a sequence in b but a table in a.
    const catalog = perDatabase({ a: { f: "s" }, b: { f: "v" } }, { a: { x: "other" }, b: { x: "sequence" } });
    const router = createRouter({ writeFunctions: new Set(), readFunctions: new Set(), catalog });
    for (let round = 0; round < 2; round++) {
      expect(router.classify("SELECT f()", "a")).toMatchObject({ route: "replica", reason: "read" });
      expect(router.classify("SELECT f()", "b")).toMatchObject({ route: "primary", reason: "function" });
      expect(router.classify("SELECT * FROM x", "a")).toMatchObject({ route: "replica", reason: "read" });
      expect(router.classify("SELECT * FROM x", "b")).toMatchObject({ route: "primary", reason: "node_local" });
      // A database whose catalog has not answered yet waits for its own answer.
      expect(router.classify("SELECT * FROM x", "c")).toMatchObject({ route: "primary", unknownRelations: ["x"] });
    }
    expect(router.size).toBe(4);
  });

  test("at capacity the oldest query text goes, with its entries for every database", () => {
    const { ctx, calls } = countingContext({ a: "s", b: "s" });
    const router = createRouter({ ...ctx, capacity: 3 });
    router.classify("SELECT a()", "d1");
    router.classify("SELECT a()", "d2");
    router.classify("SELECT b()", "d1");
    expect(router.size).toBe(3);
    router.classify("SELECT b()", "d2"); // evicts both entries of SELECT a()
    expect(router.size).toBe(2);
    calls.length = 0;
    router.classify("SELECT b()", "d1");
    router.classify("SELECT b()", "d2");
    expect(calls).toEqual([]);
    router.classify("SELECT a()", "d2");
    expect(calls).toEqual(["a"]);
  });

  test("the oldest entry is evicted at capacity (FIFO: hits do not reorder)", () => {
    const { ctx, calls } = countingContext({ a: "s", b: "s", c: "s" });
    const router = createRouter({ ...ctx, capacity: 2 });
    router.classify("SELECT a()", DB);
    router.classify("SELECT b()", DB);
    router.classify("SELECT a()", DB); // a hit: no reordering
    router.classify("SELECT c()", DB); // evicts a, the oldest
    expect(router.size).toBe(2);
    calls.length = 0;
    router.classify("SELECT b()", DB);
    router.classify("SELECT c()", DB);
    expect(calls).toEqual([]);
    router.classify("SELECT a()", DB);
    expect(calls).toEqual(["a"]);
    expect(router.size).toBe(2);
  });

  test("statements differing only in numeric literals share one entry", () => {
    const { ctx, calls } = countingContext({ f: "s" });
    const router = createRouter(ctx);
    router.classify("SELECT f() FROM t WHERE id = 41", DB);
    router.classify("SELECT f() FROM t WHERE id = 42", DB);
    router.classify("SELECT f() FROM t WHERE id = 1234.5", DB);
    expect(calls).toEqual(["f"]);
    expect(router.size).toBe(1);
    // Digits inside names and parameters are part of the statement.
    router.classify("SELECT f() FROM t1 WHERE id = $1", DB);
    router.classify("SELECT f() FROM t2 WHERE id = $2", DB);
    expect(router.size).toBe(3);
  });

  test("SET pggate.min_lsn keeps its value: never shared across literals", () => {
    const router = createRouter(countingContext().ctx);
    expect(router.classify("SET pggate.min_lsn = '0/16'", DB).pggateSet?.value).toBe("0/16");
    expect(router.classify("SET pggate.min_lsn = '0/17'", DB).pggateSet?.value).toBe("0/17");
  });

  test("clear() empties the cache", () => {
    const router = createRouter(countingContext().ctx);
    router.classify("SELECT a", DB);
    router.classify("SELECT b", DB);
    expect(router.size).toBe(2);
    router.clear();
    expect(router.size).toBe(0);
  });

  test("capacity 0 disables caching", () => {
    const router = createRouter({ ...countingContext().ctx, capacity: 0 });
    router.classify("SELECT 1", DB);
    expect(router.size).toBe(0);
    expect(router.classify("SELECT 1", DB).route).toBe("replica");
  });

  test("query strings longer than maxQueryLength are classified but not cached", () => {
    const router = createRouter({ ...countingContext().ctx, maxQueryLength: 20 });
    expect(router.classify("SELECT * FROM a_rather_long_table_name", DB).route).toBe("replica");
    expect(router.size).toBe(0);
    router.classify("SELECT 1", DB);
    expect(router.size).toBe(1);
  });

  test("the cache key is the exact text", () => {
    const router = createRouter(countingContext().ctx);
    expect(router.classify("SELECT 1", DB).route).toBe("replica");
    expect(router.classify("/* pggate:primary */ SELECT 1", DB).route).toBe("primary");
    expect(router.classify("SELECT 1", DB).route).toBe("replica");
    expect(router.size).toBe(2);
  });
});
