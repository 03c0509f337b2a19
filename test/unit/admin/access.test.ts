// Who may run which console command: admin.users everything, admin.stats_users only SHOW (as
// PgBouncer's stats_users), anyone dropped from both lists by a reload nothing.

import { describe, expect, test } from "bun:test";
import { accessDenied, consoleRole, mayRun } from "../../../src/admin/access.ts";
import { parseAdminCommand } from "../../../src/admin/index.ts";

const admin = { users: ["root"], statsUsers: ["monitor"], password: "" };

const READS = ["SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW CONFIG", "SHOW FDS", "SHOW NODES", "SHOW ROUTES", "SHOW HELP", ""];
const WRITES = ["RELOAD", "PAUSE", "PAUSE app", "RESUME", "SHUTDOWN", "SHUTDOWN WAIT_FOR_CLIENTS", "SUSPEND", "KILL app", "KILL_CLIENT 3", "RECONNECT", "WAIT_CLOSE", "DISABLE app", "ENABLE app", "SET pool.size = 3"];

describe("consoleRole", () => {
  test("admin.users wins, then admin.stats_users; names compare exactly", () => {
    expect(consoleRole(admin, "root")).toBe("admin");
    expect(consoleRole(admin, "monitor")).toBe("stats");
    expect(consoleRole(admin, "Monitor")).toBe("none");
    expect(consoleRole({ ...admin, statsUsers: ["root"] }, "root")).toBe("admin");
  });
});

describe("mayRun", () => {
  const table: [string, boolean, boolean, boolean][] = [
    ...READS.map((sql): [string, boolean, boolean, boolean] => [sql, true, true, sql === ""]),
    ...WRITES.map((sql): [string, boolean, boolean, boolean] => [sql, true, false, false]),
  ];
  for (const [sql, asAdmin, asStats, asNone] of table) {
    test(JSON.stringify(sql), () => {
      const cmd = parseAdminCommand(sql);
      expect([mayRun("admin", cmd), mayRun("stats", cmd), mayRun("none", cmd)]).toEqual([asAdmin, asStats, asNone]);
    });
  }
});

test("the refusal is PgBouncer's text with SQLSTATE 42501", () => {
  const e = accessDenied();
  expect([e.severity, e.code, e.message]).toEqual(["ERROR", "42501", "admin access needed"]);
});
