// The PgBouncer → PgGate key table: every target is a real PgGate key (or one a later version
// adds), units line up, and `pggate check` answers PgBouncer names with the PgGate key.

import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../../src/config/index.ts";
import { PGBOUNCER_DATABASE_KEYS, PGBOUNCER_SETTINGS, PGBOUNCER_USER_KEYS } from "../../../src/config/pgbouncer-keys.ts";
import { findKey } from "../../../src/config/schema.ts";
import { problemLines } from "./helpers.ts";

/** Keys other branches are adding; until they land, convert writes them as comments. */
const LATER_KEYS = ["listen.unix_socket_dir", "pool.reserve_size", "pool.reserve_timeout_ms", "admin.stats_users"];

describe("the table", () => {
  test("each PgBouncer name once; every target a schema key or one being added", () => {
    for (const table of [PGBOUNCER_SETTINGS, PGBOUNCER_DATABASE_KEYS, PGBOUNCER_USER_KEYS]) {
      const names = table.map((k) => k.name);
      expect(names).toEqual([...new Set(names)]);
    }
    const unknown = PGBOUNCER_SETTINGS.filter((k) => k.pggate && !findKey(k.pggate)).map((k) => k.pggate);
    expect(unknown.filter((p) => !LATER_KEYS.includes(p!))).toEqual([]);
  });

  test("seconds go to _ms keys, and only they do; a key without a target says why", () => {
    for (const k of PGBOUNCER_SETTINGS) {
      if (k.pggate) expect([k.name, k.pggate.endsWith("_ms")]).toEqual([k.name, k.kind === "seconds"]);
      else expect([k.name, (k.why ?? "").length > 10]).toEqual([k.name, true]);
    }
  });
});

describe("pggate check on PgBouncer names", () => {
  const problems = (text: string) => problemLines(() => parseConfig(text, { source: "pggate.yaml", env: {} }));

  test("a PgBouncer setting at the top level or in a section names the PgGate key, with the unit", () => {
    const yaml = [
      "nodes: { primary: { host: db, port: 5432 } }",
      "default_pool_size: 5",
      "pool:",
      "  default_pool_size: 5",
      "  server_idle_timeout: 60",
      "listen:",
      "  max_client_conn: 100",
      "logfile: /var/log/pgbouncer.log",
      "auth:",
      "  user: bob",
    ].join("\n");
    expect(problems(yaml)).toEqual([
      "pggate.yaml:2:1: default_pool_size: unknown key; did you mean pool.size? (PgBouncer's default_pool_size)",
      "pggate.yaml:4:3: pool.default_pool_size: unknown key; did you mean pool.size? (PgBouncer's default_pool_size)",
      "pggate.yaml:5:3: pool.server_idle_timeout: unknown key; did you mean pool.idle_timeout_ms? (PgBouncer's server_idle_timeout, which is in seconds; PgGate's is in milliseconds)",
      "pggate.yaml:7:3: listen.max_client_conn: unknown key; did you mean listen.max_client_connections? (PgBouncer's max_client_conn)",
      "pggate.yaml:8:1: logfile: unknown key; PgBouncer's logfile has no PgGate key: PgGate logs to stderr (log.format logfmt or json, log.level); let systemd, Docker or a redirect collect it",
      // A name PgGate uses itself (health.user) is not taken for PgBouncer's.
      "pggate.yaml:10:3: auth.user: unknown key; did you mean health.user?",
    ]);
  });

  test("connect-string keys inside a databases entry", () => {
    const yaml = "nodes: { primary: { host: db, port: 5432 } }\ndatabases:\n  app: { pool_size: 3, host: h, user: bob }\n";
    expect(problems(yaml)).toEqual([
      "pggate.yaml:3:10: databases.app.pool_size: unknown key; did you mean databases.app.pool.size? (PgBouncer's pool_size=)",
      "pggate.yaml:3:24: databases.app.host: unknown key; did you mean databases.app.nodes.primary.host? (PgBouncer's host=)",
      "pggate.yaml:3:33: databases.app.user: unknown key; PgBouncer's user= has no PgGate key: PgGate has no forced user: clients log in to this database as themselves, so each needs its own role",
    ]);
  });
});
