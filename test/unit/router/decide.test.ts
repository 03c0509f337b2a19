// route() table tests: realistic classifications (from classify()) against every RouteContext,
// expecting the node a user would see the batch run on, the reason label, and the pin. Then
// mergeClassifications(): any statement bound for the primary takes the whole batch there.

import { describe, expect, test } from "bun:test";
import {
  classify,
  mergeClassifications,
  route,
  type Classification,
  type ClassifyContext,
  type RouteContext,
  type RouteDecision,
} from "../../../src/router/index.ts";

const cctx: ClassifyContext = {
  writeFunctions: new Set(["audit_log"]),
  readFunctions: new Set(["safe_fn"]),
  volatility: (name) => ({ vol_fn: "v", stable_fn: "s" } as Record<string, "v" | "s">)[name],
};
const c = (sql: string): Classification => classify(sql, cctx);

/** A hand-built classification for shapes classify() may not produce today. */
function cls(over: Partial<Classification>): Classification {
  return { route: "replica", reason: "read", pin: null, txn: null, forced: null, unknownFunctions: [], unknownRelations: [], pggateSet: null, schema: false, statements: 1, ...over };
}

const SESSION_ROUTES = ["auto", "primary", "replica"] as const;
const ALL_CONTEXTS: RouteContext[] = [];
for (const split of [true, false])
  for (const sessionRoute of SESSION_ROUTES)
    for (const replicaAvailable of [true, false]) ALL_CONTEXTS.push({ split, sessionRoute, replicaAvailable });

const ctxName = (x: RouteContext): string => `split=${x.split ? "on" : "off"} session=${x.sessionRoute} replica=${x.replicaAvailable ? "up" : "down"}`;

const P = (reason: string, pin: RouteDecision["pin"] = null): RouteDecision => ({ target: "primary", reason, pin });
const R = (reason: string): RouteDecision => ({ target: "replica", reason, pin: null });

describe("route: primary whatever the context", () => {
  const rows: [string, Classification, RouteDecision][] = [
    ["INSERT", c("INSERT INTO t VALUES (1)"), P("write")],
    ["UPDATE", c("UPDATE t SET a = 1"), P("write")],
    ["DDL", c("CREATE TABLE t (a int)"), P("ddl")],
    ["SELECT ... FOR UPDATE", c("SELECT * FROM t FOR UPDATE"), P("locking_read")],
    ["volatile user function", c("SELECT vol_fn()"), P("function")],
    ["write function", c("SELECT audit_log('x')"), P("function")],
    ["function of unknown volatility", c("SELECT mystery_fn()"), P("function")],
    ["unclassifiable", c("FROBNICATE everything"), P("unknown")],
    ["BEGIN", c("BEGIN"), P("transaction")],
    ["BEGIN ISOLATION LEVEL SERIALIZABLE", c("BEGIN ISOLATION LEVEL SERIALIZABLE"), P("transaction")],
    ["COMMIT", c("COMMIT"), P("transaction")],
    ["ROLLBACK", c("ROLLBACK"), P("transaction")],
    ["primary hint on a read", c("/* pggate:primary */ SELECT 1"), P("forced")],
    ["replica hint cannot send a write to a replica", c("/* pggate:replica */ INSERT INTO t VALUES (1)"), P("write")],
    ["read then write in one string", c("SELECT 1; DELETE FROM t"), P("write")],
    ["SET pins", c("SET search_path = app"), P("pinned:set", "set")],
    ["LISTEN pins", c("LISTEN ch"), P("pinned:listen", "listen")],
    ["PREPARE pins", c("PREPARE q AS SELECT 1"), P("pinned:prepare", "prepare")],
    ["temp table pins", c("CREATE TEMP TABLE x (a int)"), P("pinned:temp_table", "temp_table")],
    ["session advisory lock pins", c("SELECT pg_advisory_lock(1)"), P("pinned:advisory_lock", "advisory_lock")],
    ["replica hint does not override a pin", c("/* pggate:replica */ SET search_path = app"), P("pinned:set", "set")],
    ["SET LOCAL does not pin", c("SET LOCAL search_path = app"), P("session")],
    // route primary with reason "read" is reported as a write.
    ["hand-built primary read", cls({ route: "primary", reason: "read" }), P("write")],
    ["hand-built pin wins over a replica route", cls({ pin: "role" }), P("pinned:role", "role")],
    ["hand-built primary BEGIN with another reason", cls({ route: "primary", reason: "write", txn: "begin" }), P("transaction")],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => {
      for (const x of ALL_CONTEXTS) expect({ ctx: ctxName(x), ...route(input, x) }).toEqual({ ctx: ctxName(x), ...expected });
    });
  }

  test("the inputs are what the rows say (classify has not drifted under this table)", () => {
    expect(c("SELECT 1").route).toBe("replica");
    expect(c("/* pggate:primary */ SELECT 1").forced).toBe("primary");
    expect(c("/* pggate:replica */ SELECT 1")).toMatchObject({ route: "replica", forced: "replica" });
    expect(c("BEGIN READ ONLY")).toMatchObject({ route: "replica", txn: "begin_read_only" });
    expect(c("SET search_path = app").pin).toBe("set");
  });
});

describe("route: read-only work, by context", () => {
  // Columns: split on × session auto/primary/replica × replica up/down, then split off (any).
  type Col = [RouteContext["sessionRoute"], boolean];
  const cols: Col[] = [
    ["auto", true],
    ["auto", false],
    ["primary", true],
    ["primary", false],
    ["replica", true],
    ["replica", false],
  ];
  const rows: [string, Classification, RouteDecision[]][] = [
    [
      "plain read",
      c("SELECT * FROM users WHERE id = $1"),
      [R("read"), P("no_replica"), P("forced"), P("forced"), R("forced"), P("no_replica")],
    ],
    [
      "stable and allow-listed functions",
      c("SELECT stable_fn(), safe_fn(), now()"),
      [R("read"), P("no_replica"), P("forced"), P("forced"), R("forced"), P("no_replica")],
    ],
    [
      "replica hint (beats a session default of primary)",
      c("/* pggate:replica */ SELECT 1"),
      [R("forced"), P("no_replica"), R("forced"), P("no_replica"), R("forced"), P("no_replica")],
    ],
    [
      "replica hint on a volatile-function call (the hint vouches for it)",
      c("/* pggate:replica */ SELECT vol_fn()"),
      [R("forced"), P("no_replica"), R("forced"), P("no_replica"), R("forced"), P("no_replica")],
    ],
    [
      "BEGIN READ ONLY",
      c("BEGIN READ ONLY"),
      [R("read_only_transaction"), P("no_replica"), P("forced"), P("forced"), R("forced"), P("no_replica")],
    ],
    [
      "START TRANSACTION READ ONLY",
      c("START TRANSACTION READ ONLY"),
      [R("read_only_transaction"), P("no_replica"), P("forced"), P("forced"), R("forced"), P("no_replica")],
    ],
  ];
  for (const [name, input, expected] of rows) {
    describe(name, () => {
      cols.forEach(([sessionRoute, replicaAvailable], i) => {
        const x: RouteContext = { split: true, sessionRoute, replicaAvailable };
        test(ctxName(x), () => {
          expect(route(input, x)).toEqual(expected[i]);
        });
      });
      test("split off: always the primary", () => {
        for (const x of ALL_CONTEXTS.filter((y) => !y.split)) expect(route(input, x)).toEqual(P("split_disabled"));
      });
    });
  }
});

describe("mergeClassifications", () => {
  const read = c("SELECT 1");
  const read2 = c("SELECT 2");
  const write = c("INSERT INTO t VALUES (1)");
  const ddl = c("CREATE TABLE t (a int)");
  const set = c("SET search_path = app");
  const listen = c("LISTEN ch");
  const hintReplica = c("/* pggate:replica */ SELECT 1");
  const hintPrimary = c("/* pggate:primary */ SELECT 1");
  const beginRo = c("BEGIN READ ONLY");
  const begin = c("BEGIN");
  const commit = c("COMMIT");
  const auto: RouteContext = { split: true, sessionRoute: "auto", replicaAvailable: true };
  const merged = (...xs: Classification[]): RouteDecision => route(xs.reduce(mergeClassifications), auto);

  test("reads stay on a replica", () => {
    expect(merged(read, read2)).toEqual(R("read"));
    expect(merged(read, read2, read)).toEqual(R("read"));
  });

  test("one write anywhere sends the batch to the primary", () => {
    expect(merged(read, write)).toEqual(P("write"));
    expect(merged(write, read)).toEqual(P("write"));
    expect(merged(read, read2, ddl)).toEqual(P("ddl"));
    expect(merged(hintReplica, write)).toEqual(P("write"));
  });

  test("the first primary-bound statement gives the reason", () => {
    expect(merged(write, ddl)).toEqual(P("write"));
    expect(merged(ddl, write)).toEqual(P("ddl"));
    expect(merged(read, begin, write, commit)).toEqual(P("transaction"));
  });

  test("a pin anywhere wins over writes and reads; the first pin is kept", () => {
    expect(merged(read, set)).toEqual(P("pinned:set", "set"));
    expect(merged(set, read)).toEqual(P("pinned:set", "set"));
    expect(merged(write, set)).toEqual(P("pinned:set", "set"));
    expect(merged(set, write)).toEqual(P("pinned:set", "set"));
    expect(merged(read, write, listen, set)).toEqual(P("pinned:listen", "listen"));
    expect(merged(set, listen)).toEqual(P("pinned:set", "set"));
  });

  test("hints: a replica hint on any read carries the batch; a primary hint wins over it", () => {
    expect(merged(read, hintReplica)).toEqual(R("forced"));
    expect(merged(hintReplica, read)).toEqual(R("forced"));
    expect(merged(hintReplica, hintPrimary)).toEqual(P("forced"));
    expect(merged(hintPrimary, hintReplica)).toEqual(P("forced"));
    expect(merged(read, hintPrimary, read2)).toEqual(P("forced"));
  });

  test("the contract merging relies on: classify() routes every primary-hinted string to the primary", () => {
    // mergeClassifications prefers any forced classification and checks route before forced, so
    // a primary hint is honoured only because classify() turns it into route "primary". A
    // hand-built { route: "replica", forced: "primary" } merged after a replica hint would run on a replica.
    for (const sql of ["SELECT 1", "SELECT mystery_fn()", "SELECT vol_fn()", "BEGIN READ ONLY", "INSERT INTO t VALUES (1)"]) {
      expect(c(`/* pggate:primary */ ${sql}`).route).toBe("primary");
    }
  });

  test("BEGIN READ ONLY with reads stays on a replica", () => {
    expect(merged(beginRo, read).target).toBe("replica");
    expect(merged(read, beginRo).target).toBe("replica");
    expect(merged(beginRo, write)).toEqual(P("write"));
  });

  test("pairwise: merged batch goes to the primary iff some statement would alone; pin kept; order does not change the target", () => {
    const samples = [read, read2, write, ddl, set, listen, hintReplica, hintPrimary, beginRo, begin, commit, c("SELECT vol_fn()"), c("SELECT stable_fn()")];
    for (const x of ALL_CONTEXTS) {
      for (const a of samples) {
        for (const b of samples) {
          const ab = route(mergeClassifications(a, b), x);
          const ba = route(mergeClassifications(b, a), x);
          const alone = [route(a, x), route(b, x)];
          const label = `${ctxName(x)}: ${JSON.stringify([a, b].map((y) => [y.route, y.reason, y.forced, y.pin]))}`;
          expect({ label, pin: ab.pin }).toEqual({ label, pin: a.pin ?? b.pin });
          expect({ label, target: ab.target }).toEqual({ label, target: ba.target });
          // With session default "primary", a replica hint moves a batch of reads to a replica
          // although an unhinted read alone would go to the primary: the hint is per batch.
          if (x.sessionRoute !== "primary") {
            const anyPrimary = alone.some((d) => d.target === "primary");
            expect({ label, target: ab.target }).toEqual({ label, target: anyPrimary ? "primary" : "replica" });
          }
        }
      }
    }
  });
});
