// The admin console with several workers: every worker's outcome of one command becomes one reply
// (combineOutcomes), and SHOW tables merge by the rule of each (mergeShow).

import { describe, expect, test } from "bun:test";
import { combineOutcomes, isLocalCommand, mergeShow, SHOW_MERGE, SHOW_WHATS, type AdminResult, type CommandOutcome } from "../../../src/admin/index.ts";
import { PgError } from "../../../src/errors/index.ts";

const table = (columns: string[], rows: (string | number | boolean | null)[][]): AdminResult => ({ tag: "SHOW", columns, rows });
const failed = (code: string, message: string): CommandOutcome => ({ error: { severity: "ERROR", code, message } });

describe("mergeShow", () => {
  test("every SHOW has a rule", () => {
    for (const w of SHOW_WHATS) expect(SHOW_MERGE[w]).toBeDefined();
  });

  test("CLIENTS: every worker's rows", () => {
    const a = table(["type", "id"], [["C", 2], ["C", 4]]);
    const b = table(["type", "id"], [["C", 3]]);
    expect(mergeShow("clients", [a, b]).rows).toEqual([["C", 2], ["C", 4], ["C", 3]]);
  });

  test("POOLS: one row per (database, user); counts and sizes add up, maxwait is the longest, avg_wait_ms weighted by waits", () => {
    const cols = ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait", "maxwait_us", "pool_mode", "pool_size", "nodes", "waits", "avg_wait_ms", "paused"];
    const a = table(cols, [["app", "u", 3, 1, 2, 0, 1, 5, "transaction", 10, 3, 1, 10, false], ["db2", "u", 1, 0, 1, 0, 0, 0, "session", 10, 1, 0, 0, false]]);
    const b = table(cols, [["app", "u", 2, 0, 1, 1, 0, 900, "transaction", 10, 2, 3, 2, true]]);
    expect(mergeShow("pools", [a, b]).rows).toEqual([
      ["app", "u", 5, 1, 3, 1, 1, 900, "transaction", 20, 3, 4, 4, true],
      ["db2", "u", 1, 0, 1, 0, 0, 0, "session", 10, 1, 0, 0, false],
    ]);
  });

  test("NODES: up only when every worker's checks pass; the port is not added up", () => {
    const cols = ["node", "host", "port", "up", "lag_s", "cluster"];
    const a = table(cols, [["primary", "db", 5432, true, null, "db:5432"], ["r1", "r", 5433, true, 0.5, "db:5432"]]);
    const b = table(cols, [["primary", "db", 5432, true, null, "db:5432"], ["r1", "r", 5433, false, 2, "db:5432"]]);
    expect(mergeShow("nodes", [a, b]).rows).toEqual([["primary", "db", 5432, true, null, "db:5432"], ["r1", "r", 5433, false, 2, "db:5432"]]);
  });

  test("LISTS: items add up, except the sizes of sets every worker knows in full", () => {
    const a = table(["list", "items"], [["databases", 2], ["used_clients", 3]]);
    const b = table(["list", "items"], [["databases", 2], ["used_clients", 4]]);
    expect(mergeShow("lists", [a, b]).rows).toEqual([["databases", 2], ["used_clients", 7]]);
  });

  test("CONFIG: the first worker's", () => {
    const a = table(["key", "value"], [["pool.size", "20"]]);
    expect(mergeShow("config", [a, table(["key", "value"], [["pool.size", "20"]])])).toBe(a);
  });
});

describe("combineOutcomes", () => {
  test("a SHOW merges the answers; a worker that did not answer is left out", () => {
    const r = combineOutcomes({ kind: "show", what: "clients" }, [{ ok: table(["id"], [[2]]) }, null, { ok: table(["id"], [[3]]) }]);
    expect(r.rows).toEqual([[2], [3]]);
  });

  test("RELOAD fails when any worker refused it, with that worker's error", () => {
    const run = () => combineOutcomes({ kind: "reload" }, [{ ok: { tag: "RELOAD" } }, failed("22023", "config rejected")]);
    expect(run).toThrow(PgError);
    expect(run).toThrow("config rejected");
  });

  test("KILL_CLIENT succeeds on the worker that has the client", () => {
    expect(combineOutcomes({ kind: "kill_client", id: 7 }, [failed("22023", "no client with id 7"), { ok: { tag: "KILL_CLIENT" } }])).toEqual({ tag: "KILL_CLIENT" });
    expect(() => combineOutcomes({ kind: "kill_client", id: 9 }, [failed("22023", "no client with id 9"), failed("22023", "no client with id 9")])).toThrow("no client with id 9");
  });

  test("no answer at all is an error, not an empty table", () => {
    expect(() => combineOutcomes({ kind: "show", what: "clients" }, [null, null])).toThrow("no worker answered");
  });

  test("configuration SHOWs and SUSPEND's refusal stay on the console's worker", () => {
    expect(isLocalCommand({ kind: "show", what: "config" })).toBe(true);
    expect(isLocalCommand({ kind: "suspend" })).toBe(true);
    expect(isLocalCommand({ kind: "show", what: "clients" })).toBe(false);
    expect(isLocalCommand({ kind: "pause", database: null })).toBe(false);
  });
});
