// Issue 6 acceptance, on a cluster of its own with one replica delayed by 1.5 s: a client never
// reads older data than it wrote, yet reads keep reaching replicas; lag-aware routing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { startCluster, type Cluster } from "../../scripts/cluster.ts";
import { configFromObject } from "../../src/config/index.ts";
import { Gateway } from "../../src/gateway.ts";

let c: Cluster;

function gateway(routing: Record<string, unknown> = {}): Gateway {
  const g = new Gateway(
    configFromObject(
      {
        listen: { host: "127.0.0.1", port: 0 },
        metrics: { enabled: true, port: 0 },
        nodes: { primary: { host: c.primary.host, port: c.primary.port }, replicas: c.replicas.map((r) => ({ host: r.host, port: r.port })), tls: { mode: "disable" } },
        auth: { mode: "auth_query", auth_user: c.authUser.user, auth_password: c.authUser.password, auth_query: c.authQuery },
        health: { interval_ms: 100 },
        routing: { ryw_max_wait_ms: 200, ...routing },
        log: { level: "warn" },
      },
      { source: "", env: {} },
    ),
  );
  g.start();
  return g;
}

function client(port: number, who: "scram" | "md5" = "scram"): pg.Client {
  const u = c.users[who];
  const cl = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
  cl.on("error", () => {});
  return cl;
}

const delayedPort = () => c.replicas[0].port;
const normalPort = () => c.replicas[1].port;

/** The pairs: insert, then read the row back. Returns stale reads and where the reads ran. */
async function pairs(port: number, n: number, who: "scram" | "md5" = "scram"): Promise<{ stale: number; ports: Map<number, number>; ms: number }> {
  const cl = client(port, who);
  await cl.connect();
  const ports = new Map<number, number>();
  let stale = 0;
  const started = Date.now();
  try {
    for (let i = 0; i < n; i++) {
      const { rows } = await cl.query("INSERT INTO ryw (v) VALUES ($1) RETURNING id", [`row ${i}`]);
      const r = await cl.query("SELECT count(*)::int AS n, inet_server_port() AS port FROM ryw WHERE id = $1", [rows[0].id]);
      if (r.rows[0].n !== 1) stale++;
      ports.set(r.rows[0].port, (ports.get(r.rows[0].port) ?? 0) + 1);
    }
  } finally {
    await cl.end();
  }
  return { stale, ports, ms: Date.now() - started };
}

beforeAll(async () => {
  c = await startCluster({ replicas: 2, delayMs: { 0: 1500 } });
  // The cluster runs with synchronous_commit = off; pggate_md5 commits synchronously.
  await c.psql(c.primary, "CREATE TABLE ryw (id serial PRIMARY KEY, v text); GRANT ALL ON ryw, ryw_id_seq TO pggate_scram, pggate_md5; ALTER ROLE pggate_md5 SET synchronous_commit = on", "app");
  await Bun.sleep(1700);
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

describe("read-your-writes", () => {
  test("300 insert-then-read pairs (synchronous commits): no stale read, reads still reach a replica, under 15 s", async () => {
    const g = gateway();
    try {
      // pggate_md5 commits synchronously; with the cluster's synchronous_commit = off the reads
      // would go to the primary (the next test), and this one is about replicas.
      const r = await pairs(g.port, 300, "md5");
      console.log(`read-your-writes: 300 pairs in ${r.ms} ms, reads by port ${JSON.stringify([...r.ports])}`);
      expect(r.stale).toBe(0);
      expect(r.ms).toBeLessThan(15_000);
      expect(r.ports.get(normalPort()) ?? 0).toBeGreaterThan(0);
      expect(r.ports.get(delayedPort()) ?? 0).toBe(0);
    } finally {
      await g.shutdown();
    }
  }, 60_000);

  test("synchronous_commit off: a read after a write the primary has not flushed goes to the primary at once; on: it waits for the replica and reads there", async () => {
    const g = gateway();
    try {
      const stats = g.ctx.stats;
      const before = { waits: stats.rywWaits, primary: stats.queries.primary.read_your_writes ?? 0 };
      const off = await pairs(g.port, 100);
      const offWaits = stats.rywWaits - before.waits;
      const offPrimary = (stats.queries.primary.read_your_writes ?? 0) - before.primary;
      console.log(`synchronous_commit off: ${off.ms} ms, ${offWaits} waits, ${offPrimary} reads sent to the primary, by port ${JSON.stringify([...off.ports])}`);
      expect(off.stale).toBe(0);
      // Nearly every commit is still unflushed when its position is learnt (wal_writer_delay 10 ms):
      // those reads do not wait for a replica that cannot have the row.
      expect(offWaits).toBeLessThan(25);
      expect(offPrimary).toBeGreaterThan(75);

      const on = await pairs(g.port, 100, "md5");
      console.log(`synchronous_commit on: ${on.ms} ms, by port ${JSON.stringify([...on.ports])}`);
      expect(on.stale).toBe(0);
      expect(on.ports.get(normalPort()) ?? 0).toBeGreaterThanOrEqual(50);
      expect(on.ports.get(delayedPort()) ?? 0).toBe(0);
    } finally {
      await g.shutdown();
    }
  }, 60_000);

  test("a write inside an explicit transaction (and in a multi-statement string) sets the floor too", async () => {
    const g = gateway();
    const cl = client(g.port);
    await cl.connect();
    try {
      let stale = 0;
      for (let i = 0; i < 40; i++) {
        await cl.query("BEGIN");
        const { rows } = await cl.query("INSERT INTO ryw (v) VALUES ('in tx') RETURNING id");
        await cl.query("COMMIT");
        const r = await cl.query("SELECT count(*)::int AS n FROM ryw WHERE id = $1", [rows[0].id]);
        if (r.rows[0].n !== 1) stale++;
        const multi = (await cl.query("BEGIN; INSERT INTO ryw (v) VALUES ('multi') RETURNING id; COMMIT")) as unknown as pg.QueryResult[];
        const m = await cl.query("SELECT count(*)::int AS n FROM ryw WHERE id = $1", [multi[1].rows[0].id]);
        if (m.rows[0].n !== 1) stale++;
      }
      expect(stale).toBe(0);
    } finally {
      await cl.end();
      await g.shutdown();
    }
  }, 60_000);

  test("with read_your_writes: false the same run shows stale reads (the test can fail)", async () => {
    const g = gateway({ read_your_writes: false });
    try {
      const r = await pairs(g.port, 60);
      expect(r.stale).toBeGreaterThan(0);
    } finally {
      await g.shutdown();
    }
  }, 60_000);

  test("a fresh session that has written nothing sends at least 75% of its reads to replicas", async () => {
    const g = gateway();
    const cl = client(g.port);
    await cl.connect();
    try {
      let onReplicas = 0;
      for (let i = 0; i < 100; i++) {
        const p = (await cl.query("SELECT inet_server_port() AS p")).rows[0].p;
        if (p !== c.primary.port) onReplicas++;
      }
      expect(onReplicas).toBeGreaterThanOrEqual(75);
    } finally {
      await cl.end();
      await g.shutdown();
    }
  });

  test("a write's position carries to another session: pggate.write_lsn → SET pggate.min_lsn", async () => {
    const g = gateway();
    const writer = client(g.port);
    const reader = client(g.port);
    await writer.connect();
    await reader.connect();
    try {
      const conn = writer as unknown as { connection: { on(ev: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } };
      let lsn = "";
      conn.connection.on("parameterStatus", (m) => {
        if (m.parameterName === "pggate.write_lsn") lsn = m.parameterValue;
      });
      for (let i = 0; i < 20; i++) {
        const previous = lsn;
        const { rows } = await writer.query("INSERT INTO ryw (v) VALUES ('handed over') RETURNING id");
        // The position is reported just after the ReadyForQuery (learnt on the same connection).
        for (let w = 0; w < 200 && lsn === previous; w++) await Bun.sleep(5);
        expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        await reader.query(`SET pggate.min_lsn = '${lsn}'`);
        const r = await reader.query("SELECT count(*)::int AS n FROM ryw WHERE id = $1", [rows[0].id]);
        expect(r.rows[0].n).toBe(1);
      }
      const bad = await reader.query("SET pggate.min_lsn = 'nonsense'").catch((e: pg.DatabaseError) => e);
      expect((bad as pg.DatabaseError).code).toBe("22023");
    } finally {
      await writer.end();
      await reader.end();
      await g.shutdown();
    }
  }, 30_000);
});

describe("lag-aware routing", () => {
  test("with max_replica_lag_ms 500 the delayed replica gets no reads while it lags, and reads again after it caught up", async () => {
    const g = gateway({ max_replica_lag_ms: 500 });
    const writer = client(g.port);
    const reader = client(g.port);
    await writer.connect();
    await reader.connect();
    try {
      // Caught up: both replicas serve reads.
      await Bun.sleep(2000);
      const before = new Set<number>();
      for (let i = 0; i < 20; i++) before.add((await reader.query("SELECT inet_server_port() AS p")).rows[0].p);
      expect(before.has(delayedPort())).toBe(true);
      // A burst of writes: the delayed replica falls 1.5 s behind.
      for (let i = 0; i < 50; i++) await writer.query("INSERT INTO ryw (v) VALUES ('burst')");
      await Bun.sleep(800);
      const metrics = await (await fetch(`${g.metricsUrl}/metrics`)).text();
      const lag = Number(metrics.match(/pggate_replica_lag_seconds\{node="replica0",cluster="default"\} ([0-9.e-]+)/)?.[1] ?? "0");
      expect(lag).toBeGreaterThan(0.5);
      const during = new Set<number>();
      for (let i = 0; i < 20; i++) during.add((await reader.query("SELECT inet_server_port() AS p")).rows[0].p);
      expect(during.has(delayedPort())).toBe(false);
      // Caught up again.
      await Bun.sleep(2500);
      const after = new Set<number>();
      for (let i = 0; i < 20; i++) after.add((await reader.query("SELECT inet_server_port() AS p")).rows[0].p);
      expect(after.has(delayedPort())).toBe(true);
    } finally {
      await writer.end();
      await reader.end();
      await g.shutdown();
    }
  }, 30_000);
});

/** Writes on one connection, reads on another (a pool handing requests different connections). */
async function crossPairs(port: number, n: number, readerPort = port): Promise<{ stale: number; replicaReads: number; ms: number }> {
  const writer = client(port);
  const reader = client(readerPort);
  await writer.connect();
  await reader.connect();
  let stale = 0;
  let replicaReads = 0;
  const started = Date.now();
  try {
    for (let i = 0; i < n; i++) {
      const { rows } = await writer.query("INSERT INTO ryw (v) VALUES ($1) RETURNING id", [`cross ${i}`]);
      const r = await reader.query("SELECT count(*)::int AS n, inet_server_port() AS port FROM ryw WHERE id = $1", [rows[0].id]);
      if (r.rows[0].n !== 1) stale++;
      if (r.rows[0].port !== c.primary.port) replicaReads++;
    }
  } finally {
    await writer.end();
    await reader.end();
  }
  return { stale, replicaReads, ms: Date.now() - started };
}

describe("read-your-writes across connections (routing.read_your_writes user / global)", () => {
  test("session (the default): another connection may read stale rows — the gap user mode closes", async () => {
    const g = gateway({ read_your_writes: "session" });
    try {
      const r = await crossPairs(g.port, 20);
      console.log(`ryw session, cross-connection: ${r.stale}/20 stale, ${r.replicaReads} replica reads, ${r.ms} ms`);
      expect(r.stale).toBeGreaterThan(0);
    } finally {
      await g.shutdown();
    }
  });

  for (const mode of ["user", "global"] as const) {
    test(`${mode}: a write on one connection is seen by the next read on another, and reads still reach a replica`, async () => {
      const g = gateway({ read_your_writes: mode });
      try {
        const r = await crossPairs(g.port, 40);
        console.log(`ryw ${mode}, cross-connection: ${r.stale}/40 stale, ${r.replicaReads} replica reads, ${r.ms} ms`);
        expect(r.stale).toBe(0);
        expect(r.replicaReads).toBeGreaterThan(0);
      } finally {
        await g.shutdown();
      }
    });
  }

  test("user mode does not hold back another user's reads; global does", async () => {
    for (const [mode, expectConstrained] of [["user", false], ["global", true]] as const) {
      const g = gateway({ read_your_writes: mode });
      try {
        const writer = client(g.port);
        await writer.connect();
        const md5 = new pg.Client({ host: "127.0.0.1", port: g.port, user: c.users.md5.user, password: c.users.md5.password, database: "app" });
        md5.on("error", () => {});
        await md5.connect();
        try {
          await md5.query("SELECT 1");
          await writer.query("INSERT INTO ryw (v) VALUES ('other user')");
          // The md5 user reads right after: under global it must avoid the delayed replica.
          const ports: number[] = [];
          for (let i = 0; i < 6; i++) ports.push((await md5.query("SELECT inet_server_port() AS port")).rows[0].port);
          const sawDelayed = ports.includes(delayedPort());
          if (expectConstrained) expect(sawDelayed).toBe(false);
          else expect(sawDelayed).toBe(true);
        } finally {
          await writer.end();
          await md5.end();
        }
      } finally {
        await g.shutdown();
      }
    }
  });
});

/** PgGate as its own process (`bun src/main.ts`), `workers` of them on one port; stopped by the caller. */
async function processGateway(routing: Record<string, unknown>, workers = 1): Promise<{ port: number; stop(): Promise<void> }> {
  const listen = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listen.port;
  listen.stop(true);
  const dir = mkdtempSync(join(tmpdir(), "pggate-ryw-"));
  const path = join(dir, "pggate.yaml");
  writeFileSync(
    path,
    stringify({
      workers,
      listen: { host: "127.0.0.1", port },
      metrics: { enabled: false },
      nodes: { primary: { host: c.primary.host, port: c.primary.port }, replicas: c.replicas.map((r) => ({ host: r.host, port: r.port })), tls: { mode: "disable" } },
      auth: { mode: "auth_query", auth_user: c.authUser.user, auth_password: c.authUser.password, auth_query: c.authQuery },
      health: { interval_ms: 100 },
      routing: { ryw_max_wait_ms: 200, ...routing },
      log: { level: "warn" },
    }),
  );
  const proc = Bun.spawn([process.execPath, "run", "src/main.ts", "--config", path], { stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 200; i++) {
    const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (up) break;
    await Bun.sleep(50);
  }
  return {
    port,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

describe("read-your-writes across PgGate processes (routing.read_your_writes global)", () => {
  // Issue 26: two PgGates share nothing but the primary. The writer uses one, the reader the
  // other; a replica lags 1.5 s. global asks the primary for its position at each read (one round
  // trip per batch of reads), so no read is stale; session cannot know of the other's writes.
  for (const [mode, expectStale] of [["session", true], ["global", false]] as const) {
    test(`${mode}: 200 write→read pairs, writer on one PgGate process, reader on another: ${expectStale ? "stale reads happen (counted)" : "0 stale"}`, async () => {
      const a = await processGateway({ read_your_writes: mode });
      const b = await processGateway({ read_your_writes: mode });
      try {
        const r = await crossPairs(a.port, 200, b.port);
        console.log(`ryw ${mode} across processes: ${r.stale}/200 stale, ${r.replicaReads} replica reads, ${r.ms} ms`);
        if (expectStale) expect(r.stale).toBeGreaterThan(0);
        else {
          expect(r.stale).toBe(0);
          expect(r.replicaReads).toBeGreaterThan(0);
        }
      } finally {
        await a.stop();
        await b.stop();
      }
    }, 120_000);
  }

  test("global with workers: 2 — writer and reader on separate connections to one port (whichever workers the kernel picks): 0 stale in 100 pairs", async () => {
    const g = await processGateway({ read_your_writes: "global" }, 2);
    try {
      const r = await crossPairs(g.port, 100);
      console.log(`ryw global, workers: 2: ${r.stale}/100 stale, ${r.replicaReads} replica reads, ${r.ms} ms`);
      expect(r.stale).toBe(0);
    } finally {
      await g.stop();
    }
  }, 120_000);
});

describe("pggate.write_lsn", () => {
  test("arrives before the ReadyForQuery that ends the write, so a client holding it has the right one", async () => {
    const g = gateway();
    try {
      const cl = client(g.port);
      const events: string[] = [];
      await cl.connect();
      const conn = (cl as unknown as { connection: { on(e: string, f: (m: { parameterName?: string; parameterValue?: string }) => void): void } }).connection;
      conn.on("parameterStatus", (m) => {
        if (m.parameterName === "pggate.write_lsn") events.push(`lsn ${m.parameterValue}`);
      });
      conn.on("readyForQuery", () => events.push("Z"));
      try {
        for (let i = 0; i < 10; i++) {
          events.length = 0;
          await cl.query("INSERT INTO ryw (v) VALUES ('lsn order')");
          expect(events.length).toBe(2);
          expect(events[0]).toMatch(/^lsn [0-9A-F]+\/[0-9A-F]+$/);
          expect(events[1]).toBe("Z");
        }
      } finally {
        await cl.end();
      }
    } finally {
      await g.shutdown();
    }
  });
});
