// parseAdminCommand and splitStatements: every command form, case, whitespace, comments, quoting,
// and errors that name the bad input and list every available command.

import { describe, expect, test } from "bun:test";
import { parseAdminCommand, splitStatements, type AdminCommand } from "../../../src/admin/index.ts";
import { PgError } from "../../../src/errors/index.ts";

const ALL_COMMANDS = [
  "SHOW POOLS",
  "SHOW CLIENTS",
  "SHOW SERVERS",
  "SHOW STATS",
  "SHOW STATS_TOTALS",
  "SHOW STATS_AVERAGES",
  "SHOW TOTALS",
  "SHOW CONFIG",
  "SHOW VERSION",
  "SHOW HELP",
  "SHOW LISTS",
  "SHOW DATABASES",
  "SHOW USERS",
  "SHOW MEM",
  "SHOW FDS",
  "SHOW SOCKETS",
  "SHOW ACTIVE_SOCKETS",
  "SHOW DNS_HOSTS",
  "SHOW DNS_ZONES",
  "SHOW NODES",
  "SHOW POOLS_BY_NODE",
  "SHOW STATS_BY_NODE",
  "SHOW ROUTES",
  "RELOAD",
  "PAUSE [db]",
  "RESUME [db]",
  "SHUTDOWN [WAIT_FOR_CLIENTS]",
  "SUSPEND",
  "KILL_CLIENT id",
  "RECONNECT [db]",
  "WAIT_CLOSE [db]",
  "KILL db",
  "DISABLE db",
  "ENABLE db",
  "SET key = value",
];

const valid: [string, AdminCommand][] = [
  ["SHOW POOLS", { kind: "show", what: "pools" }],
  ["show clients", { kind: "show", what: "clients" }],
  ["Show Servers", { kind: "show", what: "servers" }],
  ["SHOW NODES;", { kind: "show", what: "nodes" }],
  ["  SHOW\tSTATS ;  ", { kind: "show", what: "stats" }],
  ["SHOW CONFIG;;", { kind: "show", what: "config" }],
  ["show version", { kind: "show", what: "version" }],
  ["SHOW HELP", { kind: "show", what: "help" }],
  ["\n\nSHOW\n  LISTS\n", { kind: "show", what: "lists" }],
  ["show stats_totals", { kind: "show", what: "stats_totals" }],
  ["SHOW STATS_AVERAGES", { kind: "show", what: "stats_averages" }],
  ["SHOW sockets", { kind: "show", what: "sockets" }],
  ["SHOW ACTIVE_SOCKETS", { kind: "show", what: "active_sockets" }],
  ["SHOW DNS_HOSTS", { kind: "show", what: "dns_hosts" }],
  ["SHOW DNS_ZONES", { kind: "show", what: "dns_zones" }],
  ["SHOW POOLS_BY_NODE", { kind: "show", what: "pools_by_node" }],
  ["SHOW STATS_BY_NODE", { kind: "show", what: "stats_by_node" }],
  ["show routes;", { kind: "show", what: "routes" }],
  ["SUSPEND", { kind: "suspend" }],
  ["RELOAD", { kind: "reload" }],
  ["reload;", { kind: "reload" }],
  ["PAUSE", { kind: "pause", database: null }],
  ["pause app", { kind: "pause", database: "app" }],
  ["PAUSE MyDb", { kind: "pause", database: "MyDb" }],
  ['PAUSE "my db"', { kind: "pause", database: "my db" }],
  ['PAUSE "say ""hi"""', { kind: "pause", database: 'say "hi"' }],
  ["PAUSE my-db.v2", { kind: "pause", database: "my-db.v2" }],
  ["PAUSE a$1", { kind: "pause", database: "a$1" }],
  ["PAUSE 2024db", { kind: "pause", database: "2024db" }],
  ["RESUME", { kind: "resume", database: null }],
  ["resume app;", { kind: "resume", database: "app" }],
  ['RESUME "App"', { kind: "resume", database: "App" }],
  ["SHUTDOWN", { kind: "shutdown", waitForClients: false }],
  ["shutdown wait_for_clients", { kind: "shutdown", waitForClients: true }],
  ["KILL_CLIENT 42", { kind: "kill_client", id: 42 }],
  ["RECONNECT", { kind: "reconnect", database: null }],
  ["reconnect app", { kind: "reconnect", database: "app" }],
  ["WAIT_CLOSE \"My DB\"", { kind: "wait_close", database: "My DB" }],
  ["KILL app", { kind: "kill", database: "app" }],
  ["DISABLE app", { kind: "disable", database: "app" }],
  ["enable app;", { kind: "enable", database: "app" }],
  ["SET pool.size = 30", { kind: "set", key: "pool.size", value: "30" }],
  ["set POOL.MODE to session", { kind: "set", key: "pool.mode", value: "session" }],
  ["SET admin.users = '[a, b]'", { kind: "set", key: "admin.users", value: "[a, b]" }],
  ["kill_client 0;", { kind: "kill_client", id: 0 }],
  // Comments anywhere.
  ["-- list pools\nSHOW POOLS", { kind: "show", what: "pools" }],
  ["SHOW POOLS -- trailing", { kind: "show", what: "pools" }],
  ["SHOW /* inline */ POOLS", { kind: "show", what: "pools" }],
  ["/* a /* nested */ comment */ RELOAD", { kind: "reload" }],
  ["SHOW/**/POOLS", { kind: "show", what: "pools" }],
  ["PAUSE app--comment", { kind: "pause", database: "app" }],
  ["KILL_CLIENT 7 /* why */ ;", { kind: "kill_client", id: 7 }],
  // Empty.
  ["", { kind: "empty" }],
  ["   \n\t", { kind: "empty" }],
  [";", { kind: "empty" }],
  ["-- nothing", { kind: "empty" }],
  ["/* nothing */ ;", { kind: "empty" }],
];

describe("parseAdminCommand: valid forms", () => {
  for (const [sql, want] of valid) {
    test(JSON.stringify(sql), () => {
      expect(parseAdminCommand(sql)).toEqual(want);
    });
  }
});

function syntaxErrorOf(sql: string): PgError {
  try {
    parseAdminCommand(sql);
  } catch (e) {
    if (e instanceof PgError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(sql)} to be rejected`);
}

const invalid: [string, string][] = [
  ["SHOW FOO", 'unknown admin command "SHOW FOO"'],
  ["show foo;", 'unknown admin command "show foo"'],
  ["SELECT 1", 'unknown admin command "SELECT 1"'],
  ["SHOW", 'invalid admin command "SHOW": SHOW needs one of POOLS'],
  ["SHOW POOLS extra", 'invalid admin command "SHOW POOLS extra": SHOW POOLS takes no further arguments'],
  ['SHOW "POOLS"', 'unknown admin command "SHOW "POOLS""'],
  ["RELOAD now", "RELOAD takes no further arguments"],
  ["PAUSE a b", "PAUSE takes at most one database name"],
  ["PAUSE 'app'", "PAUSE takes a database name"],
  ['PAUSE ""', "PAUSE takes a database name"],
  ["RESUME (app)", "RESUME takes at most one database name"],
  ["SHUTDOWN NOW", "SHUTDOWN takes only the optional word WAIT_FOR_CLIENTS"],
  ["SUSPEND now", "SUSPEND takes no further arguments"],
  ["SHUTDOWN WAIT_FOR_CLIENTS please", "SHUTDOWN takes only"],
  ["KILL_CLIENT", "KILL_CLIENT takes one client id"],
  ["KILL_CLIENT abc", 'invalid admin command "KILL_CLIENT abc": KILL_CLIENT takes one client id'],
  ["KILL_CLIENT -1", "KILL_CLIENT takes one client id"],
  ["KILL_CLIENT 1.5", "KILL_CLIENT takes one client id"],
  ["KILL_CLIENT 1 2", "KILL_CLIENT takes one client id"],
  ["KILL_CLIENT 99999999999999999999", "KILL_CLIENT takes one client id"],
  ["KILL_CLIENT '3'", "KILL_CLIENT takes one client id"],
  ["PAUSE $1", 'invalid admin command "PAUSE $1": admin commands take no parameters'],
  ["KILL_CLIENT $12", "admin commands take no parameters"],
  ["PAUSE $app", 'invalid admin command "PAUSE $ app": PAUSE takes at most one database name'],
  ['"SHOW" POOLS', 'unknown admin command ""SHOW" POOLS"'],
  ["SHOW POOLS; SHOW STATS", "one command per statement expected, found 2"],
  ['PAUSE "app', "unterminated quoted identifier"],
  ["PAUSE 'app", "unterminated quoted string"],
  ["SHOW /* POOLS", "unterminated /* comment"],
  ["SHOW /* /* */ POOLS", "unterminated /* comment"],
];

describe("parseAdminCommand: errors", () => {
  for (const [sql, fragment] of invalid) {
    test(JSON.stringify(sql), () => {
      const e = syntaxErrorOf(sql);
      expect(e.severity).toBe("ERROR");
      expect(e.code).toBe("42601");
      expect(e.message).toContain(fragment);
      expect(e.message).toContain(`; available: ${ALL_COMMANDS.join(", ")}`);
    });
  }

  test("comments and extra whitespace are left out of the echoed input", () => {
    const e = syntaxErrorOf("  SHOW /* c */\n\n  FOO -- x\n;");
    expect(e.message.startsWith('unknown admin command "SHOW FOO"; available: SHOW POOLS, ')).toBe(true);
  });

  test("a huge input is echoed truncated", () => {
    const e = syntaxErrorOf("SHOW " + "X".repeat(10_000));
    // The echo is capped at 200 characters; the rest is the list of every command.
    expect(e.message.length).toBeLessThan(1000);
    expect(e.message).toContain("...");
  });
});

describe("splitStatements", () => {
  const cases: [string, string[]][] = [
    ["SHOW POOLS", ["SHOW POOLS"]],
    ["SHOW POOLS; SHOW STATS;", ["SHOW POOLS", " SHOW STATS", ""]],
    ['PAUSE "a;b"; RESUME', ['PAUSE "a;b"', " RESUME"]],
    ["SHOW POOLS -- ; not a split\n; RELOAD", ["SHOW POOLS -- ; not a split\n", " RELOAD"]],
    ["/* ; */ RELOAD ; 'x;y'", ["/* ; */ RELOAD ", " 'x;y'"]],
    ["", [""]],
    [";;", ["", "", ""]],
    ['PAUSE "unterminated; RELOAD', ['PAUSE "unterminated; RELOAD']],
  ];
  for (const [sql, want] of cases) {
    test(JSON.stringify(sql), () => {
      expect(splitStatements(sql)).toEqual(want);
    });
  }
});
