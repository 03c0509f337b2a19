// Issue 3 acceptance: reads reach replicas, everything that writes or changes session state
// reaches the primary, transactions stay on one connection, and pooling is invisible to clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import postgres from "postgres";
import { cluster, clusterHba, connString, psql, run, startGateway, waitUntil, type RunningGateway } from "./harness.ts";

type Method = "scram" | "md5" | "plain";
const users = () => cluster().users;

function client(port: number, method: Method = "scram", extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const u = users()[method];
  // query_timeout: a reply that never comes fails its query inside the test, at that step, instead
  // of hanging the test to its 60 s timeout and rejecting unhandled when the gateway stops.
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", query_timeout: 20_000, ...extra });
  c.on("error", () => {});
  return c;
}

async function portOf(c: pg.Client, sql = "SELECT inet_server_port() AS port"): Promise<number> {
  return (await c.query(sql)).rows[0].port;
}

let gw: RunningGateway;
const primaryPort = () => cluster().primary.port;

/**
 * Whether this client's reads reach a replica again. Right after something that may have
 * written, reads go to the primary until a replica has replayed it — at once when the write is
 * not flushed yet (the test cluster runs synchronous_commit = off) — so poll, never expect the
 * very next read there.
 */
async function readsReachReplica(c: pg.Client): Promise<boolean> {
  return waitUntil("a read on a replica", async () => replicaPorts().includes(await portOf(c)), 10_000, 20);
}
const replicaPorts = () => cluster().replicas.map((r) => r.port);

beforeAll(async () => {
  const c = cluster();
  await c.psql(
    c.primary,
    `DROP TABLE IF EXISTS rt_items, rt_target CASCADE;
     DROP MATERIALIZED VIEW IF EXISTS rt_mv;
     DROP SEQUENCE IF EXISTS rt_seq;
     CREATE TABLE rt_items (id serial PRIMARY KEY, v text);
     CREATE TABLE rt_target (id int PRIMARY KEY, v text);
     CREATE SEQUENCE rt_seq;
     CREATE MATERIALIZED VIEW rt_mv AS SELECT count(*) AS n FROM rt_items;
     CREATE OR REPLACE PROCEDURE rt_proc(x text) LANGUAGE sql AS $$ INSERT INTO rt_items (v) VALUES (x) $$;
     CREATE OR REPLACE FUNCTION rt_volatile_insert(x text) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO rt_items (v) VALUES (x) RETURNING id $$;
     CREATE OR REPLACE FUNCTION rt_stable_read() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM rt_items $$;
     GRANT ALL ON rt_items, rt_target, rt_seq, rt_mv, rt_items_id_seq TO pggate_scram, pggate_md5, pggate_plain;
     ALTER MATERIALIZED VIEW rt_mv OWNER TO pggate_scram;
     GRANT pggate_scram TO pggate_md5, pggate_plain;`,
    "app",
  );
  await c.waitForReplay();
  gw = startGateway({ auth: { mode: "auth_query", hba: clusterHba() }, pool: { size: 4 } });
});

afterAll(async () => {
  await gw.stop();
});

describe("read/write split", () => {
  test("20 autocommit reads land only on replicas, spread over both", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      const seen = new Map<number, number>();
      for (let i = 0; i < 20; i++) {
        const p = await portOf(c);
        seen.set(p, (seen.get(p) ?? 0) + 1);
      }
      expect([...seen.keys()].sort()).toEqual([...replicaPorts()].sort());
      expect(seen.has(primaryPort())).toBe(false);
    } finally {
      await c.end();
    }
  });

  test("inside BEGIN everything runs on the primary, on one connection", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      await c.query("BEGIN");
      const pids = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const r = await c.query("SELECT inet_server_port() AS port, pg_backend_pid() AS pid");
        expect(r.rows[0].port).toBe(primaryPort());
        pids.add(r.rows[0].pid);
      }
      expect(pids.size).toBe(1);
      await c.query("COMMIT");
      expect(replicaPorts()).toContain(await portOf(c));
    } finally {
      await c.end();
    }
  });

  test("BEGIN READ ONLY runs the whole transaction on one replica", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      await c.query("BEGIN READ ONLY");
      const r1 = await c.query("SELECT inet_server_port() AS port, pg_backend_pid() AS pid");
      const r2 = await c.query("SELECT inet_server_port() AS port, pg_backend_pid() AS pid");
      expect(replicaPorts()).toContain(r1.rows[0].port);
      expect(r2.rows[0]).toEqual(r1.rows[0]);
      await c.query("COMMIT");
      await c.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      expect(replicaPorts()).toContain(await portOf(c));
      await c.query("ROLLBACK");
    } finally {
      await c.end();
    }
  });

  test("an extended-protocol batch with a write runs on the primary (implicit transaction)", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      const r = await c.query({ text: "INSERT INTO rt_items (v) VALUES ($1) RETURNING inet_server_port() AS port", values: ["ext"] });
      expect(r.rows[0].port).toBe(primaryPort());
      const ext = async () => (await c.query({ text: "SELECT inet_server_port() AS port WHERE $1::int = 1", values: [1] })).rows[0].port as number;
      expect(await waitUntil("an extended read on a replica", async () => replicaPorts().includes(await ext()), 10_000, 20)).toBe(true);
    } finally {
      await c.end();
    }
  });

  test("hints and SET pggate.route override the default", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      expect(await portOf(c, "/* pggate:primary */ SELECT inet_server_port() AS port")).toBe(primaryPort());
      await c.query("SET pggate.route = primary");
      expect(await portOf(c)).toBe(primaryPort());
      await c.query("SET pggate.route TO auto");
      expect(await readsReachReplica(c)).toBe(true);
      const bad = await c.query("SET pggate.route = sideways").catch((e: pg.DatabaseError) => e);
      expect((bad as pg.DatabaseError).code).toBe("22023");
      const opt = client(gw.port, "scram", { options: "-c pggate.route=primary" } as Partial<pg.ClientConfig>);
      await opt.connect();
      expect(await portOf(opt)).toBe(primaryPort());
      await opt.end();
    } finally {
      await c.end();
    }
  });
});

const WRITES: [string, string][] = [
  ["INSERT", "INSERT INTO rt_items (v) VALUES ('w')"],
  ["UPDATE", "UPDATE rt_items SET v = v WHERE id < 0"],
  ["DELETE", "DELETE FROM rt_items WHERE id < 0"],
  ["MERGE", "MERGE INTO rt_target t USING (SELECT 1 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'm') WHEN MATCHED THEN UPDATE SET v = 'm'"],
  ["DDL", "CREATE TABLE IF NOT EXISTS rt_ddl_USER (x int); DROP TABLE rt_ddl_USER"],
  ["COPY FROM (via psql below)", "SELECT 1"],
  ["CALL", "CALL rt_proc('called')"],
  ["DO", "DO $$ BEGIN INSERT INTO rt_items (v) VALUES ('do'); END $$"],
  ["LOCK", "BEGIN; LOCK TABLE rt_items IN SHARE MODE; COMMIT"],
  ["VACUUM/ANALYZE", "ANALYZE rt_items"],
  ["REFRESH", "REFRESH MATERIALIZED VIEW rt_mv"],
  ["SELECT FOR UPDATE", "SELECT * FROM rt_items WHERE id < 0 FOR UPDATE"],
  ["SELECT FOR SHARE", "SELECT * FROM rt_items WHERE id < 0 FOR NO KEY UPDATE"],
  ["SELECT INTO", "SELECT 1 AS x INTO rt_into_USER; DROP TABLE rt_into_USER"],
  ["writable CTE", "WITH a AS (INSERT INTO rt_items (v) VALUES ('cte') RETURNING id), b AS (SELECT id FROM a) SELECT count(*) FROM b"],
  ["EXPLAIN ANALYZE of a write", "EXPLAIN ANALYZE INSERT INTO rt_items (v) VALUES ('explained')"],
  ["multi-statement with a write", "SELECT 1; SELECT 2; INSERT INTO rt_items (v) VALUES ('multi')"],
  ["nextval", "SELECT nextval('rt_seq')"],
  ["setval", "SELECT setval('rt_seq', 100)"],
  ["xact advisory lock", "SELECT pg_advisory_xact_lock(42)"],
  ["pg_notify", "SELECT pg_notify('rt', 'x')"],
  ["txid_current", "SELECT txid_current()"],
  ["lo_create", "SELECT lo_unlink(lo_create(0))"],
  ["volatile user function", "SELECT rt_volatile_insert('fn')"],
  ["volatile user function (second time, volatility cached)", "SELECT rt_volatile_insert('fn2')"],
];

describe("every write shape succeeds (each would fail with 25006 on a replica)", () => {
  for (const method of ["scram", "md5", "plain"] as Method[]) {
    test(`${method} user`, async () => {
      const u = users()[method];
      for (const [name, sql] of WRITES) {
        try {
          await psql(gw.port, u, sql.replaceAll("USER", method));
        } catch (e) {
          throw new Error(`${name}: ${(e as Error).message}`);
        }
      }
      const copy = await run(["psql", connString(gw.port, u.user), "-v", "ON_ERROR_STOP=1", "-c", "COPY rt_items (v) FROM STDIN"], { PGPASSWORD: u.password });
      // psql -c with COPY FROM STDIN reads stdin: empty input copies 0 rows, on the primary.
      expect(copy.stderr).toBe("");
      // inet_server_port(), not pg_is_in_recovery(): that one is node-local, always the primary's answer.
      expect(replicaPorts()).toContain(Number(await psql(gw.port, u, "SELECT inet_server_port()")));
      // A STABLE user function reads: after its volatility is looked up once, it routes to replicas.
      const onReplica = (out: string) => replicaPorts().some((p) => out === `t|${p}`);
      let stable = "";
      for (let i = 0; i < 20 && !onReplica(stable); i++) {
        stable = await psql(gw.port, u, "SELECT rt_stable_read() >= 0, inet_server_port()");
        if (!onReplica(stable)) await Bun.sleep(50);
      }
      expect(onReplica(stable)).toBe(true);
    }, 60_000);
  }
});

describe("self-correction", () => {
  test("a replica's 25006 on a misrouted write is retried on the primary; the client never sees it", async () => {
    // Declaring a writing function read-only is exactly the mistake self-correction forgives.
    const lying = startGateway({ auth: { mode: "auth_query" }, routing: { read_functions: ["rt_volatile_insert"] } });
    const c = client(lying.port);
    await c.connect();
    try {
      const simple = await c.query("SELECT rt_volatile_insert('retried simple') AS id, inet_server_port() AS port");
      expect(simple.rows[0].port).toBe(primaryPort());
      const ext = await c.query({ text: "SELECT rt_volatile_insert($1) AS id, inet_server_port() AS port", values: ["retried extended"] });
      expect(ext.rows[0].port).toBe(primaryPort());
      const named = await c.query({ name: "lying_fn", text: "SELECT rt_volatile_insert($1) AS id", values: ["retried named"] });
      const again = await c.query({ name: "lying_fn", text: "SELECT rt_volatile_insert($1) AS id", values: ["retried named 2"] });
      expect(again.rows[0].id).toBeGreaterThan(named.rows[0].id);
      const rows = await c.query("/* pggate:primary */ SELECT count(*)::int AS n FROM rt_items WHERE v LIKE 'retried%'");
      expect(rows.rows[0].n).toBe(4);
      // Ordinary reads still reach replicas afterwards.
      expect(await readsReachReplica(c)).toBe(true);
    } finally {
      await c.end();
      await lying.stop();
    }
  });
});

describe("session pinning", () => {
  for (const [name, sql] of [
    ["SET", "SET statement_timeout = '123s'"],
    ["temp table", "CREATE TEMP TABLE rt_tmp (x int)"],
    ["session advisory lock", "SELECT pg_advisory_lock(7)"],
  ] as const) {
    test(`${name} pins the session to one primary connection, and only that session`, async () => {
      const a = client(gw.port);
      const b = client(gw.port);
      await a.connect();
      await b.connect();
      try {
        await a.query(sql);
        const pids = new Set<number>();
        for (let i = 0; i < 5; i++) {
          const r = await a.query("SELECT inet_server_port() AS port, pg_backend_pid() AS pid");
          expect(r.rows[0].port).toBe(primaryPort());
          pids.add(r.rows[0].pid);
        }
        expect(pids.size).toBe(1);
        expect(replicaPorts()).toContain(await portOf(b));
        if (name === "SET") {
          expect((await a.query("SHOW statement_timeout")).rows[0].statement_timeout).toBe("123s");
          expect((await b.query("/* pggate:primary */ SHOW statement_timeout")).rows[0].statement_timeout).toBe("0");
        }
      } finally {
        await a.end();
        await b.end();
      }
      // The pinned connection went back reset: nobody inherits the SET, temp table or lock.
      const c = client(gw.port);
      await c.connect();
      try {
        for (let i = 0; i < 6; i++) {
          const r = await c.query(
            "/* pggate:primary */ SELECT current_setting('statement_timeout') AS st, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') AS locks, to_regclass('rt_tmp') IS NULL AS no_tmp",
          );
          expect(r.rows[0]).toEqual({ st: "0", locks: "0", no_tmp: true });
        }
      } finally {
        await c.end();
      }
    });
  }
});

describe("pools", () => {
  test("40 pgbench clients (-M prepared, TPC-B) over pool.size 4: no failures, primary sees at most 4 of our connections", async () => {
    const c = cluster();
    // A database of its own, so only this gateway's pool for it is counted on the primary.
    await c.psql(c.primary, "DROP DATABASE IF EXISTS pool_bench; CREATE DATABASE pool_bench OWNER pggate_scram");
    const init = await run(["pgbench", "-i", "-s", "1", "-q", `host=127.0.0.1 port=${c.primary.port} user=pggate_scram dbname=pool_bench`], { PGPASSWORD: users().scram.password });
    expect(init.code).toBe(0);
    const small = startGateway({ auth: { mode: "auth_query" }, pool: { size: 4 }, nodes: { replicas: [] }, log: { level: "debug" } });
    let maxConns = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const n = Number(await c.psql(c.primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pggate_scram' AND datname = 'pool_bench'"));
        maxConns = Math.max(maxConns, n);
        await Bun.sleep(100);
      }
    })();
    try {
      const u = users().scram;
      const r = await run(["pgbench", "-n", "-c", "40", "-t", "25", "-M", "prepared", connString(small.port, u.user, "pool_bench")], { PGPASSWORD: u.password }, 120_000);
      expect(r.stderr).not.toContain("error");
      expect(r.stdout).toContain("number of transactions actually processed: 1000/1000");
      expect(r.stdout).toMatch(/number of failed transactions: 0 \(/);
    } finally {
      polling = false;
      await poll;
      await small.stop();
    }
    expect(maxConns).toBeGreaterThan(0);
    expect(maxConns).toBeLessThanOrEqual(4);
  }, 120_000);

  test("pool.min_idle keeps connections warm once PgGate holds the user's credentials", async () => {
    const c = cluster();
    const warm = startGateway({ auth: { mode: "auth_query" }, pool: { size: 5, min_idle: 3 }, nodes: { replicas: [] } });
    try {
      const u = users().md5;
      expect(await psql(warm.port, u, "SELECT 1", { db: "postgres" })).toBe("1");
      let n = 0;
      for (let i = 0; i < 40 && n < 3; i++) {
        await Bun.sleep(100);
        n = Number(await c.psql(c.primary, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pggate_md5' AND datname = 'postgres'"));
      }
      expect(n).toBe(3);
    } finally {
      await warm.stop();
    }
  });

  test("pgbench -S -M prepared puts its load on the replicas", async () => {
    const c = cluster();
    const counts = async (port: number) =>
      Number(await c.psql({ host: "127.0.0.1", port, dataDir: "" }, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%pgbench_accounts%' AND query LIKE 'SELECT%'"));
    await c.waitForReplay();
    const before = await Promise.all([primaryPort(), ...replicaPorts()].map(counts));
    const u = users().scram;
    const r = await run(["pgbench", "-n", "-S", "-c", "8", "-t", "200", "-M", "prepared", connString(gw.port, u.user, "pool_bench")], { PGPASSWORD: u.password }, 120_000);
    expect(r.stdout).toMatch(/number of failed transactions: 0 \(/);
    const after = await Promise.all([primaryPort(), ...replicaPorts()].map(counts));
    const delta = after.map((a, i) => a - before[i]);
    const onReplicas = delta.slice(1).reduce((x, y) => x + y, 0);
    // Every one of the 1600 selects ran somewhere we counted, nearly all on replicas.
    expect(onReplicas + delta[0]).toBeGreaterThanOrEqual(1600);
    expect(onReplicas).toBeGreaterThanOrEqual(1400);
    // Until the catalog lookup says pgbench_accounts is a plain table (not a sequence or an
    // unlogged table), its reads go to the primary: a few dozen in a fresh database.
    expect(delta[0]).toBeLessThan(200);
    expect(delta.slice(1).every((d) => d > 0)).toBe(true);
  }, 120_000);

  test("node-postgres named queries and postgres.js from 30 concurrent clients over a pool of 4: zero errors", async () => {
    const u = users().scram;
    const errors: string[] = [];
    const pgWorkers = Array.from({ length: 15 }, async (_, i) => {
      const c = client(gw.port);
      await c.connect();
      try {
        for (let j = 0; j < 20; j++) {
          await c.query({ name: "read_items", text: "SELECT count(*)::int AS n FROM rt_items WHERE id > $1", values: [j] });
          await c.query({ name: "write_item", text: "INSERT INTO rt_items (v) VALUES ($1) RETURNING id", values: [`pg${i}-${j}`] });
          await c.query("BEGIN");
          const ins = await c.query({ name: "write_item", text: "INSERT INTO rt_items (v) VALUES ($1) RETURNING id", values: [`tx${i}-${j}`] });
          const seen = await c.query({ name: "by_id", text: "SELECT v FROM rt_items WHERE id = $1", values: [ins.rows[0].id] });
          if (seen.rows[0]?.v !== `tx${i}-${j}`) errors.push(`pg worker ${i}: own write not visible in transaction`);
          await c.query("COMMIT");
        }
      } catch (e) {
        errors.push(`pg worker ${i}: ${(e as Error).message}`);
      } finally {
        await c.end();
      }
    });
    const pjWorkers = Array.from({ length: 15 }, async (_, i) => {
      const sql = postgres({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "app", max: 1, onnotice: () => {} });
      try {
        for (let j = 0; j < 20; j++) {
          await sql`SELECT count(*)::int AS n FROM rt_items WHERE id > ${j}`;
          await sql`INSERT INTO rt_items (v) VALUES (${`pj${i}-${j}`})`;
          await sql.begin(async (tx) => {
            const [row] = await tx`INSERT INTO rt_items (v) VALUES (${`pjtx${i}-${j}`}) RETURNING id`;
            const [seen] = await tx`SELECT v FROM rt_items WHERE id = ${row.id}`;
            if (seen?.v !== `pjtx${i}-${j}`) errors.push(`postgres.js worker ${i}: own write not visible`);
          });
        }
      } catch (e) {
        errors.push(`postgres.js worker ${i}: ${(e as Error).message}`);
      } finally {
        await sql.end();
      }
    });
    await Promise.all([...pgWorkers, ...pjWorkers]);
    expect(errors).toEqual([]);
  }, 120_000);

  test("a startup parameter set a server accepted is reported again without asking it; a bad value is still refused; another set is checked on its own", async () => {
    const statusOf = async (extra: Partial<pg.ClientConfig>): Promise<{ tz?: string; app?: string; error?: string }> => {
      const c = client(gw.port, "scram", extra);
      const status: Record<string, string> = {};
      const conn = (c as unknown as { connection: { on(ev: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection;
      conn.on("parameterStatus", (m) => (status[m.parameterName] = m.parameterValue));
      try {
        await c.connect();
      } catch (e) {
        return { error: (e as { code?: string }).code };
      }
      const tz = (await c.query("SHOW TimeZone")).rows[0].TimeZone;
      await c.end();
      return { tz, app: status.application_name };
    };
    const tokyo = { application_name: "cached_set", options: "-c TimeZone=Asia/Tokyo" } as Partial<pg.ClientConfig>;
    const first = await statusOf(tokyo);
    const second = await statusOf(tokyo);
    expect(first).toEqual({ tz: "Asia/Tokyo", app: "cached_set" });
    expect(second).toEqual(first);
    const pool = [...gw.gateway.ctx.pools.pools.values()].find((p) => p.user === users().scram.user && p.node.name === "primary" && p.database === "app");
    expect([...(pool?.acceptedParams.keys() ?? [])].some((k) => k.includes("Asia/Tokyo"))).toBe(true);
    // Not remembered: a set the server refused, which stays refused every time.
    for (let i = 0; i < 2; i++) expect(await statusOf({ options: "-c TimeZone=Not/AZone" } as Partial<pg.ClientConfig>)).toEqual({ error: "22023" });
    expect(await statusOf({ application_name: "other_set" })).toMatchObject({ app: "other_set" });
  });

  test("application_name and TimeZone set at connect time are what SHOW returns under transaction pooling", async () => {
    const a = client(gw.port, "scram", { application_name: "app_one", options: "-c TimeZone=Asia/Tokyo" } as Partial<pg.ClientConfig>);
    const b = client(gw.port, "scram", { application_name: "app_two" });
    await a.connect();
    await b.connect();
    try {
      for (let i = 0; i < 6; i++) {
        const ra = await a.query("SHOW application_name");
        const ta = await a.query("SHOW TimeZone");
        const rb = await b.query("SHOW application_name");
        const tb = await b.query("SHOW TimeZone");
        expect(ra.rows[0].application_name).toBe("app_one");
        expect(ta.rows[0].TimeZone).toBe("Asia/Tokyo");
        expect(rb.rows[0].application_name).toBe("app_two");
        expect(tb.rows[0].TimeZone).not.toBe("Asia/Tokyo");
        // In a transaction on the primary too.
        await a.query("BEGIN");
        expect((await a.query("SHOW application_name")).rows[0].application_name).toBe("app_one");
        await a.query("COMMIT");
      }
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("a client killed mid-transaction or mid-result leaves the pool clean", async () => {
    const one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 }, nodes: { replicas: [] } });
    try {
      const u = users().scram;
      // Killed inside a transaction holding a row lock and a SET LOCAL.
      const killedTx = Bun.spawn(["psql", connString(one.port, u.user), "-c", "BEGIN; SET LOCAL statement_timeout = '77s'; UPDATE rt_items SET v = v WHERE id = (SELECT min(id) FROM rt_items); SELECT pg_sleep(30)"], {
        env: { ...process.env, PGPASSWORD: u.password },
        stdout: "ignore",
        stderr: "ignore",
      });
      await Bun.sleep(700);
      killedTx.kill("SIGKILL");
      await killedTx.exited;
      // Killed while a large result streams.
      const killedRead = Bun.spawn(["psql", connString(one.port, u.user), "-c", "SELECT g, repeat('x', 500) FROM generate_series(1, 2000000) g"], {
        env: { ...process.env, PGPASSWORD: u.password },
        stdout: "ignore",
        stderr: "ignore",
      });
      await Bun.sleep(700);
      killedRead.kill("SIGKILL");
      await killedRead.exited;
      // With a pool of one, the next client must get that same connection, clean.
      const c = client(one.port);
      await c.connect();
      try {
        const r = await c.query(
          "SELECT current_setting('statement_timeout') AS st, now() = statement_timestamp() AS not_in_tx, (SELECT count(*)::int FROM pg_locks WHERE locktype = 'transactionid' AND pid = pg_backend_pid()) AS locks",
        );
        expect(r.rows[0]).toEqual({ st: "0", not_in_tx: true, locks: 0 });
        const upd = await c.query("UPDATE rt_items SET v = v WHERE id = (SELECT min(id) FROM rt_items)");
        expect(upd.rowCount).toBe(1);
        expect((await c.query("SELECT 'next client fine' AS s")).rows[0].s).toBe("next client fine");
      } finally {
        await c.end();
      }
    } finally {
      await one.stop();
    }
  }, 60_000);
});
