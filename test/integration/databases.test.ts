// Issue 16 item 5: several clusters behind one PgGate through the `databases:` section. Two real
// clusters (the shared one, "A", and one started here, "B", where the same role has another
// password); each database's reads and writes land on its own cluster, credentials learnt on
// one never reach the other, and a reload that removes a database closes only its clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import pg from "pg";
import { stringify } from "yaml";
import { startCluster, type Cluster } from "../../scripts/cluster.ts";
import { baseConfig, cluster, startGatewayFromFile, waitUntil, type YamlObject } from "./harness.ts";

let b: Cluster;
const B_PASSWORD = "scram_pw_on_b";

beforeAll(async () => {
  b = await startCluster({ replicas: 1, tls: false });
  const u = cluster().users.scram.user;
  await b.psql(b.primary, `ALTER ROLE ${u} PASSWORD '${B_PASSWORD}'; CREATE TABLE where_am_i (v text); INSERT INTO where_am_i VALUES ('b'); GRANT ALL ON where_am_i TO ${u}`, "app");
  await cluster().psql(cluster().primary, `DROP TABLE IF EXISTS where_am_i; CREATE TABLE where_am_i (v text); INSERT INTO where_am_i VALUES ('a'); GRANT ALL ON where_am_i TO ${u}`, "app");
  await b.waitForReplay();
  await cluster().waitForReplay();
}, 120_000);

afterAll(async () => {
  await b?.stop();
});

/** A: the shared cluster's top-level nodes; `other` on cluster B (its database "app"); `unsplit` = A's app without the split. */
function databases(withOther = true): YamlObject {
  const d: YamlObject = {
    app: {},
    unsplit: { dbname: "app", routing: { read_write_split: false } },
  };
  if (withOther) {
    d.other = {
      dbname: "app",
      nodes: { primary: { host: b.primary.host, port: b.primary.port }, replicas: b.replicas.map((r) => ({ host: r.host, port: r.port })) },
      pool: { size: 3 },
    };
  }
  return d;
}

function client(port: number, database: string, password = cluster().users.scram.password): pg.Client {
  const c = new pg.Client({ host: "127.0.0.1", port, user: cluster().users.scram.user, password, database });
  c.on("error", () => {});
  return c;
}

/** Where a plain read ran (pg_is_in_recovery() itself is answered by the primary: it is node-local). */
async function where(c: pg.Client): Promise<{ port: number; replica: boolean }> {
  const port: number = (await c.query("SELECT inet_server_port() AS port")).rows[0].port;
  const replicas = [...cluster().replicas, ...b.replicas].map((r) => r.port);
  return { port, replica: replicas.includes(port) };
}

const portsOf = (c: { primary: { port: number }; replicas: { port: number }[] }) => new Set([c.primary.port, ...c.replicas.map((r) => r.port)]);

describe("databases: section", () => {
  test("each database routes to its own cluster: reads on its replicas, writes on its primary, another real database name, its own routing", async () => {
    const gw = startGatewayFromFile({ databases: databases() });
    const a = client(gw.port, "app");
    const o = client(gw.port, "other", B_PASSWORD);
    const u = client(gw.port, "unsplit");
    try {
      await Promise.all([a.connect(), o.connect(), u.connect()]);
      const aPorts = portsOf(cluster());
      const bReplicas = new Set(b.replicas.map((r) => r.port));
      // Reads reach replicas of the right cluster (credentials learnt for B work on B's replica).
      const seenA = new Set<number>();
      const seenB = new Set<number>();
      for (let i = 0; i < 8; i++) {
        const ra = await where(a);
        expect(aPorts.has(ra.port)).toBe(true);
        if (ra.replica) seenA.add(ra.port);
        const rb = await where(o);
        expect(rb.port === b.primary.port || bReplicas.has(rb.port)).toBe(true);
        if (rb.replica) seenB.add(rb.port);
      }
      expect(seenA.size).toBeGreaterThan(0);
      expect([...seenB].every((p) => bReplicas.has(p))).toBe(true);
      expect(seenB.size).toBe(1);
      // The rows come from the cluster the name maps to.
      expect((await a.query("SELECT v FROM where_am_i")).rows).toEqual([{ v: "a" }]);
      expect((await o.query("SELECT v FROM where_am_i")).rows).toEqual([{ v: "b" }]);
      expect((await o.query("SELECT current_database() AS d")).rows[0].d).toBe("app");
      // Writes go to each cluster's primary, and read-your-writes holds per cluster.
      const wb = await o.query("INSERT INTO where_am_i VALUES ('b2') RETURNING inet_server_port() AS port");
      expect(wb.rows[0].port).toBe(b.primary.port);
      expect((await o.query("SELECT count(*)::int AS n FROM where_am_i WHERE v = 'b2'")).rows[0].n).toBe(1);
      expect((await a.query("SELECT count(*)::int AS n FROM where_am_i WHERE v = 'b2'")).rows[0].n).toBe(0);
      // `unsplit` is A's app with read_write_split off: every read on A's primary.
      for (let i = 0; i < 3; i++) expect(await where(u)).toEqual({ port: cluster().primary.port, replica: false });
    } finally {
      await Promise.allSettled([a.end(), o.end(), u.end()]);
      await gw.stop();
    }
  }, 60_000);

  test("a name the section does not list is refused with 3D000 before authentication; the other cluster's password does not log in", async () => {
    const gw = startGatewayFromFile({ databases: databases() });
    try {
      const unknown = client(gw.port, "nope");
      const e = await unknown.connect().then(() => null, (x: { code?: string; message: string }) => x);
      expect(e?.code).toBe("3D000");
      expect(e?.message).toContain('no such database: "nope"');
      // Cluster B checks B's password: A's is refused there, and B's is refused on A.
      const wrongOnB = await client(gw.port, "other").connect().then(() => null, (x: { code?: string }) => x);
      expect(wrongOnB?.code).toBe("28P01");
      const wrongOnA = await client(gw.port, "app", B_PASSWORD).connect().then(() => null, (x: { code?: string }) => x);
      expect(wrongOnA?.code).toBe("28P01");
    } finally {
      await gw.stop();
    }
  }, 30_000);

  test("a reload removing a database closes its clients with 57P01 and refuses new ones; a transaction on the other database carries on and commits", async () => {
    const gw = startGatewayFromFile({ databases: databases() });
    const a = client(gw.port, "app");
    const idleA = client(gw.port, "unsplit");
    const o = client(gw.port, "other", B_PASSWORD);
    let closedWith: (Error & { code?: string }) | null = null;
    o.on("error", (e: Error & { code?: string }) => (closedWith ??= e));
    try {
      await Promise.all([a.connect(), idleA.connect(), o.connect()]);
      await o.query("SELECT 1");
      await a.query("BEGIN");
      await a.query("INSERT INTO where_am_i VALUES ('during-reload')");

      const cfg = baseConfig({ databases: databases(false) });
      writeFileSync(gw.path, stringify(cfg));
      expect(gw.gateway.reload()).toBe(true);

      // The removed database's client is closed, told why...
      await waitUntil("the removed database's client told", () => closedWith !== null, 5_000);
      expect(closedWith!).toMatchObject({ code: "57P01" });
      expect(closedWith!.message).toContain('database "other" was removed');
      expect(await o.query("SELECT 1").then(() => null, (x: Error) => x)).not.toBeNull();
      // ...and a new one is refused.
      const again = await client(gw.port, "other", B_PASSWORD).connect().then(() => null, (x: { code?: string }) => x);
      expect(again?.code).toBe("3D000");
      // The other clients did not notice: the open transaction commits on A's primary.
      await a.query("INSERT INTO where_am_i VALUES ('during-reload-2')");
      await a.query("COMMIT");
      const n = await cluster().psql(cluster().primary, "SELECT count(*) FROM where_am_i WHERE v LIKE 'during-reload%'", "app");
      expect(Number(n)).toBe(2);
      expect(await where(idleA)).toEqual({ port: cluster().primary.port, replica: false });
      // B's nodes leave health checks and SHOW-able state once drained.
      await waitUntil("cluster B's pools drained", () => ![...gw.gateway.ctx.pools.pools.values()].some((p) => p.node.port === b.primary.port || b.replicas.some((r) => r.port === p.node.port)), 10_000);
    } finally {
      await Promise.allSettled([a.end(), idleA.end(), o.end()]);
      await cluster().psql(cluster().primary, "DELETE FROM where_am_i WHERE v LIKE 'during-reload%'", "app");
      await gw.stop();
    }
  }, 60_000);

  test("adding a databases: section on reload keeps the clients of listed names (same cluster, same database) and closes the others", async () => {
    const gw = startGatewayFromFile({});
    const kept = client(gw.port, "app");
    const dropped = client(gw.port, "postgres");
    let keptError: Error | null = null;
    let droppedError: (Error & { code?: string }) | null = null;
    kept.on("error", (e: Error) => (keptError ??= e));
    dropped.on("error", (e: Error & { code?: string }) => (droppedError ??= e));
    try {
      await Promise.all([kept.connect(), dropped.connect()]);
      await kept.query("BEGIN");
      await kept.query("SELECT 1");
      writeFileSync(gw.path, stringify(baseConfig({ databases: { app: {} } })));
      expect(gw.gateway.reload()).toBe(true);
      await waitUntil("the unlisted database's client closed", () => droppedError !== null, 5_000);
      expect(droppedError!.code).toBe("57P01");
      expect((await kept.query("SELECT 2 AS v")).rows[0].v).toBe(2);
      await kept.query("COMMIT");
      expect(keptError).toBeNull();
    } finally {
      await Promise.allSettled([kept.end(), dropped.end()]);
      await gw.stop();
    }
  }, 30_000);

  test("a reload changing a database's routing or pool settings keeps its clients; SHOW DATABASES and node metrics carry the cluster", async () => {
    const extra = { metrics: { enabled: true, port: 0 }, admin: { users: ["postgres"], password: "console_pw" } };
    const gw = startGatewayFromFile({ databases: databases(), ...extra });
    const o = client(gw.port, "other", B_PASSWORD);
    try {
      await o.connect();
      await o.query("SELECT 1");
      const changed = databases();
      (changed.other as YamlObject).routing = { read_write_split: false };
      writeFileSync(gw.path, stringify(baseConfig({ databases: changed, ...extra })));
      expect(gw.gateway.reload()).toBe(true);
      // Same client, now every read on B's primary.
      for (let i = 0; i < 3; i++) expect(await where(o)).toEqual({ port: b.primary.port, replica: false });

      const admin = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "postgres", password: "console_pw", database: "pggate" });
      admin.on("error", () => {});
      await admin.connect();
      const rows = (await admin.query("SHOW DATABASES")).rows as { name: string; port: number; database: string; pool_size: number; cluster: string }[];
      await admin.end();
      const other = rows.find((r) => r.name === "other");
      expect(other).toMatchObject({ database: "app", cluster: "other", pool_size: 3 }); // int4, as PgBouncer types it
      expect(Number(other?.port)).toBe(b.primary.port);
      expect(rows.find((r) => r.name === "unsplit")).toMatchObject({ database: "app", cluster: "default" });
      const metrics = await fetch(`${gw.gateway.metricsUrl}/metrics`).then((r) => r.text());
      expect(metrics).toContain(`pggate_node_up{node="other/primary",cluster="other"} 1`);
      expect(metrics).toContain(`pggate_node_up{node="primary",cluster="default"} 1`);
      const nodes = gw.gateway.ctx.health.all().map((h) => `${h.target.cluster}:${h.target.name}:${h.target.port}`);
      expect(nodes).toContain(`other:other/primary:${b.primary.port}`);
      expect(nodes).toContain(`other:other/replica0:${b.replicas[0].port}`);
    } finally {
      await o.end().catch(() => {});
      await gw.stop();
    }
  }, 60_000);
});
