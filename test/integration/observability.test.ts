// Issue 4 acceptance: metrics, HTTP endpoints and the admin console, through real clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import pg from "pg";
import { cluster, psql, run, startGatewayFromFile, type RunningGateway } from "./harness.ts";

let gw: RunningGateway & { path: string };
let metricsUrl = "";
const admin = { user: "pggate_md5", password: "md5_pw" };

function client(port: number, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const u = cluster().users.scram;
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", ...extra });
  c.on("error", () => {});
  return c;
}

function adminClient(port: number): pg.Client {
  const c = new pg.Client({ host: "127.0.0.1", port, user: admin.user, password: admin.password, database: "pggate" });
  c.on("error", () => {});
  return c;
}

async function scrape(): Promise<string> {
  return (await fetch(`${metricsUrl}/metrics`)).text();
}

/** Sum of all samples of `name` whose labels include every pair in `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN|\+Inf)$/);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

beforeAll(async () => {
  gw = startGatewayFromFile({ auth: { mode: "auth_query" }, metrics: { enabled: true, port: 0 }, health: { interval_ms: 200 }, admin: { users: ["pggate_md5"] } });
  metricsUrl = gw.gateway.metricsUrl;
  // Health checks mark all three nodes up with their roles.
  for (let i = 0; i < 50; i++) {
    if (sample(await scrape(), "pggate_node_up") === 3) break;
    await Bun.sleep(100);
  }
});

afterAll(async () => {
  await gw.stop();
});

describe("metrics", () => {
  test("reads count on the replica route, writes on the primary route; histograms observe", async () => {
    const before = await scrape();
    const c = client(gw.port);
    await c.connect();
    try {
      for (let i = 0; i < 10; i++) await c.query("SELECT 1");
      const afterReads = await scrape();
      expect(sample(afterReads, "pggate_queries_total", { route: "replica" }) - sample(before, "pggate_queries_total", { route: "replica" })).toBeGreaterThanOrEqual(10);
      expect(sample(afterReads, "pggate_queries_total", { route: "replica", reason: "read" })).toBeGreaterThanOrEqual(10);
      await c.query("CREATE TEMP TABLE IF NOT EXISTS m (x int)");
      const afterWrite = await scrape();
      expect(sample(afterWrite, "pggate_queries_total", { route: "primary" })).toBeGreaterThan(sample(afterReads, "pggate_queries_total", { route: "primary" }));
      expect(sample(afterWrite, "pggate_queries_total", { route: "primary", reason: "pinned:temp_table" })).toBeGreaterThanOrEqual(1);
      expect(sample(afterWrite, "pggate_query_duration_seconds_count", { route: "replica" })).toBeGreaterThanOrEqual(10);
      expect(sample(afterWrite, "pggate_pool_wait_seconds_count")).toBeGreaterThan(0);
      expect(sample(afterWrite, "pggate_client_pins", { reason: "temp_table" })).toBe(1);
      expect(sample(afterWrite, "pggate_client_connections")).toBeGreaterThanOrEqual(1);
    } finally {
      await c.end();
    }
  });

  test("every documented family is present; three nodes up with their roles", async () => {
    const text = await scrape();
    for (const family of [
      "pggate_client_connections",
      "pggate_client_connections_total",
      "pggate_queries_total",
      "pggate_query_duration_seconds",
      "pggate_server_connections",
      "pggate_pool_wait_seconds",
      "pggate_node_up",
      "pggate_replica_lag_seconds",
      "pggate_replica_lag_bytes",
      "pggate_errors_total",
      "pggate_config_reloads_total",
      "pggate_prepared_statements",
      "pggate_prepared_statement_hits_total",
      "pggate_client_pins",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "pggate_event_loop_lag_seconds",
      "pggate_node_role",
      "pggate_pool_clients",
      "pggate_pool_servers",
      "pggate_pool_maxwait_seconds",
      "pggate_pool_transactions_total",
      "pggate_pool_queries_total",
      "pggate_pool_bytes_total",
      "pggate_build_info",
      "process_start_time_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    // Up has no role label (a failover must not start a new series); the role is its own family.
    expect(sample(text, "pggate_node_up")).toBe(3);
    expect(text).not.toMatch(/^pggate_node_up\{[^}]*role=/m);
    expect(sample(text, "pggate_node_role", { role: "primary" })).toBe(1);
    expect(sample(text, "pggate_node_role", { role: "replica" })).toBe(2);
    // Every error kind exists before the first error (rate() needs the series).
    expect(text).toMatch(/^pggate_errors_total\{kind="canceled"\} \d+$/m);
    expect(text).toMatch(/^pggate_build_info\{version="[^"]+",commit="[^"]+",bun="[^"]+"\} 1$/m);
  });

  test("promtool check metrics passes (when promtool is installed)", async () => {
    if (Bun.which("promtool") === null) {
      console.log("promtool not installed (Debian package prometheus): skipped");
      return;
    }
    const text = await scrape();
    const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
    expect(out.trim()).toBe("");
    expect(await p.exited).toBe(0);
  });

  test("errors are counted by kind", async () => {
    const before = sample(await scrape(), "pggate_errors_total", { kind: "auth" });
    const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: cluster().users.md5.user, password: "wrong", database: "app" });
    await c.connect().catch(() => null);
    expect(sample(await scrape(), "pggate_errors_total", { kind: "auth" })).toBe(before + 1);
  });

  test("/healthz, /readyz and /status", async () => {
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    const status = (await (await fetch(`${metricsUrl}/status`)).json()) as { nodes: { role: string; up: boolean }[] };
    expect(status.nodes.map((n) => n.role).sort()).toEqual(["primary", "replica", "replica"]);
    expect(status.nodes.every((n) => n.up)).toBe(true);
  });
});

describe("admin console", () => {
  const SHOWS = ["POOLS", "CLIENTS", "SERVERS", "NODES", "STATS", "CONFIG", "VERSION"];

  test("each SHOW returns rows through psql", async () => {
    // Some activity so pools and stats have rows.
    await psql(gw.port, cluster().users.scram, "SELECT 1");
    for (const what of SHOWS) {
      const out = await psql(gw.port, admin, `SHOW ${what}`, { db: "pggate" });
      expect(out.length).toBeGreaterThan(0);
    }
    const nodes = await psql(gw.port, admin, "SHOW NODES", { db: "pggate" });
    const roles = nodes.split("\n").map((l) => l.split("|")[4]);
    expect(roles.sort()).toEqual(["primary", "replica", "replica"]);
  });

  test("each SHOW returns rows through node-postgres; unknown commands list what exists", async () => {
    const a = adminClient(gw.port);
    await a.connect();
    try {
      for (const what of SHOWS) {
        const r = await a.query(`SHOW ${what}`);
        expect(r.rows.length).toBeGreaterThan(0);
      }
      const clients = await a.query("SHOW CLIENTS");
      expect(Object.keys(clients.rows[0])).toEqual(expect.arrayContaining(["pin", "route", "wait", "wait_us", "application_name"]));
      const err = await a.query("SHOW NONSENSE").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("42601");
      expect((err as pg.DatabaseError).message).toContain("SHOW POOLS");
      // Extended protocol too (parameterless prepared statement).
      const ext = await a.query({ name: "nodes", text: "SHOW NODES" });
      expect(ext.rows.length).toBe(3);
    } finally {
      await a.end();
    }
  });

  test("SHOW POOLS and SHOW CLIENTS: PgBouncer's column names, counts typed int4 as PgBouncer types them; the console answers as database pgbouncer too", async () => {
    const app = client(gw.port, { application_name: "obs_pgb_names" });
    await app.connect();
    await app.query("SELECT 1");
    for (const database of ["pggate", "pgbouncer"]) {
      const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: admin.user, password: admin.password, database });
      await c.connect();
      try {
        const pools = await c.query("SHOW POOLS");
        const names = pools.fields.map((f) => f.name);
        for (const n of ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "maxwait", "maxwait_us", "pool_mode"]) expect(names).toContain(n);
        const typeOf = (n: string) => pools.fields.find((f) => f.name === n)!.dataTypeID;
        for (const n of ["cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait", "maxwait_us"]) expect(typeOf(n)).toBe(23);
        expect(typeOf("pool_mode")).toBe(25);
        const clients = await c.query("SHOW CLIENTS");
        const mine = clients.rows.find((r) => r.application_name === "obs_pgb_names");
        expect(mine).toBeDefined();
        expect(mine.addr).toBe("127.0.0.1");
        expect(Number(mine.port)).toBeGreaterThan(0);
        expect(Number(mine.local_port)).toBe(gw.port);
        expect(mine.tls).toBe(""); // PgBouncer's text column: empty without TLS
        for (const what of ["DATABASES", "USERS", "TOTALS", "MEM", "FDS"]) expect((await c.query(`SHOW ${what}`)).rows.length).toBeGreaterThan(0);
      } finally {
        await c.end();
      }
    }
    await app.end();
  });

  test("SET, DISABLE / ENABLE, RECONNECT + WAIT_CLOSE, KILL db", async () => {
    const a = adminClient(gw.port);
    await a.connect();
    try {
      await a.query("SET pool.prepared_statements_cache_size = 321");
      const cfg = (await a.query("SHOW CONFIG")).rows.find((r) => r.key === "pool.prepared_statements_cache_size");
      expect(String(cfg.value)).toBe("321");
      const restart = await a.query("SET listen.port = 1").catch((e: Error) => e);
      expect((restart as Error).message).toContain("listen.port needs a restart");
      const bad = await a.query("SET pool.size = many").catch((e: Error) => e);
      expect((bad as Error).message).toContain("pool.size: must be an integer");

      await a.query("DISABLE app");
      const refused = await client(gw.port).connect().catch((e: Error & { code?: string }) => e);
      expect((refused as { code?: string }).code).toBe("57P03");
      await a.query("ENABLE app");

      const c = client(gw.port);
      await c.connect();
      const pid1 = (await c.query("SELECT pg_backend_pid() AS p, txid_current()")).rows[0].p;
      await a.query("RECONNECT app");
      await a.query("WAIT_CLOSE app");
      const pid2 = (await c.query("SELECT pg_backend_pid() AS p, txid_current()")).rows[0].p;
      expect(pid2).not.toBe(pid1);

      const gone = new Promise<string>((resolve) => c.on("error", (e: Error & { code?: string }) => resolve(e.code ?? e.message)));
      await a.query("KILL app");
      expect(await gone).toBe("57P01");
    } finally {
      await a.end();
    }
  });

  test("a non-admin user is refused with 28000", async () => {
    const u = cluster().users.scram;
    const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "pggate" });
    const err = await c.connect().then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    expect(err?.code).toBe("28000");
  });

  test("RELOAD applies the file and counts success; a broken file is rejected and counted", async () => {
    const before = await scrape();
    const original = readFileSync(gw.path, "utf8");
    writeFileSync(gw.path, original.replace(/size: \d+/, "size: 7") + "\n");
    await psql(gw.port, admin, "RELOAD", { db: "pggate" });
    const after = await scrape();
    expect(sample(after, "pggate_config_reloads_total", { result: "success" })).toBe(sample(before, "pggate_config_reloads_total", { result: "success" }) + 1);
    writeFileSync(gw.path, "pool: [unclosed\n");
    const bad = await run(["psql", `host=127.0.0.1 port=${gw.port} user=${admin.user} dbname=pggate`, "-c", "RELOAD"], { PGPASSWORD: admin.password });
    expect(bad.stderr).toContain("config rejected");
    expect(sample(await scrape(), "pggate_config_reloads_total", { result: "error" })).toBe(sample(before, "pggate_config_reloads_total", { result: "error" }) + 1);
    writeFileSync(gw.path, original);
    await psql(gw.port, admin, "RELOAD", { db: "pggate" });
  });

  test("PAUSE makes new queries wait while a running transaction completes; RESUME releases them", async () => {
    const a = client(gw.port);
    const b = client(gw.port);
    const adm = adminClient(gw.port);
    await Promise.all([a.connect(), b.connect(), adm.connect()]);
    try {
      await a.query("BEGIN");
      await a.query("SELECT 1");
      const events: string[] = [];
      const pause = adm.query("PAUSE").then(() => events.push("paused"));
      await Bun.sleep(200);
      expect(events).toEqual([]); // PAUSE waits for the open transaction
      const waiting = b.query("SELECT 'b ran' AS s").then(() => events.push("b ran"));
      await a.query("SELECT 2"); // the running transaction goes on
      await a.query("COMMIT");
      events.push("a committed");
      await pause;
      await Bun.sleep(300);
      expect(events).toEqual(["a committed", "paused"]); // b still waits
      const adm2 = adminClient(gw.port);
      await adm2.connect();
      const clients = await adm2.query("SHOW CLIENTS");
      expect(clients.rows.some((r) => r.state === "waiting")).toBe(true);
      await adm2.query("RESUME");
      await adm2.end();
      await waiting;
      expect(events).toEqual(["a committed", "paused", "b ran"]);
    } finally {
      await Promise.all([a.end(), b.end(), adm.end()]);
    }
  });

  test("KILL_CLIENT ends a client with 57P01", async () => {
    const victim = client(gw.port, { application_name: "victim" });
    await victim.connect();
    const closed = new Promise<string>((resolve) => victim.on("error", (e: Error & { code?: string }) => resolve(e.code ?? e.message)));
    const adm = adminClient(gw.port);
    await adm.connect();
    try {
      const rows = (await adm.query("SHOW CLIENTS")).rows.filter((r) => r.database === "app");
      const id = rows[rows.length - 1].id;
      await adm.query(`KILL_CLIENT ${id}`);
      expect(await closed).toBe("57P01");
    } finally {
      await adm.end();
      await victim.end().catch(() => null);
    }
  });
});

describe("examples/grafana-dashboard.json", () => {
  test("every metric its queries name is one PgGate exports", async () => {
    const dash = JSON.parse(readFileSync("examples/grafana-dashboard.json", "utf8")) as { panels: { targets: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
    const exprs = [...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dash.templating.list.map((v) => v.query).filter((q): q is string => typeof q === "string")];
    const named = new Set(exprs.flatMap((e) => e.match(/\b(?:pggate|process|nodejs)_[a-z0-9_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, "")));
    expect(named.size).toBeGreaterThan(10);
    const text = await scrape();
    const missing = [...named].filter((m) => !text.includes(`# TYPE ${m} `));
    expect(missing).toEqual([]);
  });
});
