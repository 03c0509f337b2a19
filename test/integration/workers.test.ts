// Issue 26 item 2, "workers behave as one": with `workers: 2` (`bun src/main.ts`, a supervisor and
// two processes sharing the port) cancels reach their query on either worker, /metrics, /status,
// /readyz and the admin console describe the whole group, and pool sizes hold for the group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import pg from "pg";
import { stringify } from "yaml";
import { baseConfig, cluster, freePort, scratchPath, waitForPort, waitUntil, type YamlObject } from "./harness.ts";

const c = cluster();
const user = () => c.users.scram;
const admin = { user: "pggate_md5", password: "md5_pw" };

interface Group {
  proc: Subprocess;
  port: number;
  metricsPort: number;
  stop(): Promise<void>;
  stderr(): Promise<string>;
}

/** PgGate with `workers: 2` as a separate process group, from `bun src/main.ts --config FILE`. */
async function startGroup(overrides: YamlObject = {}): Promise<Group> {
  const port = freePort();
  // Two consecutive free ports: the code before issue 26 served worker i on metrics.port + i.
  const metricsPort = freePort(2);
  const path = scratchPath("pggate.yaml");
  const cfg = baseConfig({
    workers: 2,
    auth: { mode: "auth_query" },
    health: { interval_ms: 200 },
    admin: { users: [admin.user] },
    ...overrides,
    listen: { host: "127.0.0.1", port, ...((overrides.listen as object) ?? {}) },
    metrics: { enabled: true, port: metricsPort },
  });
  writeFileSync(path, stringify(cfg));
  const proc = Bun.spawn([process.execPath, "run", "src/main.ts", "--config", path], { stdout: "ignore", stderr: "pipe" });
  const stderr = (() => {
    let text: Promise<string> | null = null;
    return () => (text ??= new Response(proc.stderr as ReadableStream).text());
  })();
  await waitForPort(port);
  // Both workers listening: /readyz answers 200 only once every running worker is ready, and
  // /status lists the workers (a soft wait: the code before issue 26 had no such list).
  await waitUntil("/readyz 200", async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200, 30_000, 100);
  await waitUntil("both workers running", async () => (await status(metricsPort)).workers?.filter((w: { state: string }) => w.state === "running").length === 2, 10_000, 100).catch(() => null);
  return {
    proc,
    port,
    metricsPort,
    stderr,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function status(metricsPort: number): Promise<any> {
  return (await fetch(`http://127.0.0.1:${metricsPort}/status`)).json();
}

async function metrics(metricsPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}

/** The sum of a family's samples whose labels include `labels` (NaN when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = Number.NaN;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).some(([k, v]) => have[k] !== v)) continue;
    total = (Number.isNaN(total) ? 0 : total) + Number(m[3]);
  }
  return total;
}

function client(port: number, database = "app"): pg.Client {
  const u = database === "pggate" ? admin : user();
  const cl = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database });
  cl.on("error", () => {});
  return cl;
}

/** A raw CancelRequest (protocol docs, "Canceling Requests in Progress") on a new connection. */
async function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  const packet = new Uint8Array(16);
  const v = new DataView(packet.buffer);
  v.setInt32(0, 16);
  v.setInt32(4, 80877102);
  v.setInt32(8, processId);
  v.setInt32(12, secretKey);
  await new Promise<void>((resolve, reject) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write(packet);
          s.flush();
        },
        data() {},
        close: () => resolve(),
        error: (_s, e) => reject(e),
      },
    }).catch(reject);
  });
}

/** Direct superuser connections to every node, for pg_stat_activity (pools: lanes poll at once). */
let nodes: pg.Pool[] = [];

/** How many backends on all nodes run exactly `sql` right now. */
async function running(sql: string): Promise<number> {
  const counts = await Promise.all(nodes.map(async (n) => Number((await n.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1", [sql])).rows[0].n)));
  return counts.reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
  nodes = [c.primary, ...c.replicas].map((n) => new pg.Pool({ host: n.host, port: n.port, user: c.superuser, database: "app", max: 5 }));
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.end().catch(() => null)));
});

describe("workers: 2", () => {
  test("50 CancelRequests, each on a new connection: every one cancels its query within a few seconds, never a neighbour's", async () => {
    const g = await startGroup();
    try {
      const latencies: number[] = [];
      // Five lanes of ten rounds: each round's statements carry their own comment, so the round
      // finds its own query in pg_stat_activity and nothing else's.
      const lane = async (l: number): Promise<void> => {
        for (let r = 0; r < 10; r++) {
          const tag = `/* lane ${l} round ${r} */`;
          const victim = client(g.port);
          const bystander = client(g.port);
          await Promise.all([victim.connect(), bystander.connect()]);
          try {
            const sleeping = `SELECT pg_sleep(30) ${tag}`;
            const cancelled = victim.query(sleeping).then(() => "completed", (e: { code?: string }) => e.code ?? "no code");
            const neighbourStarted = Date.now();
            const neighbour = bystander.query(`SELECT pg_sleep(0.5) ${tag}`).then(() => Date.now() - neighbourStarted, (e: { code?: string; message: string }) => `${e.code}: ${e.message}`);
            await waitUntil(`${sleeping} running on a node`, async () => (await running(sleeping)) === 1, 10_000, 5);
            const sent = performance.now();
            // A new connection each time: the kernel hands it to either worker.
            await sendCancel(g.port, (victim as unknown as { processID: number }).processID, (victim as unknown as { secretKey: number }).secretKey);
            expect(await cancelled).toBe("57014");
            latencies.push(performance.now() - sent);
            const n = await neighbour;
            expect(typeof n === "number" ? "completed" : n).toBe("completed");
            expect(n as number).toBeGreaterThanOrEqual(490);
          } finally {
            await Promise.all([victim.end().catch(() => null), bystander.end().catch(() => null)]);
          }
        }
      };
      await Promise.all([0, 1, 2, 3, 4].map(lane));
      latencies.sort((a, b) => a - b);
      console.log(`cancel latency over ${latencies.length}: median ${latencies[latencies.length >> 1].toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`);
      expect(latencies.length).toBe(50);
      expect(latencies[latencies.length - 1]).toBeLessThan(3000);
      // The group's counters: every cancel matched its client on the worker that issued the key,
      // and some reached it through the other worker (the kernel put them there).
      const text = await metrics(g.metricsPort);
      expect(sample(text, "pggate_cancel_requests_total", { result: "local" })).toBe(50);
      expect(sample(text, "pggate_cancel_requests_total", { result: "no_match" })).toBe(0);
      expect(sample(text, "pggate_cancel_requests_total", { result: "forwarded" })).toBeGreaterThan(0);
    } catch (e) {
      g.proc.kill("SIGKILL");
      (e as Error).message += `\n--- PgGate stderr ---\n${await g.stderr()}`;
      throw e;
    } finally {
      await g.stop();
    }
  }, 60_000);

  test("/metrics, /status, /readyz and SHOW CLIENTS / POOLS count every worker's clients, whichever worker answers", async () => {
    const g = await startGroup();
    const clients: pg.Client[] = [];
    try {
      const N = 12;
      for (let i = 0; i < N; i++) clients.push(client(g.port));
      await Promise.all(clients.map((cl) => cl.connect()));
      await Promise.all(clients.map((cl) => cl.query("SELECT 1")));
      const pids = clients.map((cl) => (cl as unknown as { processID: number }).processID);
      // BackendKeyData names the issuing worker (processId % workers): which worker each client is on.
      const perWorker = [0, 1].map((w) => pids.filter((p) => p % 2 === w).length);
      console.log(`clients per worker: ${perWorker.join(" + ")}`);

      const st = await status(g.metricsPort);
      expect(st.clients.total).toBe(N);
      expect(st.clients.idle).toBe(N);
      expect(st.workers.map((w: { state: string }) => w.state)).toEqual(["running", "running"]);
      expect(st.workers.map((w: { clients: number }) => w.clients)).toEqual(perWorker);
      expect((await fetch(`http://127.0.0.1:${g.metricsPort}/readyz`)).status).toBe(200);

      for (let scrape = 0; scrape < 10; scrape++) {
        const text = await metrics(g.metricsPort);
        expect(sample(text, "pggate_client_connections")).toBe(N);
        expect(sample(text, "pggate_client_connections", { state: "idle" })).toBe(N);
        expect(sample(text, "pggate_workers", { state: "running" })).toBe(2);
        expect(sample(text, "pggate_workers_reporting")).toBe(2);
        // One series per label set: the workers' are added up, not listed side by side.
        expect(text).not.toContain('worker="');
        expect(sample(text, "pggate_build_info")).toBe(1);
      }

      // Each console connection lands on either worker: every one lists all clients.
      const ids = new Set<number>();
      for (let round = 0; round < 6; round++) {
        const a = client(g.port, "pggate");
        await a.connect();
        try {
          const rows = (await a.query("SHOW CLIENTS")).rows.filter((r: { database: string }) => r.database === "app");
          expect(rows.length).toBe(N);
          expect(new Set(rows.map((r: { id: string }) => r.id)).size).toBe(N);
          for (const r of rows) ids.add(Number(r.id));
          const pools = (await a.query("SHOW POOLS")).rows.filter((r: { database: string; user: string }) => r.database === "app" && r.user === user().user);
          expect(pools.length).toBe(1);
          expect(Number(pools[0].cl_active)).toBe(N);
          // pool.size 20 is the group's: 10 per worker, 20 in SHOW POOLS.
          expect(Number(pools[0].pool_size)).toBe(20);
        } finally {
          await a.end().catch(() => null);
        }
      }
      expect(ids.size).toBe(N);

      // KILL_CLIENT on whichever worker the console landed: the client goes, wherever it was.
      const victim = clients.pop() as pg.Client;
      const a = client(g.port, "pggate");
      await a.connect();
      const row = (await a.query("SHOW CLIENTS")).rows.find((r: { remote_pid: string; port: string; database: string }) => r.database === "app" && Number(r.port) === (victim as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort);
      expect(row).toBeDefined();
      const closed = new Promise<string>((resolve) => victim.once("error", (e: { code?: string }) => resolve(e.code ?? "")));
      await a.query(`KILL_CLIENT ${row.id}`);
      await a.end();
      expect(await closed).toBe("57P01");
      await waitUntil("the group counts one client fewer", async () => sample(await metrics(g.metricsPort), "pggate_client_connections") === N - 1, 5000, 50);
    } catch (e) {
      g.proc.kill("SIGKILL");
      (e as Error).message += `\n--- PgGate stderr ---\n${await g.stderr()}`;
      throw e;
    } finally {
      await Promise.all(clients.map((cl) => cl.end().catch(() => null)));
      await g.stop();
    }
  }, 60_000);

  test("pool.size 4 is the group's: under load a node never sees more than 4 connections of the pool", async () => {
    const g = await startGroup({ pool: { size: 4 } });
    const clients: pg.Client[] = [];
    try {
      const since = (await nodes[0].query("SELECT now() AS t")).rows[0].t;
      const u = user().user;
      let sampling = true;
      const peaks = nodes.map(() => 0);
      const sampler = (async () => {
        while (sampling) {
          const counts = await Promise.all(nodes.map(async (n) => Number((await n.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend' AND backend_start >= $2", [u, since])).rows[0].n)));
          counts.forEach((n, i) => (peaks[i] = Math.max(peaks[i], n)));
          await Bun.sleep(20);
        }
      })();
      for (let i = 0; i < 20; i++) clients.push(client(g.port));
      await Promise.all(clients.map((cl) => cl.connect()));
      const started = Date.now();
      // Reads: spread over the two replicas, one pool per (node, user, database) each.
      await Promise.all(clients.map(async (cl) => {
        for (let q = 0; q < 3; q++) await cl.query("SELECT pg_sleep(0.3)");
      }));
      const elapsed = Date.now() - started;
      sampling = false;
      await sampler;
      console.log(`pool.size 4, workers 2, 20 clients: peak connections per node ${peaks.join(", ")}; load took ${elapsed} ms`);
      for (const p of peaks) expect(p).toBeLessThanOrEqual(4);
      // The load did reach the limit somewhere (else the test proves nothing).
      expect(Math.max(...peaks)).toBe(4);
    } catch (e) {
      g.proc.kill("SIGKILL");
      (e as Error).message += `\n--- PgGate stderr ---\n${await g.stderr()}`;
      throw e;
    } finally {
      await Promise.all(clients.map((cl) => cl.end().catch(() => null)));
      await g.stop();
    }
  }, 60_000);
});
