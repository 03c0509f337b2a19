// resetTargets(): which startup parameters a statement returns to the server default.
import { describe, expect, test } from "bun:test";
import { discardsAll, resetTargets } from "../../../src/session/resets.ts";

const startup = new Map([
  ["DateStyle", "Postgres, MDY"],
  ["TimeZone", "PST8PDT"],
  ["application_name", "psql"],
]);

describe("resetTargets", () => {
  const rows: [string, "all" | string[] | null][] = [
    ["SELECT 1", null],
    ["SET datestyle = ISO", null],
    ["RESET datestyle", ["DateStyle"]],
    ["reset DATESTYLE", ["DateStyle"]],
    ['RESET "TimeZone"', ["TimeZone"]],
    ["RESET work_mem", null],
    ["RESET ALL", "all"],
    ["discard  all", "all"],
    ["DISCARD PLANS", null],
    ["SET datestyle = ISO; RESET timezone; RESET application_name", ["TimeZone", "application_name"]],
    ["/* c */ RESET datestyle", ["DateStyle"]],
  ];
  for (const [sql, expected] of rows) test(sql, () => expect(resetTargets(sql, startup)).toEqual(expected));
  test("no startup parameters: nothing to re-apply", () => expect(resetTargets("RESET ALL", new Map())).toBeNull());
  test("discardsAll", () => {
    expect(discardsAll("DISCARD ALL")).toBe(true);
    expect(discardsAll("discard temp")).toBe(false);
    expect(discardsAll("SELECT 'discard'")).toBe(false);
  });
});
