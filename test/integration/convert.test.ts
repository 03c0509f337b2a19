// `pggate convert` end to end: a realistic pgbouncer.ini (several databases, a "*" fallback, an
// %include, [users], an auth_file of the test cluster's real SCRAM and MD5 verifiers and a
// plaintext password) → YAML that `pggate check` accepts and that PgGate, started from it as a
// process, serves psql and pg queries through. Debian's stock file converts and checks too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import pg from "pg";
import { cluster, freePort, psql, run, scratchPath, waitForPort } from "./harness.ts";

const MAIN = join(import.meta.dir, "../../src/main.ts");
const pggate = (...args: string[]) => [process.execPath, MAIN, ...args];

const dir = scratchPath("convert");
let proc: Subprocess | null = null;
let port = 0;
let converted: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  const c = cluster();
  const { scram, md5, plain } = c.users;
  // The verifiers the server holds, as PgBouncer's auth_file would hold them (pg_shadow's format).
  const rows = await c.psql(c.primary, `SELECT usename || ' ' || passwd FROM pg_shadow WHERE usename IN ('${scram.user}', '${md5.user}') ORDER BY 1`);
  const verifiers = Object.fromEntries(rows.split("\n").map((l) => l.split(" ")));
  expect(verifiers[scram.user]).toStartWith("SCRAM-SHA-256$");
  expect(verifiers[md5.user]).toStartWith("md5");
  writeFileSync(
    join(dir, "userlist.txt"),
    [
      `"${scram.user}" "${verifiers[scram.user]}"`,
      `"${md5.user}" "${verifiers[md5.user]}"`,
      // pg_hba asks this role for a cleartext password: PgGate needs the password itself.
      `"${plain.user}" "${plain.password}"`,
      "",
    ].join("\n"),
  );
  port = freePort();
  const p = c.primary;
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    `;; PgBouncer in front of the app cluster
[databases]
app = host=${p.host} port=${p.port} dbname=app pool_size=5
app_session = host=${p.host} port=${p.port} dbname=app pool_mode=session
admin_db = host=${p.host} port=${p.port} dbname=postgres
; a forced user: PgGate has none
reporting = host=${p.host} port=${p.port} dbname=app user=${scram.user} password='${scram.password}' client_encoding=UTF8
* = host=${p.host} port=${p.port}

[users]
${md5.user} = pool_mode=transaction max_user_connections=10

[pgbouncer]
logfile = /var/log/postgresql/pgbouncer.log
pidfile = /var/run/postgresql/pgbouncer.pid
listen_addr = 127.0.0.1
listen_port = ${port}
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist.txt
admin_users = postgres, ${scram.user}
stats_users = stats
pool_mode = transaction
default_pool_size = 10
min_pool_size = 1
reserve_pool_size = 2
reserve_pool_timeout = 1.5
max_client_conn = 200
max_db_connections = 30
server_lifetime = 1800
server_idle_timeout = 300.5
query_wait_timeout = 60
idle_transaction_timeout = 120
server_connect_timeout = 5
server_login_retry = 2
client_login_timeout = 30
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits, options
server_tls_sslmode = disable
%include tuning.ini
`,
  );
  writeFileSync(join(dir, "tuning.ini"), "tcp_keepalive = 1\ntcp_keepidle = 60\nso_reuseport = 1\n");
  // The ini names /etc/pgbouncer/userlist.txt; the second argument says where it is here.
  converted = await run(pggate("convert", join(dir, "pgbouncer.ini"), join(dir, "userlist.txt")));
  writeFileSync(join(dir, "pggate.yaml"), converted.stdout);
}, 60_000);

afterAll(async () => {
  proc?.kill("SIGTERM");
  await proc?.exited;
});

describe("pggate convert", () => {
  test("converts, names every setting left behind on stderr, and says the result passes check", () => {
    expect(converted.code).toBe(0);
    const lines = converted.stderr.trim().split("\n").map((l) => l.replaceAll(`${dir}/`, ""));
    expect(lines).toEqual([
      "pggate convert: pgbouncer.ini:7: [databases] reporting user=: unsupported: PgGate has no forced user: clients log in to this database as themselves, so each needs its own role",
      "pggate convert: pgbouncer.ini:7: [databases] reporting password=: unsupported: PgGate has no forced user (the password goes with user=)",
      "pggate convert: pgbouncer.ini:7: [databases] reporting client_encoding=: unsupported: PgGate sets no server parameters per database; use ALTER DATABASE … SET client_encoding on the server",
      "pggate convert: pgbouncer.ini:11: [users] pggate_md5 max_user_connections=: unsupported: PgGate has no per-user connection cap; the user's pool.size caps each of its pools",
      "pggate convert: pgbouncer.ini:14: logfile: dropped: PgGate logs to stderr (log.format logfmt or json, log.level); let systemd, Docker or a redirect collect it",
      "pggate convert: pgbouncer.ini:15: pidfile: dropped: PgGate runs in the foreground and writes no pid file; the service manager (systemd, Docker) tracks it",
      "pggate convert: pgbouncer.ini:34: server_login_retry: dropped: PgGate retries a failed connect right away, retry.connect_attempts times with backoff from retry.backoff_ms (100 ms), while the client waits",
      "pggate convert: pgbouncer.ini:36: server_reset_query: dropped: PgGate resets a server connection itself when the client lets it go (the client's session state pins it instead of leaking)",
      "pggate convert: pgbouncer.ini:37: ignore_startup_parameters: dropped: not needed: PgGate does not refuse startup parameters (extra_float_digits, options, ...); it applies them on the server connection",
      "pggate convert: tuning.ini:3: so_reuseport: dropped: to run several processes on one port, set workers: N (they share the port with SO_REUSEPORT)",
      "pggate convert: the result passes pggate check",
    ]);
    expect(converted.stdout).toContain(`  userlist: ${join(dir, "userlist.txt")}  # named on the command line, instead of auth_file = /etc/pgbouncer/userlist.txt (`);
    expect(converted.stdout).toContain("  reserve_size: 2  # reserve_pool_size = 2 (");
    // The forced user's password= is shown nowhere.
    expect(converted.stdout).not.toContain(cluster().users.scram.password);
    expect(converted.stderr).not.toContain(cluster().users.scram.password);
  });

  test("pggate check accepts the file", async () => {
    const r = await run(pggate("check", join(dir, "pggate.yaml")));
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, `${join(dir, "pggate.yaml")}: OK`, ""]);
  });

  test("PgGate started from it serves SCRAM, MD5 and cleartext users on every database, with the pool settings carried over", async () => {
    const metricsPort = freePort();
    proc = Bun.spawn(pggate("--config", join(dir, "pggate.yaml")), { stdout: "ignore", stderr: "pipe", env: { ...process.env, PGGATE_METRICS__PORT: String(metricsPort) } });
    await waitForPort(port);
    const { scram, md5, plain } = cluster().users;
    for (const user of [scram, md5, plain]) {
      expect(await psql(port, user, "SELECT current_user || ' ' || current_database()", { db: "app" })).toBe(`${user.user} app`);
    }
    expect(await psql(port, scram, "SELECT current_database()", { db: "app_session" })).toBe("app");
    expect(await psql(port, scram, "SELECT current_database()", { db: "admin_db" })).toBe("postgres");
    // No forced user: the client is itself on "reporting".
    expect(await psql(port, md5, "SELECT current_user || ' ' || current_database()", { db: "reporting" })).toBe(`${md5.user} app`);
    // "*" serves a name that is not listed, as that database.
    expect(await psql(port, md5, "SELECT current_database()", { db: "postgres" })).toBe("postgres");
    // A wrong password is refused by PgGate, against the userlist.
    await expect(psql(port, { user: scram.user, password: "wrong" }, "SELECT 1")).rejects.toThrow("password authentication failed");

    // The admin console (admin_users) shows the converted pool settings.
    const admin = new pg.Client({ host: "127.0.0.1", port, user: scram.user, password: scram.password, database: "pggate" });
    await admin.connect();
    try {
      const dbs = (await admin.query("SHOW DATABASES")).rows as { name: string; database: string; pool_size: number; pool_mode: string }[];
      const by = Object.fromEntries(dbs.map((d) => [d.name, d]));
      expect(by.app).toMatchObject({ database: "app", pool_size: 5 });
      expect(by.app_session).toMatchObject({ database: "app", pool_size: 10, pool_mode: "session" });
      expect(by.admin_db).toMatchObject({ database: "postgres", pool_size: 10, pool_mode: "transaction" });
      const config = Object.fromEntries(((await admin.query("SHOW CONFIG")).rows as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      expect(config).toMatchObject({
        "listen.max_client_connections": "200",
        "pool.idle_timeout_ms": "300500",
        "pool.max_lifetime_ms": "1800000",
        "pool.acquire_timeout_ms": "60000",
        "listen.idle_in_transaction_timeout_ms": "120000",
        "nodes.max_connections": "30",
        "nodes.tcp_keepalive_idle_ms": "60000",
        "auth.mode": "userlist",
      });
    } finally {
      await admin.end();
    }
  }, 60_000);
});

describe("Debian's stock pgbouncer.ini", () => {
  test("converts with its userlist given, and the result passes check", async () => {
    const userlist = join(dir, "stock-userlist.txt");
    writeFileSync(userlist, "");
    const stock = join(import.meta.dir, "../fixtures/pgbouncer/debian-stock.ini");
    const r = await run(pggate("convert", stock, userlist));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("debian-stock.ini:45: logfile: dropped");
    expect(r.stderr).toContain("pggate convert: the result passes pggate check\n");
    const yaml = join(dir, "stock.yaml");
    writeFileSync(yaml, r.stdout);
    expect((await run(pggate("check", yaml))).code).toBe(0);
  });

  test("--help lists convert; a bad command line exits 2", async () => {
    expect((await run(pggate("--help"))).stdout).toContain("convert INI [USERLIST]");
    const bad = await run(pggate("convert"));
    expect([bad.code, bad.stderr]).toEqual([2, "pggate convert: expected a pgbouncer.ini and optionally its userlist\nusage: pggate convert PGBOUNCER_INI [USERLIST] > pggate.yaml\n"]);
    const missing = await run(pggate("convert", join(dir, "nope.ini")));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toStartWith(`pggate convert: ${join(dir, "nope.ini")}: ENOENT`);
  });
});
