// Issue 25 item 7: pool.reserve_size / pool.reserve_timeout_ms, as PgBouncer's reserve_pool_size
// / reserve_pool_timeout. With pool.size 2 and a reserve of 2, clients beyond the second are served
// from the reserve once they waited reserve_timeout_ms (not after acquire_timeout_ms), a fifth
// waits, the primary sees at most four connections, and the reserve closes once the load is gone.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway, waitUntil } from "./harness.ts";

function client(port: number): pg.Client {
  const u = cluster().users.scram;
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
  c.on("error", () => {});
  return c;
}

/** Server connections of the test role on the primary (PgGate's, since the clients go through it). */
async function primaryConnections(): Promise<number> {
  const c = cluster();
  return Number(await c.psql(c.primary, `SELECT count(*) FROM pg_stat_activity WHERE usename = '${c.users.scram.user}' AND backend_type = 'client backend'`));
}

/** Starts a transaction that keeps its server connection; resolves with the ms it waited for it. */
async function holdTransaction(c: pg.Client): Promise<number> {
  const t0 = performance.now();
  await c.query("BEGIN; SELECT 1");
  return performance.now() - t0;
}

describe("pool.reserve_size", () => {
  test("size 2 + reserve 2, timeout 300 ms: clients 3 and 4 are served after ~300 ms, the 5th waits; at most 4 connections; the reserve closes when load drops", async () => {
    const gw = startGateway({
      auth: { mode: "auth_query" },
      nodes: { replicas: [] },
      routing: { read_write_split: false },
      pool: { size: 2, reserve_size: 2, reserve_timeout_ms: 300, acquire_timeout_ms: 15_000 },
    });
    const clients = Array.from({ length: 5 }, () => client(gw.port));
    try {
      for (const c of clients) await c.connect();
      const [c1, c2, c3, c4, c5] = clients;
      await holdTransaction(c1);
      await holdTransaction(c2);
      expect(await primaryConnections()).toBe(2);

      const third = holdTransaction(c3);
      const fourth = holdTransaction(c4);
      const [waited3, waited4] = await Promise.all([third, fourth]);
      // Served from the reserve: after the 300 ms timeout (checked every 100 ms), far from the 15 s acquire timeout.
      for (const waited of [waited3, waited4]) {
        expect(waited).toBeGreaterThanOrEqual(280);
        expect(waited).toBeLessThan(3000);
      }

      let fifthServed = false;
      const fifth = holdTransaction(c5).then((ms) => {
        fifthServed = true;
        return ms;
      });
      await Bun.sleep(1000);
      expect(fifthServed).toBe(false);
      expect(await primaryConnections()).toBe(4);
      const pool = [...gw.gateway.ctx.pools.visible()].find((p) => p.user === cluster().users.scram.user && p.database === "app");
      expect(pool?.reserveInUse).toBe(2);
      expect(pool?.reserveUsedTotal).toBe(2);

      // A connection given back goes to the waiting 5th client (the reserve still serves a queue).
      await c1.query("COMMIT");
      await fifth;
      expect(await primaryConnections()).toBe(4);

      // Load drops: with nobody waiting, connections beyond pool.size close as they come back.
      for (const c of [c2, c3, c4, c5]) await c.query("COMMIT");
      await waitUntil("the reserve connections closed", async () => (await primaryConnections()) === 2, 10_000);
      expect(pool?.reserveInUse).toBe(0);
      expect(pool?.core.total).toBe(2);
      // The pool itself keeps pool.size connections for the next client.
      expect((await c1.query("SELECT 7 AS n")).rows[0].n).toBe(7);
      expect(await primaryConnections()).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await gw.stop();
    }
  });

  test("without a reserve the third client waits for a connection to come back", async () => {
    const gw = startGateway({
      auth: { mode: "auth_query" },
      nodes: { replicas: [] },
      routing: { read_write_split: false },
      pool: { size: 2, reserve_timeout_ms: 300, acquire_timeout_ms: 15_000 },
    });
    const clients = Array.from({ length: 3 }, () => client(gw.port));
    try {
      for (const c of clients) await c.connect();
      const [c1, c2, c3] = clients;
      await holdTransaction(c1);
      await holdTransaction(c2);
      let served = false;
      const third = holdTransaction(c3).then(() => (served = true));
      await Bun.sleep(1000);
      expect(served).toBe(false);
      expect(await primaryConnections()).toBe(2);
      await c1.query("COMMIT");
      await third;
      for (const c of [c2, c3]) await c.query("COMMIT");
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await gw.stop();
    }
  });
});
