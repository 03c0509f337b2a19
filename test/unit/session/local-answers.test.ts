// parseDeallocate / parsePggateSet: the statements PgGate answers itself.
import { describe, expect, test } from "bun:test";
import { parseDeallocate, parsePggateSet } from "../../../src/session/local-answers.ts";
import { PgError } from "../../../src/errors/index.ts";

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
