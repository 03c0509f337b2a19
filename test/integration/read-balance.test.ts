// routing.primary_read_weight: the primary joins the replicas as a read target with that weight
// (Pgpool-II's load balancing); 0 (default) keeps reads on the replicas.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway } from "./harness.ts";

async function readPorts(port: number, n: number): Promise<Map<number, number>> {
  const u = cluster().users.scram;
  const cl = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
  await cl.connect();
  const ports = new Map<number, number>();
  try {
    for (let i = 0; i < n; i++) {
      const p = (await cl.query("SELECT inet_server_port() AS p")).rows[0].p as number;
      ports.set(p, (ports.get(p) ?? 0) + 1);
    }
  } finally {
    await cl.end();
  }
  return ports;
}

describe("routing.primary_read_weight", () => {
  test("1 with two replicas of weight 1: reads spread over all three nodes", async () => {
    const g = startGateway({ routing: { primary_read_weight: 1 } });
    try {
      const ports = await readPorts(g.port, 60);
      const c = cluster();
      console.log(`primary_read_weight 1: ${JSON.stringify([...ports])}`);
      expect(ports.get(c.primary.port) ?? 0).toBeGreaterThan(5);
      for (const r of c.replicas) expect(ports.get(r.port) ?? 0).toBeGreaterThan(5);
    } finally {
      await g.stop();
    }
  });

  test("0 (the default): no read on the primary", async () => {
    const g = startGateway({});
    try {
      const ports = await readPorts(g.port, 30);
      expect(ports.get(cluster().primary.port) ?? 0).toBe(0);
    } finally {
      await g.stop();
    }
  });
});
