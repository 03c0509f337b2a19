// parseDeallocate / deallocateBatch / parsePggateSet: the statements PgGate answers itself.
import { describe, expect, test } from "bun:test";
import { deallocateBatch, mayStartDeallocate, parseDeallocate, parsePggateSet } from "../../../src/session/local-answers.ts";
import { PgError } from "../../../src/errors/index.ts";
import { Bind, cat, Describe, Execute, Flush, i16, Parse, Query, Sync, typed, cstr } from "../../frames.ts";

describe("parseDeallocate", () => {
  const rows: [string, ReturnType<typeof parseDeallocate>][] = [
    ["DEALLOCATE _pg3_1", { name: "_pg3_1" }],
    ["deallocate prepare S_1;", { name: "s_1" }],
    ['DEALLOCATE "S_1"', { name: "S_1" }],
    ['DEALLOCATE "a""b"', { name: 'a"b' }],
    ["DEALLOCATE ALL", { all: true }],
    ["  deallocate prepare all ; ", { all: true }],
    ["DEALLOCATE a; SELECT 1", null],
    ["SELECT 'DEALLOCATE ALL'", null],
    ["DISCARD ALL", null],
  ];
  for (const [sql, expected] of rows) test(sql, () => expect(parseDeallocate(sql)).toEqual(expected));
});

describe("parsePggateSet", () => {
  test("route values and an invalid one", () => {
    expect(parsePggateSet("route", "Primary")).toEqual({ name: "route", route: "primary" });
    expect(parsePggateSet("route", "nowhere")).toBeInstanceOf(PgError);
    expect(parsePggateSet("min_lsn", "'0/16B3748'")).toEqual({ name: "min_lsn", lsn: 0x16b3748n });
  });
});

/** Frames as the queue holds them (each in a buffer of its own). */
const queued = (...frames: Uint8Array[]) => frames.map((f) => ({ type: f[0], buf: f, start: 0, end: f.length }));
const plan = (...frames: Uint8Array[]) => {
  const q = queued(...frames);
  const b = deallocateBatch(q, q.length);
  return b && { target: b.target, steps: b.steps, executes: b.executes };
};
const D = "DEALLOCATE s1";

describe("deallocateBatch", () => {
  test("a simple Query", () => {
    expect(plan(Query("deallocate prepare ALL"))).toEqual({ target: { all: true }, steps: [], executes: true });
    expect(plan(Query("DEALLOCATE s1; SELECT 1"))).toBeNull();
  });
  test("libpq's PQsendQueryParams: Parse, Bind, Describe portal, Execute, Sync", () => {
    expect(plan(Parse("", D), Bind("", ""), Describe("P", ""), Execute(""), Sync())).toEqual({
      target: { name: "s1" },
      steps: ["parse", "bind", "describe_portal", "execute"],
      executes: true,
    });
  });
  test("Describe of the statement, and no Execute (nothing is deallocated)", () => {
    expect(plan(Parse("", 'DEALLOCATE "S 1"'), Describe("S", ""), Sync())).toEqual({ target: { name: "S 1" }, steps: ["parse", "describe_statement"], executes: false });
  });
  test("one result format code is accepted, as PostgreSQL accepts it", () => {
    const bind = typed("B", cstr(""), cstr(""), i16(1), i16(0), i16(0), i16(1), i16(1));
    expect(plan(Parse("", D), bind, Execute(""), Sync())?.steps).toEqual(["parse", "bind", "execute"]);
  });
  const forwarded: [string, Uint8Array[]][] = [
    ["a named statement", [Parse("x", D), Bind("", "x"), Execute(""), Sync()]],
    ["declared parameter types", [Parse("", D, [23]), Bind("", ""), Execute(""), Sync()]],
    ["a named portal", [Parse("", D), Bind("p", ""), Execute("p"), Sync()]],
    ["a parameter", [Parse("", D), Bind("", "", ["1"]), Execute(""), Sync()]],
    ["two Executes", [Parse("", D), Bind("", ""), Execute(""), Execute(""), Sync()]],
    ["Execute before Bind", [Parse("", D), Execute(""), Sync()]],
    ["another statement after it", [Parse("", D), Bind("", ""), Execute(""), Parse("", "SELECT 1"), Bind("", ""), Execute(""), Sync()]],
    ["not DEALLOCATE", [Parse("", "SELECT 1"), Bind("", ""), Execute(""), Sync()]],
    ["no Sync (a Flush ends the batch)", [Parse("", D), Bind("", ""), Execute(""), Flush()]],
  ];
  for (const [what, frames] of forwarded) test(`forwarded: ${what}`, () => expect(plan(...frames)).toBeNull());
  test("mayStartDeallocate peeks at the bytes", () => {
    const may = (f: Uint8Array) => mayStartDeallocate(f[0], f, 0, f.length);
    expect(may(Query("  \n DeAllocate x"))).toBe(true);
    expect(may(Parse("", "deallocate all"))).toBe(true);
    expect(may(Parse("n", "deallocate all"))).toBe(false);
    expect(may(Query("deallocatex"))).toBe(false);
    expect(may(Query("SELECT 1"))).toBe(false);
    expect(may(cat(Sync()))).toBe(false);
  });
});
