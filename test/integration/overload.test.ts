// Issue 15: bounded waits and overload signals on the shared cluster: pool.query_timeout_ms
// cancels a long query (and the connection serves the next client cleanly), and /readyz turns
// 503 with pggate_overloaded = 1 while clients queue on full pools.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, clusterHba, startGateway } from "./harness.ts";

function client(port: number): pg.Client {
  const u = cluster().users.scram;
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
  c.on("error", () => {});
  return c;
}

describe("pool.query_timeout_ms", () => {
  test("select pg_sleep(5) with a 1 s timeout: 57014 naming the setting after ~1 s; the next client reuses the connection cleanly", async () => {
    const gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1, query_timeout_ms: 1000 }, routing: { read_write_split: false } });
    try {
      const a = client(gw.port);
      await a.connect();
      const pidBefore = (await a.query("SELECT pg_backend_pid() AS p")).rows[0].p;
      const t0 = performance.now();
      const e = await a.query("SELECT pg_sleep(5)").catch((err: Error & { code?: string }) => err);
      const took = performance.now() - t0;
      expect((e as { code?: string }).code).toBe("57014");
      expect((e as Error).message).toBe("canceling statement due to query timeout (pool.query_timeout_ms = 1000)");
      expect(took).toBeGreaterThan(900);
      expect(took).toBeLessThan(2500);
      // The session goes on, and so does the server connection (one in the pool).
      expect((await a.query("SELECT 1 AS one")).rows[0].one).toBe(1);
      await a.end();
      const b = client(gw.port);
      await b.connect();
      expect((await b.query("SELECT pg_backend_pid() AS p")).rows[0].p).toBe(pidBefore);
      // A query well under the timeout is untouched.
      expect((await b.query("SELECT pg_sleep(0.3), 2 AS two")).rows[0].two).toBe(2);
      await b.end();
    } finally {
      await gw.stop();
    }
  });
});

describe("/readyz under overload", () => {
  test("more clients waiting on a full pool than metrics.ready_max_waiting: 503 and pggate_overloaded 1; ready again once they are served", async () => {
    const gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 }, metrics: { enabled: true, host: "127.0.0.1", port: 0, ready_max_waiting: 2 }, routing: { read_write_split: false } });
    const holder = client(gw.port);
    const waiters = [1, 2, 3, 4].map(() => client(gw.port));
    try {
      // (Logging in applies the client's startup parameters on a pooled connection: before the pool fills.)
      for (const w of [holder, ...waiters]) await w.connect();
      await holder.query("BEGIN");
      await holder.query("SELECT 1");
      const pending = waiters.map((w) => w.query("SELECT 1"));
      let ready = await fetch(`${gw.gateway.metricsUrl}/readyz`);
      for (let i = 0; i < 50 && ready.status === 200; i++) {
        await Bun.sleep(20);
        ready = await fetch(`${gw.gateway.metricsUrl}/readyz`);
      }
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain("overloaded: 4 clients wait");
      expect(await (await fetch(`${gw.gateway.metricsUrl}/metrics`)).text()).toMatch(/^pggate_overloaded 1$/m);
      await holder.query("COMMIT");
      await Promise.all(pending);
      expect((await fetch(`${gw.gateway.metricsUrl}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${gw.gateway.metricsUrl}/metrics`)).text()).toMatch(/^pggate_overloaded 0$/m);
    } finally {
      await holder.end().catch(() => {});
      for (const w of waiters) await w.end().catch(() => {});
      await gw.stop();
    }
  });
});

describe("nodes.max_connections", () => {
  test("5 across 3 users × 2 databases with pool.size 10: the primary never sees more than 5 PgGate connections of theirs; every client completes", async () => {
    const cl = cluster();
    const users = [cl.users.scram, cl.users.md5, cl.users.plain];
    const names = users.map((u) => `'${u.user}'`).join(", ");
    const gw = startGateway({ auth: { mode: "auth_query", hba: clusterHba() }, pool: { size: 10 }, nodes: { max_connections: 5, replicas: [] } });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const n = Number((await cl.psql(cl.primary, `SELECT count(*) FROM pg_stat_activity WHERE usename IN (${names}) AND backend_type = 'client backend'`)).trim());
        peak = Math.max(peak, n);
        await Bun.sleep(10);
      }
    })();
    let done = 0;
    try {
      await Promise.all(
        users.flatMap((u) =>
          ["app", "postgres"].flatMap((database) =>
            [0, 1, 2, 3].map(async () => {
              const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database });
              c.on("error", () => {});
              await c.connect();
              for (let i = 0; i < 10; i++) await c.query("SELECT pg_sleep(0.01)");
              await c.end();
              done++;
            }),
          ),
        ),
      );
    } finally {
      sampling = false;
      await sampler;
      await gw.stop();
    }
    console.log(`max_connections 5: 24 clients done ${done}, peak primary connections ${peak}`);
    expect(done).toBe(24);
    expect(peak).toBeLessThanOrEqual(5);
  }, 60_000);
});

describe("pool.users / pool.databases", () => {
  test("a user's own pool.size and pool.mode: its pool is capped at 2; a session-mode user keeps its primary connection (no split)", async () => {
    const cl = cluster();
    const u = cl.users;
    const gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 10, users: { [u.scram.user]: { size: 2 }, [u.md5.user]: { mode: "session" } } } });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, Number((await cl.psql(cl.primary, `SELECT count(*) FROM pg_stat_activity WHERE usename = '${u.scram.user}' AND backend_type = 'client backend'`)).trim()));
        await Bun.sleep(10);
      }
    })();
    try {
      const scramClients = [0, 1, 2, 3, 4].map(() => client(gw.port));
      for (const c of scramClients) await c.connect();
      // Writes (primary): five at once through a pool of 2.
      await Promise.all(scramClients.map((c) => c.query("SELECT pg_sleep(0.2), txid_current()")));
      for (const c of scramClients) await c.end();
      const md5 = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.md5.user, password: u.md5.password, database: "app" });
      await md5.connect();
      const ports = new Set<number>();
      for (let i = 0; i < 3; i++) ports.add((await md5.query("SELECT inet_server_port() AS p")).rows[0].p);
      await md5.end();
      expect([...ports]).toEqual([cl.primary.port]);
    } finally {
      sampling = false;
      await sampler;
      await gw.stop();
    }
    expect(peak).toBeLessThanOrEqual(2);
  }, 30_000);
});
