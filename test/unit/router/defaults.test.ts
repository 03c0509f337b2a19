// settingsToDefault(): the settings a SQL string returns to their reset value, by the grammar's
// spellings (gram.y VariableSetStmt / VariableResetStmt / DiscardStmt, and set_config with NULL).
import { describe, expect, test } from "bun:test";
import { settingsToDefault, type SettingToDefault } from "../../../src/router/index.ts";

const s = (name: string | null): SettingToDefault => ({ name, local: false });
const l = (name: string): SettingToDefault => ({ name, local: true });

describe("settingsToDefault", () => {
  const rows: [string, SettingToDefault[] | null][] = [
    ["SELECT 1", null],
    ["SELECT localtimestamp", null],
    ["INSERT INTO t DEFAULT VALUES", null],
    ["RESET ALL", [s(null)]],
    ["DISCARD ALL", [s(null)]],
    ["DISCARD TEMP", null],
    ["RESET search_path", [s("search_path")]],
    ["RESET myapp.Tenant", [s("myapp.tenant")]],
    ['RESET "MyApp"."Tenant"', [s("MyApp.Tenant")]],
    ["RESET TIME ZONE", [s("timezone")]],
    ["RESET SESSION AUTHORIZATION", null],
    ["RESET TRANSACTION ISOLATION LEVEL", null],
    ["SET x TO DEFAULT", [s("x")]],
    ["SET x = DEFAULT", [s("x")]],
    ["SET SESSION x TO DEFAULT", [s("x")]],
    ["SET LOCAL x = DEFAULT", [l("x")]],
    ["SET x TO 'default'", null],
    ["SET x TO \"default\"", null],
    ["SET x TO DEFAULT, y", null],
    ["SET TIME ZONE DEFAULT", [s("timezone")]],
    ["SET TIME ZONE LOCAL", [s("timezone")]],
    ["SET LOCAL TIME ZONE DEFAULT", [l("timezone")]],
    ["SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE", null],
    ["SET NAMES", [s("client_encoding")]],
    ["SET NAMES DEFAULT", [s("client_encoding")]],
    ["SET LOCAL NAMES", [l("client_encoding")]],
    ["SET NAMES 'LATIN1'", null],
    ["SET ROLE NONE", null],
    ["SET SESSION AUTHORIZATION DEFAULT", null],
    ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", null],
    ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", null],
    ["SELECT set_config('TimeZone', NULL, false)", [s("TimeZone")]],
    ["SELECT pg_catalog.set_config('a.b', null, 'on'), 1", [l("a.b")]],
    ["SELECT set_config('a', NULL, f(x))", null],
    ["SELECT set_config('a', 'v', false)", null],
    ["SELECT 'set x to default'", null],
    ["SELECT 1; set x to default; RESET y", [s("x"), s("y")]],
    ["SET x TO DEFAULT; SELECT 'unterminated", null],
  ];
  for (const [sql, expected] of rows) test(sql, () => expect(settingsToDefault(sql)).toEqual(expected));
});
