// `pggate convert` mappings: each PgBouncer setting to its PgGate key and unit (or a stderr line
// saying why not), authentication, [databases] clusters and [users]; the Debian stock file; and
// every result read back by the real config loader, as `pggate check` reads it.

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig, type Config } from "../../../src/config/index.ts";
import { convertPgBouncer } from "../../../src/convert/index.ts";
import { PGBOUNCER_SETTINGS } from "../../../src/config/pgbouncer-keys.ts";
import { TempDir } from "../config/helpers.ts";

const tmp = new TempDir();
afterAll(() => tmp.remove());
let n = 0;

/** Converts `ini` written as <dir>/pgbouncer.ini (with `files` beside it); notes lose the dir. */
function convert(ini: string, files: Record<string, string> = {}, userlistArg?: string) {
  const dir = join(tmp.path, `case${++n}`);
  for (const [name, text] of Object.entries(files)) tmp.write(join(`case${n}`, name), text);
  tmp.write(join(`case${n}`, "pgbouncer.ini"), ini);
  const out = convertPgBouncer({ iniPath: "pgbouncer.ini", userlistPath: userlistArg, cwd: dir });
  const strip = (s: string) => s.replaceAll(`${dir}/`, "");
  // Every case names users.txt relatively; that note has a test of its own.
  const notes = out.notes.map(strip).filter((l) => !l.includes(": note: relative path users.txt"));
  return { ...out, notes, allNotes: out.notes.map(strip), problems: out.problems.map(strip), yaml: out.yaml, dir };
}

/** The YAML as PgGate loads it; throws with the problems when it would not pass check. */
function load(out: { yaml: string; dir: string }): Config {
  return parseConfig(out.yaml, { source: join(out.dir, "pggate.yaml"), env: {} });
}

const DB = "[databases]\napp = host=10.0.0.1 port=5432\n";
/** A 32-byte SCRAM key, base64 (StoredKey and ServerKey must be 32 bytes for the verifier to be SCRAM). */
const KEY = `${"A".repeat(43)}=`;
const USERS = { "users.txt": `"bob" "SCRAM-SHA-256$4096:c2FsdA==$${KEY}:${KEY}"\n"auth" "auth_pw"\n"md5user" "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"\n` };
const AUTH = "auth_type = md5\nauth_file = users.txt\n";

describe("Debian's stock pgbouncer.ini", () => {
  test("converts, passes check, and names what was dropped", () => {
    const stock = Bun.file(join(import.meta.dir, "../../fixtures/pgbouncer/debian-stock.ini"));
    const out = convert("", { "userlist.txt": "" });
    // The stock file names /etc/pgbouncer/userlist.txt; the userlist argument stands in for it.
    const r = convertPgBouncer({ iniPath: stock.name!, userlistPath: join(out.dir, "userlist.txt") });
    const notes = r.notes.map((l) => l.replace(stock.name!, "debian-stock.ini").replace(`${out.dir}/`, ""));
    expect(notes).toEqual([
      "debian-stock.ini:45: logfile: dropped: PgGate logs to stderr (log.format logfmt or json, log.level); let systemd, Docker or a redirect collect it",
      "debian-stock.ini:46: pidfile: dropped: PgGate runs in the foreground and writes no pid file; the service manager (systemd, Docker) tracks it",
        "note: pool_mode is not set: PgBouncer's default, session, is written as pool.mode: session (PgGate's default, transaction, would share server connections between transactions)",
      "note: userlist.txt lists no users: nobody can log in until it does",
      "note: [databases] lists no database (PgBouncer would serve none): nodes.primary is localhost:5432 and serves every database name; edit it, or add databases: entries to serve only those",
    ]);
    expect(r.problems).toEqual([]);
    const c = load({ yaml: r.yaml, dir: out.dir });
    expect(c.listen).toMatchObject({ host: "localhost", port: 6432 });
    expect(c.nodes.primary).toEqual({ host: "localhost", port: 5432, weight: 1 });
    expect(c.auth).toMatchObject({ mode: "userlist", userlist: join(out.dir, "userlist.txt") });
    expect(c.pool.mode).toBe("session");
    expect(c.databases).toEqual([]);
    expect(r.yaml).toContain("  unix_socket_dir: /var/run/postgresql  # unix_socket_dir = /var/run/postgresql");
  });
});

describe("[pgbouncer] settings", () => {
  test("seconds become milliseconds (fractions too), counts carry over, each with its source as a comment", () => {
    const ini = `${DB}[pgbouncer]\n${AUTH}listen_addr = *\nlisten_port = 6433\npool_mode = transaction\ndefault_pool_size = 0x10\nmin_pool_size = 010\nmax_client_conn = 500\nmax_db_connections = 40\nserver_lifetime = 1800\nserver_idle_timeout = 120.25\nquery_timeout = 30\nquery_wait_timeout = 60\nclient_idle_timeout = 0\nidle_transaction_timeout = 5.5\nserver_connect_timeout = 3\nclient_login_timeout = 20\ntcp_keepalive = 0\ntcp_keepidle = 45\nadmin_users = postgres , ops,\nverbose = 1\nmax_packet_size = 65536\n`;
    const out = convert(ini, USERS);
    expect(out.problems).toEqual([]);
    const c = load(out);
    expect(c.listen).toMatchObject({ host: "0.0.0.0", port: 6433, maxClientConnections: 500, clientIdleTimeoutMs: 0, idleInTransactionTimeoutMs: 5500, handshakeTimeoutMs: 20_000, maxMessageSize: 65536 });
    expect(c.pool).toMatchObject({ mode: "transaction", size: 16, minIdle: 8, maxLifetimeMs: 1_800_000, idleTimeoutMs: 120_250, queryTimeoutMs: 30_000, acquireTimeoutMs: 60_000 });
    expect(c.nodes).toMatchObject({ maxConnections: 40, connectTimeoutMs: 3000, tcpKeepalive: false, tcpKeepaliveIdleMs: 45_000 });
    expect(c.admin.users).toEqual(["postgres", "ops"]);
    expect(c.log.level).toBe("debug");
    expect(out.yaml).toContain("  idle_timeout_ms: 120250  # server_idle_timeout = 120.25 (pgbouncer.ini:14): 120.25 s\n");
    expect(out.yaml).toContain("  host: 0.0.0.0  # listen_addr = * (pgbouncer.ini:6): * → every IPv4 address (:: for IPv6 too)\n");
    expect(out.yaml).toContain("  max_connections: 40  # max_db_connections = 40 (pgbouncer.ini:12); PgBouncer counts per database, PgGate per node across all its pools\n");
    expect(out.notes).toEqual([]);
  });

  test("0 where PgGate reads 0 otherwise: no limit becomes the longest, use-once and OS default keep PgGate's", () => {
    const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nquery_wait_timeout = 0\nclient_login_timeout = 0\nserver_connect_timeout = 0\nserver_lifetime = 0\ntcp_keepidle = 0\n`, USERS);
    const c = load(out);
    expect(c.pool.acquireTimeoutMs).toBe(2_147_483_647);
    expect(c.listen.handshakeTimeoutMs).toBe(2_147_483_647);
    expect(c.nodes.connectTimeoutMs).toBe(2_147_483_647);
    expect(c.pool.maxLifetimeMs).toBe(3_600_000);
    expect(c.nodes.tcpKeepaliveIdleMs).toBe(30_000);
    expect(out.notes).toEqual([
      "pgbouncer.ini:10: server_lifetime: unsupported: 0 makes PgBouncer use each server connection only once; PgGate cannot, so pool.max_lifetime_ms keeps its default",
      "pgbouncer.ini:11: tcp_keepidle: note: 0 means the OS default in PgBouncer; nodes.tcp_keepalive_idle_ms keeps PgGate's default",
    ]);
  });

  test("values PgBouncer or PgGate would refuse are named and left out", () => {
    const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\ndefault_pool_size = 20000\nlisten_port = 64k\nserver_idle_timeout = -1\ntcp_keepalive = maybe\nmax_packet_size = 2147483647\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(load(out).listen.maxMessageSize).toBe(1_073_741_824);
    expect(out.notes).toEqual([
      "pgbouncer.ini:7: default_pool_size: unsupported: 20000 is outside pool.size's range 1..10000 (nearest: 10000); left at PgGate's default",
      'pgbouncer.ini:8: listen_port: unsupported: "64k" is not an integer; left out',
      'pgbouncer.ini:9: server_idle_timeout: unsupported: "-1" is not a number of seconds; left out',
      'pgbouncer.ini:10: tcp_keepalive: unsupported: "maybe" is not 0 or 1; left out',
      "pgbouncer.ini:11: max_packet_size: note: 2147483647 is above PgGate's largest listen.max_message_size; 1073741824 (1 GiB, PostgreSQL's own limit) written instead",
    ]);
  });

  test("pool_mode: unset keeps PgBouncer's session; statement becomes transaction", () => {
    const unset = convert(`${DB}[pgbouncer]\n${AUTH}`, USERS);
    expect(load(unset).pool.mode).toBe("session");
    expect(unset.notes).toContain("note: pool_mode is not set: PgBouncer's default, session, is written as pool.mode: session (PgGate's default, transaction, would share server connections between transactions)");
    const statement = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = statement\n`, USERS);
    expect(load(statement).pool.mode).toBe("transaction");
    expect(statement.notes).toEqual(["pgbouncer.ini:6: pool_mode: unsupported: statement pooling: PgGate pools per transaction (transaction written instead; multi-statement transactions then work too)"]);
  });

  test("listen_addr lists take the first address; an empty one cannot be kept", () => {
    const list = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nlisten_addr = 10.1.1.1, 127.0.0.1\n`, USERS);
    expect(load(list).listen.host).toBe("10.1.1.1");
    expect(list.notes).toEqual(["pgbouncer.ini:7: listen_addr: unsupported: PgGate listens on one address: 10.1.1.1 is taken, 127.0.0.1 left out (0.0.0.0 listens on all)"]);
    const empty = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nlisten_addr =\n`, USERS);
    expect(load(empty).listen.host).toBe("127.0.0.1");
    expect(empty.notes[0]).toStartWith("pgbouncer.ini:7: listen_addr: unsupported: empty: PgBouncer then listens on its Unix socket only");
  });

  test("TLS modes: client verify-* has no client certificates to check; server allow/verify-ca take the nearest", () => {
    const table: [string, string, string, string][] = [
      ["disable", "disable", "disable", "disable"],
      ["allow", "allow", "allow", "prefer"],
      ["prefer", "allow", "prefer", "prefer"],
      ["require", "require", "require", "require"],
      ["verify-ca", "require", "verify-ca", "verify-full"],
      ["verify-full", "require", "verify-full", "verify-full"],
    ];
    for (const [client, listenMode, server, nodesMode] of table) {
      const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nclient_tls_sslmode = ${client}\nserver_tls_sslmode = ${server}\n`, USERS);
      expect([client, out.yaml.match(/^ {4}mode: (\S+)/gm)]).toEqual([client, [`    mode: ${listenMode}`, `    mode: ${nodesMode}`]]);
    }
    const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nclient_tls_sslmode = verify-full\nserver_tls_sslmode = verify-ca\n`, USERS);
    expect(out.notes).toEqual([
      "pgbouncer.ini:7: client_tls_sslmode: unsupported: PgGate does not verify client certificates: verify-full becomes require (TLS required, no certificate asked)",
      "pgbouncer.ini:8: server_tls_sslmode: note: verify-ca becomes verify-full: PgGate also checks the node's host name (nodes.tls.server_name sets the name to check)",
    ]);
    // No certificate was given, and check says so rather than the converter guessing one.
    expect(out.problems).toEqual([
      "output:13:11: listen.tls.cert: is required when listen.tls.mode is require",
      "output:13:11: listen.tls.key: is required when listen.tls.mode is require",
      "output:17:11: nodes.tls.ca: is required when nodes.tls.mode is verify-full",
    ]);
  });

  test("every setting without a PgGate key is named once with its reason; unknown ones too", () => {
    const dropped = PGBOUNCER_SETTINGS.filter((k) => !k.pggate);
    const ini = `${DB}[pgbouncer]\n${AUTH}pool_mode = session\n${dropped.map((k) => `${k.name} = 1`).join("\n")}\nfrobnicate = 1\n`;
    const out = convert(ini, USERS);
    expect(out.problems).toEqual([]);
    expect(out.notes).toEqual([
      ...dropped.map((k, i) => `pgbouncer.ini:${7 + i}: ${k.name}: dropped: ${k.why}`),
      `pgbouncer.ini:${7 + dropped.length}: frobnicate: dropped: not a PgBouncer setting PgGate knows`,
    ]);
  });

  test("reserve_pool_size, reserve_pool_timeout and stats_users map to their PgGate keys", () => {
    const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nreserve_pool_size = 3\nreserve_pool_timeout = 2.5\nstats_users = stats, mon\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(out.yaml).toContain("  reserve_size: 3  # reserve_pool_size = 3 (pgbouncer.ini:7)\n");
    expect(out.yaml).toContain("  reserve_timeout_ms: 2500  # reserve_pool_timeout = 2.5 (pgbouncer.ini:8): 2.5 s\n");
    expect(out.yaml).toContain("admin:\n  stats_users: [stats, mon]");
    expect(out.notes).toEqual([]);
  });
});

describe("authentication", () => {
  test("auth_file with md5 / scram-sha-256: userlist mode on the same file, path from the ini's directory", () => {
    for (const type of ["md5", "scram-sha-256", "hba"]) {
      const hba = type === "hba" ? "auth_hba_file = hba.conf\n" : "";
      const out = convert(`${DB}[pgbouncer]\nauth_type = ${type}\nauth_file = users.txt\n${hba}pool_mode = session\n`, { ...USERS, "hba.conf": "host all all 0.0.0.0/0 scram-sha-256\n" });
      expect(out.problems).toEqual([]);
      const c = load(out);
      expect(c.auth).toMatchObject({ mode: "userlist", userlist: join(out.dir, "users.txt"), hba: type === "hba" ? join(out.dir, "hba.conf") : "" });
      expect(out.yaml).toContain(`  userlist: ${join(out.dir, "users.txt")}  # auth_file = users.txt (pgbouncer.ini:5)\n`);
      expect(out.allNotes[0]).toBe("pgbouncer.ini:5: auth_file: note: relative path users.txt taken from the ini's directory: users.txt (PgBouncer opens it from its working directory)");
    }
  });

  test("the userlist argument wins over auth_file, and its users are checked as PgGate reads them", () => {
    const out = convert(`${DB}[pgbouncer]\nauth_type = scram-sha-256\nauth_file = /nonexistent/userlist.txt\npool_mode = session\n`, { "mine.txt": `"a" "SCRAM-SHA-256$9999999:c2FsdA==$${KEY}:${KEY}"\n` }, "mine.txt");
    expect(load(out).auth.userlist).toBe(join(out.dir, "mine.txt"));
    expect(out.yaml).toContain("  userlist: ");
    expect(out.yaml).toContain("# named on the command line, instead of auth_file = /nonexistent/userlist.txt (pgbouncer.ini:5)");
    expect(out.notes).toEqual([`note: mine.txt: user "a" cannot log in through PgGate: SCRAM iteration count 9999999 exceeds auth.max_scram_iterations (1000000)`]);
  });

  test("a userlist that is missing or that PgGate refuses is named, and check fails on it", () => {
    const missing = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\n`);
    expect(missing.notes).toEqual([
      "note: users.txt cannot be read here (ENOENT: no such file or directory, open 'users.txt'): pggate check fails until it exists",
    ]);
    expect(missing.problems).toEqual(["output:20:13: auth.userlist: file users.txt not found"]);
    const broken = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\n`, { "users.txt": '"bob" md5abc\n' });
    expect(broken.notes.at(-1)).toBe('unsupported: users.txt:1: expected a quoted field, got "md5abc": PgGate refuses the file; fix that line');
    expect(broken.problems).toEqual(['auth.userlist: users.txt:1: expected a quoted field, got "md5abc"']);
  });

  test("auth_user: auth_query mode; its password comes from the userlist when it is a password there", () => {
    const out = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nauth_user = auth\nauth_query = SELECT usename, passwd FROM my_lookup($1)\nauth_dbname = postgres\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(load(out).auth).toMatchObject({ mode: "auth_query", authUser: "auth", authPassword: "auth_pw", authQuery: "SELECT usename, passwd FROM my_lookup($1)", authDatabase: "postgres" });
    expect(out.notes).toContain("pgbouncer.ini:5: auth_file: note: with auth_user, PgGate checks every client through auth_query; " + join(out.dir, "users.txt").replace(`${out.dir}/`, "") + " only supplied auth's password (PgBouncer asked it first for every user)");
    const hashed = convert(`${DB}[pgbouncer]\n${AUTH}pool_mode = session\nauth_user = md5user\n`, USERS);
    expect(load(hashed).auth.authPassword).toBe("");
    expect(hashed.notes).toContain("pgbouncer.ini:7: auth_user: note: md5user's password is not carried over (users.txt holds only its MD5 hash): set PGGATE_AUTH_PASSWORD, or auth.auth_password, unless the server trusts md5user");
  });

  test("no auth_file and no auth_user: passthrough; auth_query without auth_user is dropped", () => {
    const out = convert(`${DB}[pgbouncer]\nauth_type = scram-sha-256\npool_mode = session\nauth_query = SELECT 1, $1\n`);
    expect(load(out).auth.mode).toBe("passthrough");
    expect(out.notes).toEqual([
      "pgbouncer.ini:6: auth_query: dropped: PgBouncer uses it only with auth_user, which is not set",
      "note: no auth_file and no auth_user: auth.mode passthrough lets the primary check passwords (add auth.auth_user for SCRAM/MD5 users to reach replicas)",
    ]);
  });

  test("trust, any, cert and pam say what to do instead; auth_hba_file is read only with auth_type hba", () => {
    for (const type of ["trust", "any", "cert", "pam"]) {
      const out = convert(`${DB}[pgbouncer]\nauth_type = ${type}\nauth_file = users.txt\npool_mode = session\nauth_hba_file = hba.conf\n`, USERS);
      expect(out.problems).toEqual([]);
      expect(load(out).auth.hba).toBe("");
      expect(out.notes[0]).toStartWith(`pgbouncer.ini:4: auth_type: unsupported: auth_type ${type}: `);
      expect(out.notes).toContain(`pgbouncer.ini:7: auth_hba_file: dropped: PgBouncer reads it only with auth_type = hba (auth_type is ${type})`);
    }
  });

  test("an hba file PgGate refuses is named", () => {
    const out = convert(`${DB}[pgbouncer]\nauth_type = hba\nauth_file = users.txt\nauth_hba_file = hba.conf\npool_mode = session\n`, { ...USERS, "hba.conf": "local all all peer\n" });
    expect(out.notes.find((l) => l.includes("auth_hba_file: unsupported"))).toStartWith("pgbouncer.ini:6: auth_hba_file: unsupported: ");
    expect(out.problems[0]).toContain("hba.conf");
  });
});

describe("[databases] and [users]", () => {
  test("the most used address is the top-level cluster; other addresses get their own, entries sharing one share it", () => {
    const ini = [
      "[databases]",
      "app = host=10.0.0.1 port=5432 dbname=app_prod pool_size=5",
      "app2 = host=10.0.0.1 dbname=app2 pool_mode=transaction",
      "reports = host=10.0.0.9 port=5433",
      "reports_ro = host=10.0.0.9 port=5433 dbname=reports pool_mode=session",
      "'my db' = host=10.0.0.1",
      "* = host=10.0.0.1 port=5432",
      "[pgbouncer]",
      AUTH.trim(),
      "pool_mode = session",
    ].join("\n");
    const out = convert(`${ini}\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(out.notes.filter((l) => !l.includes("relative path"))).toEqual([]);
    const c = load(out);
    expect(c.nodes.primary).toEqual({ host: "10.0.0.1", port: 5432, weight: 1 });
    const byName = Object.fromEntries(c.databases.map((d) => [d.name, { dbname: d.dbname, primary: d.nodes?.primary.host ?? null }]));
    expect(byName).toEqual({
      app: { dbname: "app_prod", primary: null },
      app2: { dbname: "", primary: null },
      reports: { dbname: "", primary: "10.0.0.9" },
      reports_ro: { dbname: "reports", primary: "10.0.0.9" },
      "my db": { dbname: "", primary: null },
      "*": { dbname: "", primary: null },
    });
    expect(c.pool.databases).toEqual([
      { name: "app", size: 5, mode: null },
      { name: "app2", size: null, mode: "transaction" },
      { name: "reports_ro", size: null, mode: "session" },
    ]);
    expect(out.yaml).toContain('  "*": {}\n');
    expect(out.yaml).toContain("  # app = host=10.0.0.1 port=5432 dbname=app_prod pool_size=5 (pgbouncer.ini:2)\n  app:\n    dbname: app_prod\n    pool: { size: 5 }\n");
  });

  test("forced users, Unix sockets, host lists, per-database parameters and reserved names are named; passwords never shown", () => {
    const ini = [
      "[databases]",
      "forced = host=10.0.0.1 user=bob password='s3cret pw' client_encoding=UTF8 datestyle=ISO timezone=UTC connect_query='SELECT 1' application_name=x",
      "sock = host=/var/run/postgresql port=5432",
      "nohost = dbname=app",
      "multi = host=10.0.0.1,10.0.0.2 min_pool_size=1 reserve_pool=2 max_db_connections=3 auth_user=lookup",
      "pggate = host=10.0.0.1",
      "bad = host=10.0.0.1 port=x pool_size=0 pool_mode=weird frob=1",
      "broken = host='open",
      "[pgbouncer]",
      AUTH.trim(),
      "pool_mode = session",
    ].join("\n");
    const out = convert(`${ini}\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(out.yaml).not.toContain("s3cret");
    expect(out.notes.join("\n")).not.toContain("s3cret");
    expect(out.yaml).toContain("# forced = host=10.0.0.1 user=bob password=*** client_encoding=UTF8 datestyle=ISO timezone=UTC connect_query='SELECT 1' application_name=x (pgbouncer.ini:2)");
    expect(out.notes.filter((l) => !l.includes("relative path"))).toEqual([
      "pgbouncer.ini:2: [databases] forced user=: unsupported: PgGate has no forced user: clients log in to this database as themselves, so each needs its own role",
      "pgbouncer.ini:2: [databases] forced password=: unsupported: PgGate has no forced user (the password goes with user=)",
      "pgbouncer.ini:2: [databases] forced client_encoding=: unsupported: PgGate sets no server parameters per database; use ALTER DATABASE … SET client_encoding on the server",
      "pgbouncer.ini:2: [databases] forced datestyle=: unsupported: PgGate sets no server parameters per database; use ALTER DATABASE … SET datestyle on the server",
      "pgbouncer.ini:2: [databases] forced timezone=: unsupported: PgGate sets no server parameters per database; use ALTER DATABASE … SET timezone on the server",
      "pgbouncer.ini:2: [databases] forced connect_query=: unsupported: PgGate runs no query on new server connections; use ALTER DATABASE/ROLE … SET for settings",
      "pgbouncer.ini:2: [databases] forced application_name=: unsupported: PgGate sets no server parameters per database; use ALTER DATABASE … SET application_name on the server",
      "pgbouncer.ini:3: [databases] sock host=: unsupported: /var/run/postgresql is a Unix socket directory; PgGate connects to nodes over TCP only: 127.0.0.1 used instead (PostgreSQL must listen on TCP at 127.0.0.1:5432, with a pg_hba host line for it)",
      "pgbouncer.ini:4: [databases] nohost: unsupported: no host= means a Unix socket in PgBouncer; PgGate connects to nodes over TCP only: 127.0.0.1 used instead (PostgreSQL must listen on TCP at 127.0.0.1:5432, with a pg_hba host line for it)",
      "pgbouncer.ini:5: [databases] multi min_pool_size=: unsupported: PgGate's pool.min_idle applies to every pool, not per database",
      "pgbouncer.ini:5: [databases] multi reserve_pool=: unsupported: PgGate's reserve pool (pool.reserve_size) applies to every pool, not per database",
      "pgbouncer.ini:5: [databases] multi max_db_connections=: unsupported: PgGate's cap is per node (nodes.max_connections), not per database",
      "pgbouncer.ini:5: [databases] multi auth_user=: unsupported: PgGate has one auth user for all databases (auth.auth_user)",
      "pgbouncer.ini:5: [databases] multi host=: unsupported: PgBouncer spreads connections over 10.0.0.1, 10.0.0.2; PgGate takes 10.0.0.1 as the primary (list streaming replicas under nodes.replicas)",
      'pgbouncer.ini:6: [databases] pggate: unsupported: "pggate" is the admin console\'s name in PgGate; entry left out',
      'pgbouncer.ini:7: [databases] bad port=: unsupported: "x" is not a port; 5432 used',
      'pgbouncer.ini:7: [databases] bad pool_size=: unsupported: "0" is outside pool.size\'s range 1..10000; the default applies',
      'pgbouncer.ini:7: [databases] bad pool_mode=: unsupported: "weird" is not session, transaction or statement; the default mode applies',
      "pgbouncer.ini:7: [databases] bad frob=: dropped: not a connect-string key PgGate knows",
      "pgbouncer.ini:8: [databases] broken: unsupported: unterminated quoted value for host; entry left out (PgBouncer refuses it too)",
    ]);
    const c = load(out);
    expect(c.databases.map((d) => d.name)).toEqual(["forced", "sock", "nohost", "multi", "bad"]);
    // 10.0.0.1 (forced, multi, bad) is the top-level cluster; the sockets became 127.0.0.1:5432.
    expect(c.nodes.primary?.host).toBe("10.0.0.1");
    expect(c.databases.find((d) => d.name === "sock")?.nodes?.primary).toEqual({ host: "127.0.0.1", port: 5432, weight: 1 });
  });

  test("[users] becomes pool.users; what has no PgGate meaning is named", () => {
    const out = convert(`${DB}[users]\nreporting = pool_mode=session max_user_connections=10\nbulk = pool_size=3 pool_mode=statement\nidle = max_user_connections=1\n[pgbouncer]\n${AUTH}pool_mode = transaction\n`, USERS);
    expect(out.problems).toEqual([]);
    expect(load(out).pool.users).toEqual([
      { name: "reporting", size: null, mode: "session" },
      { name: "bulk", size: 3, mode: "transaction" },
    ]);
    expect(out.notes.filter((l) => !l.includes("relative path"))).toEqual([
      "pgbouncer.ini:4: [users] reporting max_user_connections=: unsupported: PgGate has no per-user connection cap; the user's pool.size caps each of its pools",
      "pgbouncer.ini:5: [users] bulk pool_mode=: unsupported: statement pooling: PgGate pools per transaction (transaction written instead; multi-statement transactions then work too)",
      "pgbouncer.ini:6: [users] idle max_user_connections=: unsupported: PgGate has no per-user connection cap; the user's pool.size caps each of its pools",
    ]);
  });

  test("[peers] and unknown sections are named", () => {
    const out = convert(`${DB}[peers]\n1 = host=a\n[extra]\nx = 1\n[pgbouncer]\n${AUTH}pool_mode = session\n`, USERS);
    expect(out.notes.slice(0, 2)).toEqual([
      "pgbouncer.ini:4: [peers]: unsupported: PgGate has no peering between processes",
      "pgbouncer.ini:6: [extra]: dropped: not a PgBouncer section",
    ]);
  });
});
