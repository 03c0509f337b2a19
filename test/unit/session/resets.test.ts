// resetTargets(): which startup parameters a statement returns to the server default, for the
// session or for the rest of the transaction.
import { describe, expect, test } from "bun:test";
import { discardsAll, resetTargets, type ResetTargets } from "../../../src/session/resets.ts";

const startup = new Map([
  ["DateStyle", "Postgres, MDY"],
  ["TimeZone", "PST8PDT"],
  ["application_name", "psql"],
  ["client_encoding", "LATIN1"],
]);

const session = (...names: string[]): ResetTargets => ({ session: names, local: [] });

describe("resetTargets", () => {
  const rows: [string, ResetTargets | null][] = [
    ["SELECT 1", null],
    ["SET datestyle = ISO", null],
    ["SET datestyle TO 'default'", null],
    ["RESET datestyle", session("DateStyle")],
    ["reset DATESTYLE", session("DateStyle")],
    ['RESET "TimeZone"', session("TimeZone")],
    ["RESET work_mem", null],
    ["RESET ALL", { session: "all", local: [] }],
    ["discard  all", { session: "all", local: [] }],
    ["DISCARD PLANS", null],
    ["SET datestyle = ISO; RESET timezone; RESET application_name", session("TimeZone", "application_name")],
    ["/* c */ RESET datestyle", session("DateStyle")],
    // Not statements: a literal or a comment that mentions one.
    ["SELECT 'reset timezone'", null],
    ["SELECT 1 -- set timezone to default", null],
    // Every spelling of SET ... DEFAULT (gram.y: generic_set, TIME ZONE zone_value, NAMES opt_encoding).
    ["RESET TIME ZONE", session("TimeZone")],
    ["SET datestyle TO DEFAULT", session("DateStyle")],
    ["set DateStyle=default", session("DateStyle")],
    ["SET SESSION datestyle TO DEFAULT", session("DateStyle")],
    ['SET "TimeZone" = DEFAULT;', session("TimeZone")],
    ["SET TIME ZONE DEFAULT", session("TimeZone")],
    ["SET TIME ZONE LOCAL", session("TimeZone")],
    ["SET SESSION TIME ZONE LOCAL", session("TimeZone")],
    ["SET TIME ZONE 'UTC'", null],
    ["SET NAMES DEFAULT", session("client_encoding")],
    ["SET NAMES", session("client_encoding")],
    ["SET NAMES 'UTF8'", null],
    ["SET LOCAL timezone TO DEFAULT", { session: [], local: ["TimeZone"] }],
    ["SET LOCAL TIME ZONE LOCAL", { session: [], local: ["TimeZone"] }],
    ["SELECT set_config('TimeZone', NULL, false)", session("TimeZone")],
    ["SELECT pg_catalog.set_config('datestyle', NULL, true)", { session: [], local: ["DateStyle"] }],
    ["SELECT set_config('datestyle', NULL, $1)", null],
    ["SELECT set_config('datestyle', 'ISO', false)", null],
    ["SET datestyle = ISO; SET datestyle TO DEFAULT", session("DateStyle")],
    ["BEGIN; SET LOCAL datestyle TO DEFAULT; RESET timezone", { session: ["TimeZone"], local: ["DateStyle"] }],
    ["SET SESSION AUTHORIZATION DEFAULT", null],
    ["SET work_mem TO DEFAULT", null],
  ];
  for (const [sql, expected] of rows) test(sql, () => expect(resetTargets(sql, startup)).toEqual(expected));
  test("no startup parameters: nothing to re-apply", () => expect(resetTargets("RESET ALL", new Map())).toBeNull());
  test("discardsAll", () => {
    expect(discardsAll("DISCARD ALL")).toBe(true);
    expect(discardsAll("select 1; discard all")).toBe(true);
    expect(discardsAll("discard temp")).toBe(false);
    expect(discardsAll("SELECT 'discard'")).toBe(false);
    expect(discardsAll("SELECT 'discard all'")).toBe(false);
  });
});
