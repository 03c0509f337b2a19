// Issue 25 items 3 and 4: the admin console speaks PgBouncer 1.18's SHOW tables (proved against a
// real PgBouncer 1.18: names, order and type OIDs of every shared RowDescription), one POOLS row per
// (database, user), remote_pid joins to pg_stat_activity, Debian's prometheus-pgbouncer-exporter
// gets at least the series PgBouncer gives it, and admin.stats_users may only read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";
import { EXPORTER_BIN, exporterSeries, parseSeries, PGBOUNCER_BIN, runExporterCli, startPgBouncer, type RunningPgBouncer } from "./pgbouncer.ts";

const admin = cluster().users.md5;
const stats = cluster().users.plain;
const app = cluster().users.scram;

/** Every SHOW both answer. HELP is left out: PgBouncer answers it with a NOTICE and no columns. */
const SHARED = ["STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS", "POOLS", "LISTS", "DATABASES", "USERS", "CLIENTS", "SERVERS", "CONFIG", "VERSION", "MEM", "FDS", "SOCKETS", "ACTIVE_SOCKETS", "DNS_HOSTS", "DNS_ZONES"];

if (PGBOUNCER_BIN === null) console.log("pgbouncer-compat: pgbouncer is not installed; skipping the comparisons with a real PgBouncer (`.ci/run` installs it)");
if (EXPORTER_BIN === null) console.log("pgbouncer-compat: prometheus-pgbouncer-exporter is not installed; skipping the exporter comparison");

let gw: RunningGateway;
let bouncer: RunningPgBouncer | null = null;

function connect(port: number, user: string, password: string, database: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ host: "127.0.0.1", port, user, password, database, ...extra });
  c.on("error", () => {});
  return c.connect().then(() => c);
}

type Row = Record<string, unknown>;

async function rows(c: pg.Client, sql: string): Promise<Row[]> {
  return (await c.query(sql)).rows as Row[];
}

async function fields(c: pg.Client, sql: string): Promise<[string, number][]> {
  const r = await c.query({ text: sql, rowMode: "array" });
  return r.fields.map((f) => [f.name, f.dataTypeID]);
}

beforeAll(async () => {
  // passthrough (with the harness's auth_user): a stats user authenticates like any user.
  gw = startGateway({ admin: { users: [admin.user], stats_users: [stats.user] } });
  if (PGBOUNCER_BIN !== null) bouncer = await startPgBouncer();
});

afterAll(async () => {
  await gw.stop();
  await bouncer?.stop();
});

describe.skipIf(PGBOUNCER_BIN === null)("against a real PgBouncer 1.18", () => {
  test("every shared SHOW: PgBouncer's columns, in its order, with its type OIDs, first", async () => {
    const theirs = await connect(bouncer!.port, bouncer!.adminUser, "", "pgbouncer");
    const ours = await connect(gw.port, admin.user, admin.password, "pgbouncer");
    // Traffic on both, so CLIENTS and SERVERS have rows of each kind.
    const b = await connect(bouncer!.port, bouncer!.adminUser, "", "app");
    const g = await connect(gw.port, app.user, app.password, "app");
    try {
      await b.query("BEGIN");
      await b.query("SELECT 1");
      await g.query("BEGIN");
      await g.query("SELECT 1");
      expect((await theirs.query("SHOW VERSION")).rows[0].version).toStartWith("PgBouncer 1.18");
      const report: string[] = [];
      for (const what of SHARED) {
        const want = await fields(theirs, `SHOW ${what}`);
        const got = await fields(ours, `SHOW ${what}`);
        expect({ what, columns: got.slice(0, want.length) }).toEqual({ what, columns: want });
        const extra = got.slice(want.length).map(([n]) => n);
        report.push(`SHOW ${what.padEnd(14)} ${String(want.length).padStart(2)} columns identical (${[...new Set(want.map(([, oid]) => oid))].join("/")})${extra.length ? `; PgGate adds ${extra.join(", ")}` : ""}`);
      }
      console.log(`RowDescription comparison with ${(await theirs.query("SHOW VERSION")).rows[0].version}:\n  ${report.join("\n  ")}`);
    } finally {
      await b.query("COMMIT");
      await g.query("COMMIT");
      await Promise.all([theirs.end(), ours.end(), b.end(), g.end()]);
    }
  });

  test("a stats user: both refuse the same commands with PgBouncer's message", async () => {
    const theirs = await connect(bouncer!.port, bouncer!.statsUser, "", "pgbouncer");
    const ours = await connect(gw.port, stats.user, stats.password, "pgbouncer");
    try {
      for (const sql of ["RELOAD", "PAUSE", "RESUME", "SUSPEND", "KILL app", "SET verbose = 1", "SHUTDOWN"]) {
        const a = (await theirs.query(sql).catch((e: pg.DatabaseError) => e)) as pg.DatabaseError;
        const b = (await ours.query(sql).catch((e: pg.DatabaseError) => e)) as pg.DatabaseError;
        expect({ sql, message: b.message }).toEqual({ sql, message: a.message });
        // PgBouncer 1.18 says 08P01 (protocol violation); PgGate says what it is.
        expect([a.code, b.code]).toEqual(["08P01", "42501"]);
      }
      expect((await ours.query("SHOW POOLS")).fields[0].name).toBe("database");
    } finally {
      await Promise.all([theirs.end(), ours.end()]);
    }
  });

  test.skipIf(EXPORTER_BIN === null)("prometheus-pgbouncer-exporter: the same failure as shipped, and at least PgBouncer's series from its other collectors", async () => {
    // Clients on both, so POOLS has a row per (database, user) to label.
    const b = await connect(bouncer!.port, bouncer!.adminUser, "", "app");
    const g = await connect(gw.port, app.user, app.password, "app");
    try {
      await b.query("SELECT 1");
      for (let i = 0; i < 5; i++) await g.query("SELECT 1");
      await g.query("BEGIN");
      await g.query("SELECT txid_current()");
      await g.query("COMMIT");

      // As shipped (1.7, for PgBouncer < 1.8): its STATS collector reads total_requests, gone
      // since PgBouncer 1.8, and the exporter exits before serving anything. Same on both.
      const cliTheirs = await runExporterCli(bouncer!.port, bouncer!.statsUser, "");
      const cliOurs = await runExporterCli(gw.port, stats.user, stats.password);
      for (const r of [cliTheirs, cliOurs]) {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("KeyError: 'total_requests'");
      }

      const theirs = await exporterSeries(bouncer!.port, bouncer!.statsUser, "");
      const ours = await exporterSeries(gw.port, stats.user, stats.password);
      expect(theirs.stderr).toBe("");
      expect(ours.stderr).toBe("");
      const t = parseSeries(theirs.stdout);
      const o = parseSeries(ours.stdout);
      console.log(`exporter collectors POOLS, DATABASES, LISTS\n--- from PgBouncer 1.18:\n${t.map(([k, v]) => `${k} ${v}`).join("\n")}\n--- from PgGate:\n${o.map(([k, v]) => `${k} ${v}`).join("\n")}`);
      // Every family (and label names) PgBouncer yields, PgGate yields; no label set twice.
      const shape = (k: string): string => k.replace(/="[^"]*"/g, "");
      const ourShapes = new Set(o.map(([k]) => shape(k)));
      for (const [k] of t) expect(ourShapes).toContain(shape(k));
      expect(new Set(o.map(([k]) => k)).size).toBe(o.length);
      // PgGate's (app, user) pool is one series, whatever the nodes behind it.
      const active = o.filter(([k]) => k.startsWith("pgbouncer_active_clients{") && k.includes(`user="${app.user}"`));
      expect(active.map(([k]) => k)).toEqual([`pgbouncer_active_clients{database="app",user="${app.user}"}`]);
      expect(active[0][1]).toBe(1);
    } finally {
      await Promise.all([b.end(), g.end()]);
    }
  });
});

describe("PgBouncer's keys and values", () => {
  test("SHOW POOLS: one row per (database, user) although the pools span nodes; POOLS_BY_NODE has the breakdown", async () => {
    const a = await connect(gw.port, admin.user, admin.password, "pggate");
    const c = await connect(gw.port, app.user, app.password, "app");
    try {
      for (let i = 0; i < 6; i++) await c.query("SELECT 1"); // reads: the replicas
      await c.query("BEGIN");
      await c.query("SELECT txid_current()"); // a transaction: the primary
      await c.query("COMMIT");
      const byNode = (await rows(a, "SHOW POOLS_BY_NODE")).filter((r) => r.user === app.user && r.database === "app");
      expect(byNode.length).toBeGreaterThanOrEqual(2);
      const pools = await rows(a, "SHOW POOLS");
      const keys = pools.map((r) => `${r.database}/${r.user}`);
      expect(new Set(keys).size).toBe(keys.length);
      const mine = pools.filter((r) => r.user === app.user && r.database === "app");
      expect(mine).toHaveLength(1);
      const sum = (k: string): number => byNode.reduce((n, r) => n + Number(r[k]), 0);
      expect(mine[0].sv_idle).toBe(sum("sv_idle"));
      expect(mine[0].sv_active).toBe(sum("sv_active"));
      expect(mine[0].nodes).toBe(byNode.length);
      expect(mine[0].cl_active).toBe(1);
    } finally {
      await Promise.all([a.end(), c.end()]);
    }
  });

  test("SHOW CLIENTS remote_pid is the backend serving the client: it joins to pg_stat_activity and to SHOW SERVERS", async () => {
    const a = await connect(gw.port, admin.user, admin.password, "pgbouncer");
    const c = await connect(gw.port, app.user, app.password, "app", { application_name: "compat_remote_pid" });
    const primary = await connect(cluster().primary.port, cluster().superuser, "", "postgres");
    try {
      await c.query("BEGIN");
      const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      const me = (await rows(a, "SHOW CLIENTS")).find((r) => r.application_name === "compat_remote_pid");
      expect(me).toMatchObject({ type: "C", user: app.user, database: "app", state: "active", remote_pid: pid, addr: "127.0.0.1", local_port: gw.port, close_needed: 0 });
      expect(String(me?.connect_time)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      const server = (await rows(a, "SHOW SERVERS")).find((r) => r.ptr === me?.link);
      expect(server).toMatchObject({ type: "S", remote_pid: pid, link: me?.ptr, port: cluster().primary.port });
      const activity = (await primary.query("SELECT usename, datname FROM pg_stat_activity WHERE pid = $1", [pid])).rows;
      expect(activity).toEqual([{ usename: app.user, datname: "app" }]);
      await c.query("COMMIT");
      // Idle in transaction pooling: no server, so no pid.
      const after = (await rows(a, "SHOW CLIENTS")).find((r) => r.application_name === "compat_remote_pid");
      expect(after).toMatchObject({ remote_pid: 0, link: "" });
    } finally {
      await Promise.all([a.end(), c.end(), primary.end()]);
    }
  });

  test("SHOW CONFIG says changeable yes/no; SHOW LISTS has PgBouncer's twelve items first; SHOW DATABASES has force_user, min_pool_size, reserve_pool", async () => {
    const a = await connect(gw.port, admin.user, admin.password, "pggate");
    const c = await connect(gw.port, app.user, app.password, "app");
    try {
      await c.query("SELECT 1");
      const config = await rows(a, "SHOW CONFIG");
      expect(config.find((r) => r.key === "pool.size")?.changeable).toBe("yes");
      expect(config.find((r) => r.key === "listen.port")?.changeable).toBe("no");
      expect(config.find((r) => r.key === "admin.stats_users")?.value).toBe(`[${stats.user}]`);
      const lists = await rows(a, "SHOW LISTS");
      expect(lists.slice(0, 12).map((r) => r.list)).toEqual(["databases", "users", "pools", "free_clients", "used_clients", "login_clients", "free_servers", "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending"]);
      const dbs = await rows(a, "SHOW DATABASES");
      expect(dbs.find((r) => r.name === "app")).toMatchObject({ force_user: null, min_pool_size: 0, reserve_pool: 0, paused: 0, disabled: 0, port: cluster().primary.port });
    } finally {
      await Promise.all([a.end(), c.end()]);
    }
  });
});

describe("admin.stats_users", () => {
  test("may SHOW; every other command is ERROR 42501 'admin access needed'; the session goes on", async () => {
    const s = await connect(gw.port, stats.user, stats.password, "pggate");
    try {
      for (const what of ["POOLS", "STATS", "CLIENTS", "SERVERS", "CONFIG", "NODES", "ROUTES", "LISTS", "FDS"]) {
        expect((await s.query(`SHOW ${what}`)).fields.length).toBeGreaterThan(0);
      }
      for (const sql of ["RELOAD", "PAUSE", "PAUSE app", "RESUME", "SUSPEND", "SHUTDOWN", "KILL app", "KILL_CLIENT 1", "RECONNECT", "WAIT_CLOSE", "DISABLE app", "ENABLE app", "SET pool.size = 3"]) {
        const e = (await s.query(sql).catch((x: pg.DatabaseError) => x)) as pg.DatabaseError;
        expect({ sql, code: e.code, message: e.message }).toEqual({ sql, code: "42501", message: "admin access needed" });
      }
      // Nothing happened: not paused, not disabled, still up.
      const c = await connect(gw.port, app.user, app.password, "app");
      expect((await c.query("SELECT 1 AS x")).rows[0].x).toBe(1);
      await c.end();
      expect((await rows(s, "SHOW DATABASES")).find((r) => r.name === "app")).toMatchObject({ paused: 0, disabled: 0 });
    } finally {
      await s.end();
    }
  });

  test("an admin may run them; SUSPEND is refused for everyone with what to use instead", async () => {
    const a = await connect(gw.port, admin.user, admin.password, "pggate");
    try {
      await a.query("PAUSE app");
      await a.query("RESUME app");
      const e = (await a.query("SUSPEND").catch((x: pg.DatabaseError) => x)) as pg.DatabaseError;
      expect(e.code).toBe("0A000");
      expect(e.message).toContain("SUSPEND is not supported");
      expect(e.hint).toContain("PAUSE");
    } finally {
      await a.end();
    }
  });
});
