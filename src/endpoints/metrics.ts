// Prometheus metrics and the HTTP endpoints (/metrics, /healthz, /readyz, /status). Every
// family is a collector reading the gateway's plain counters at scrape time (see stats.ts), so
// recording costs the hot path an integer increment.
import { collectDefaultMetrics, Counter, Gauge, Histogram as PromHistogram, Registry } from "prom-client";
import type { ServerPool } from "../pool/pools.ts";
import { clusterLabel } from "../server/node-target.ts";
import { COMMIT, VERSION } from "../version.ts";
import type { GatewayContext } from "../session/context.ts";
import { Histogram, LATENCY_BUCKETS } from "../metrics/stats.ts";
import { statusSummary } from "./status.ts";

type Labels = Record<string, string>;
interface Sample {
  value: number;
  labels?: Labels;
  metricName?: string;
}
type MetricType = "counter" | "gauge" | "histogram";
/**
 * How the supervisor merges a family over the workers (`workers: N`, endpoints/group.ts):
 * prom-client's aggregators; sum when absent (counts, totals, histograms).
 */
type Aggregator = "sum" | "max" | "min" | "first";

/** The one table of metric families: name, type, help, and how to read it. */
function families(ctx: GatewayContext): { name: string; type: MetricType; help: string; labels: string[]; aggregator?: Aggregator; read: () => Sample[] }[] {
  const s = ctx.stats;
  return [
    {
      name: "pggate_client_connections", labels: ["state"],
      type: "gauge",
      help: "Client connections by state (login, idle, active, waiting).",
      read: () => {
        const counts: Record<string, number> = { login: 0, idle: 0, active: 0, waiting: 0 };
        for (const c of ctx.clients) if (c.state in counts) counts[c.state]++;
        return Object.entries(counts).map(([state, value]) => ({ value, labels: { state } }));
      },
    },
    { name: "pggate_client_connections_total", labels: [], type: "counter", help: "Client connections accepted.", read: () => [{ value: s.clientsAccepted }] },
    {
      name: "pggate_queries_total", labels: ["route", "reason"],
      type: "counter",
      help: "Statements and extended batches by route and routing reason.",
      read: () => {
        const out: Sample[] = [];
        for (const route of ["primary", "replica"] as const) {
          for (const [reason, value] of Object.entries(s.queries[route])) out.push({ value, labels: { route, reason } });
        }
        return out;
      },
    },
    {
      name: "pggate_query_duration_seconds", labels: ["route"],
      type: "histogram",
      help: "Time from sending a statement or batch to its last ReadyForQuery, by route.",
      read: () => [...histogramSamples("pggate_query_duration_seconds", s.duration.primary, { route: "primary" }), ...histogramSamples("pggate_query_duration_seconds", s.duration.replica, { route: "replica" })],
    },
    {
      name: "pggate_server_connections", labels: ["node", "state"],
      type: "gauge",
      help: "Server connections by node and state (idle, active, connecting).",
      read: () => {
        const byNode = new Map<string, { idle: number; active: number; connecting: number }>();
        for (const p of ctx.pools.visible()) {
          const n = byNode.get(p.node.name) ?? { idle: 0, active: 0, connecting: 0 };
          n.idle += p.core.idleCount;
          n.active += p.core.active;
          n.connecting += p.core.connecting;
          byNode.set(p.node.name, n);
        }
        const out: Sample[] = [];
        for (const [node, n] of byNode) for (const [state, value] of Object.entries(n)) out.push({ value, labels: { node, state } });
        return out;
      },
    },
    {
      name: "pggate_clients_waiting_full_pools", labels: [],
      type: "gauge",
      help: "Clients waiting for a server connection in pools with every slot taken.",
      read: () => [{ value: waitingOnFullPools(ctx) }],
    },
    {
      name: "pggate_overloaded", aggregator: "max", labels: [],
      type: "gauge",
      help: "1 while /readyz answers 503 for overload: pggate_clients_waiting_full_pools exceeds metrics.ready_max_waiting, or a client has waited for a server connection longer than half of min(pool.acquire_timeout_ms, listen.handshake_timeout_ms).",
      read: () => [{ value: overloaded(ctx) === null ? 0 : 1 }],
    },
    { name: "pggate_pool_wait_seconds", labels: [], type: "histogram", help: "Time clients waited for a pooled server connection.", read: () => histogramSamples("pggate_pool_wait_seconds", s.poolWait, {}) },
    {
      name: "pggate_node_up", aggregator: "min", labels: ["node", "cluster"],
      type: "gauge",
      help: "1 when the node's health checks pass (its role is pggate_node_role, so a failover starts no new series here).",
      read: () => ctx.health.all().map((h) => ({ value: h.up ? 1 : 0, labels: { node: h.target.name, cluster: clusterLabel(h.target) } })),
    },
    {
      name: "pggate_node_role", aggregator: "max",
      labels: ["node", "role", "cluster"],
      type: "gauge",
      help: "1 for each node's observed role (primary or replica; the configured one until observed).",
      read: () => ctx.health.all().map((h) => ({ value: 1, labels: { node: h.target.name, role: h.role === "unknown" ? h.configuredRole : h.role, cluster: clusterLabel(h.target) } })),
    },
    {
      name: "pggate_pool_clients",
      labels: ["database", "user", "node", "state"],
      type: "gauge",
      help: "Clients of each pool: active (holding one of its connections) and waiting for one.",
      read: () => perPool(ctx).flatMap((p) => [
        { value: p.active, labels: { ...p.labels, state: "active" } },
        { value: p.waiting, labels: { ...p.labels, state: "waiting" } },
      ]),
    },
    {
      name: "pggate_pool_servers",
      labels: ["database", "user", "node", "state"],
      type: "gauge",
      help: "Server connections of each pool by state (active, idle, connecting).",
      read: () => perPool(ctx).flatMap((p) => [
        { value: p.pool.core.active, labels: { ...p.labels, state: "active" } },
        { value: p.pool.core.idleCount, labels: { ...p.labels, state: "idle" } },
        { value: p.pool.core.connecting, labels: { ...p.labels, state: "connecting" } },
      ]),
    },
    {
      name: "pggate_pool_reserve_connections",
      labels: ["database", "user", "node"],
      type: "gauge",
      help: "Server connections of each pool beyond pool.size, open or opening: the reserve (pool.reserve_size) in use.",
      read: () => perPool(ctx).map((p) => ({ value: p.pool.reserveInUse, labels: p.labels })),
    },
    {
      name: "pggate_pool_reserve_used_total",
      labels: ["database", "user", "node"],
      type: "counter",
      help: "Reserve connections each pool opened for clients that waited pool.reserve_timeout_ms in it while full.",
      read: () => perPool(ctx).map((p) => ({ value: p.pool.reserveUsedTotal, labels: p.labels })),
    },
    {
      name: "pggate_pool_transactions_total",
      labels: ["database", "user", "node"],
      type: "counter",
      help: "Transactions (ReadyForQuery back to idle) through each pool's connections.",
      read: () => perPool(ctx).map((p) => ({ value: p.pool.counters.transactions, labels: p.labels })),
    },
    {
      name: "pggate_pool_queries_total",
      labels: ["database", "user", "node"],
      type: "counter",
      help: "Statements and extended batches sent through each pool's connections.",
      read: () => perPool(ctx).map((p) => ({ value: p.pool.counters.queries, labels: p.labels })),
    },
    {
      name: "pggate_pool_bytes_total",
      labels: ["database", "user", "node", "direction"],
      type: "counter",
      help: "Bytes through each pool's connections: sent to the server, received from it.",
      read: () => perPool(ctx).flatMap((p) => [
        { value: p.pool.counters.bytesOut, labels: { ...p.labels, direction: "to_server" } },
        { value: p.pool.counters.bytesIn, labels: { ...p.labels, direction: "from_server" } },
      ]),
    },
    {
      name: "pggate_pool_maxwait_seconds", aggregator: "max",
      labels: ["database", "user", "node"],
      type: "gauge",
      help: "How long the longest-waiting client of each pool has waited (0 when none waits).",
      read: () => {
        const now = Date.now();
        return perPool(ctx).map((p) => ({ value: Number.isFinite(p.pool.core.oldestWaitingSince) ? (now - p.pool.core.oldestWaitingSince) / 1000 : 0, labels: p.labels }));
      },
    },
    {
      name: "pggate_build_info", aggregator: "first",
      labels: ["version", "commit", "bun"],
      type: "gauge",
      help: "Always 1; the labels say which build runs.",
      read: () => [{ value: 1, labels: { version: VERSION, commit: COMMIT, bun: Bun.version } }],
    },
    {
      name: "pggate_replica_lag_seconds", aggregator: "max", labels: ["node", "cluster"],
      type: "gauge",
      help: "Replication lag of each replica in seconds (replay behind receive).",
      read: () => ctx.health.all().filter((h) => h.configuredRole === "replica" && h.lagSeconds !== null).map((h) => ({ value: h.lagSeconds ?? 0, labels: { node: h.target.name, cluster: clusterLabel(h.target) } })),
    },
    {
      name: "pggate_replica_lag_bytes", aggregator: "max", labels: ["node", "cluster"],
      type: "gauge",
      help: "WAL bytes each replica has yet to replay, behind the primary's current position.",
      read: () => ctx.health.all().filter((h) => h.configuredRole === "replica" && h.lagBytes !== null).map((h) => ({ value: h.lagBytes ?? 0, labels: { node: h.target.name, cluster: clusterLabel(h.target) } })),
    },
    { name: "pggate_errors_total", labels: ["kind"], type: "counter", help: "Errors PgGate sent to clients, by kind.", read: () => Object.entries(s.errors).map(([kind, value]) => ({ value, labels: { kind } })) },
    {
      name: "pggate_ryw_waits_total", labels: [],
      type: "counter",
      help: "Reads held for a replica to replay the client's last write (read-your-writes); the rest of such reads found one at once or went to the primary.",
      read: () => [{ value: s.rywWaits }],
    },
    {
      name: "pggate_cancel_requests_total", labels: ["result"],
      type: "counter",
      help: "CancelRequests by result: local (matched a client of this process), forwarded (to the worker that issued the key, which counts it again), no_match.",
      read: () => Object.entries(s.cancels).map(([result, value]) => ({ value, labels: { result } })),
    },
    {
      name: "pggate_config_reloads_total", labels: ["result"],
      type: "counter",
      help: "Config reloads (SIGHUP or RELOAD) by result.",
      read: () => [
        { value: s.reloads.success, labels: { result: "success" } },
        { value: s.reloads.error, labels: { result: "error" } },
      ],
    },
    {
      name: "pggate_prepared_statements", labels: [],
      type: "gauge",
      help: "Server-side prepared statements PgGate keeps across all pooled connections.",
      read: () => {
        let n = 0;
        for (const p of ctx.pools.visible()) for (const c of p.members) n += c.prepared.size;
        return [{ value: n }];
      },
    },
    { name: "pggate_prepared_statement_hits_total", labels: [], type: "counter", help: "Binds whose statement was already prepared on the connection.", read: () => [{ value: s.preparedHits }] },
    { name: "pggate_prepared_statement_misses_total", labels: [], type: "counter", help: "Binds that needed the statement prepared on the connection first.", read: () => [{ value: s.preparedMisses }] },
    {
      name: "pggate_client_pins", labels: ["reason"],
      type: "gauge",
      help: "Clients pinned to a primary connection, by reason.",
      read: () => {
        const counts = new Map<string, number>();
        for (const c of ctx.clients) if (c.pinReason) counts.set(c.pinReason, (counts.get(c.pinReason) ?? 0) + 1);
        return [...counts].map(([reason, value]) => ({ value, labels: { reason } }));
      },
    },
    { name: "pggate_event_loop_lag_seconds", aggregator: "max", labels: [], type: "gauge", help: "How late the last 100 ms timer fired: a busy or blocked event loop.", read: () => [{ value: loopLag.seconds }] },
  ];
}

function histogramSamples(name: string, h: Histogram, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    cumulative += h.counts[i];
    out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { ...labels, le: String(LATENCY_BUCKETS[i]) } });
  }
  out.push({ metricName: `${name}_bucket`, value: h.count, labels: { ...labels, le: "+Inf" } });
  out.push({ metricName: `${name}_sum`, value: h.sum, labels });
  out.push({ metricName: `${name}_count`, value: h.count, labels });
  return out;
}

/** Pools with their label set and active-client count (clients holding one of their connections). */
function perPool(ctx: GatewayContext): { pool: ServerPool; labels: Labels; active: number; waiting: number }[] {
  const active = ctx.activeClientsByPool();
  return [...ctx.pools.visible()].map((pool) => ({ pool, labels: { database: pool.database, user: pool.user, node: pool.node.name }, active: active.get(pool) ?? 0, waiting: pool.core.waiting }));
}

/** prom-client's default metrics that mean nothing under Bun (BUN-NOTES): GC, heap spaces, handles. */
const MEANINGLESS_DEFAULTS = [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_gc_duration_seconds",
  "nodejs_version_info",
  "nodejs_heap_size_total_bytes",
  "nodejs_heap_size_used_bytes",
  "nodejs_external_memory_bytes",
];

/** Event-loop lag: a 100 ms timer's lateness, sampled continuously. */
const loopLag = { seconds: 0, started: false };
function startLoopLag(): void {
  if (loopLag.started) return;
  loopLag.started = true;
  let expected = performance.now() + 100;
  const t = setInterval(() => {
    const now = performance.now();
    loopLag.seconds = Math.max(0, now - expected) / 1000;
    expected = now + 100;
  }, 100);
  t.unref?.();
}

/**
 * prom-client used as designed: each counter and gauge family is a real Counter / Gauge whose
 * collect() copies the plain counters at scrape time, so the hot path stays integer increments.
 * The histograms are PgGate's own (fixed buckets, incremented on the hot path): prom-client's
 * Histogram is fed by observe(), so those families are Histograms whose get() reports PgGate's
 * buckets as they are. Process metrics are prom-client's defaults, minus those that
 * mean nothing under Bun.
 */
export function createRegistry(ctx: GatewayContext): Registry {
  const registry = new Registry();
  startLoopLag();
  collectDefaultMetrics({ register: registry });
  for (const name of MEANINGLESS_DEFAULTS) registry.removeSingleMetric(name);
  for (const f of families(ctx)) {
    const labelNames = f.labels;
    if (f.type === "counter") {
      new Counter({
        name: f.name,
        help: f.help,
        labelNames,
        aggregator: f.aggregator ?? "sum",
        registers: [registry],
        collect() {
          this.reset();
          for (const s of f.read()) this.inc(s.labels ?? {}, s.value);
        },
      });
    } else if (f.type === "gauge") {
      new Gauge({
        name: f.name,
        help: f.help,
        labelNames,
        aggregator: f.aggregator ?? "sum",
        registers: [registry],
        collect() {
          this.reset();
          for (const s of f.read()) this.set(s.labels ?? {}, s.value);
        },
      });
    } else {
      histogramCollector(f.name, f.help, labelNames, f.read, registry);
    }
  }
  return registry;
}

/** A prom-client Histogram whose samples are PgGate's own buckets, read at scrape time. */
function histogramCollector(name: string, help: string, labelNames: string[], read: () => Sample[], registry: Registry): void {
  class BucketHistogram extends PromHistogram<string> {
    override async get(): ReturnType<PromHistogram<string>["get"]> {
      const values = read().map((v) => ({ value: v.value, labels: v.labels ?? {}, metricName: v.metricName }));
      return { name, help, type: "histogram" as never, values, aggregator: "sum", collect: () => {} };
    }

    // The text exposition asks for this one (it adds exemplars to prom-client's own histograms).
    async getForPromString(): ReturnType<PromHistogram<string>["get"]> {
      return this.get();
    }
  }
  new BucketHistogram({ name, help, labelNames, registers: [registry] });
}

export interface MetricsServer {
  readonly url: string;
  stop(): void;
}

export function startMetricsServer(ctx: GatewayContext, registry: Registry): MetricsServer {
  // One process: it serves its own. With several workers the supervisor serves the port (group.ts).
  const { host, port } = ctx.config.metrics;
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/readyz") {
        const why = notReady(ctx);
        return why ? new Response(`not ready: ${why}\n`, { status: 503 }) : new Response("ready\n");
      }
      if (path === "/" || path === "/status") return Response.json(statusSummary(ctx));
      return new Response("not found: try /metrics, /healthz, /readyz or /status\n", { status: 404 });
    },
  });
  return { url: `http://${host}:${server.port}`, stop: () => server.stop(true) };
}

/** Why PgGate should not get traffic, or null: shutting down, the primary failing its checks, overload. */
export function notReady(ctx: GatewayContext): string | null {
  if (ctx.shuttingDown) return "shutting down";
  // Any cluster's primary failing: its clients cannot write (a reload that removes it clears this).
  for (const c of ctx.databases.allClusters()) {
    const h = ctx.health.get(c.primary);
    if (h && !h.up) return `primary ${c.primary.host}:${c.primary.port} unreachable (${h.lastError || "health checks failing"})`;
  }
  return overloaded(ctx);
}

/**
 * Why new clients would not be served in time, or null: more than metrics.ready_max_waiting
 * clients queued on full pools, or one client waiting for a server connection (pooled, a login's
 * slot or turn, the pending-login gate) for more than half of min(pool.acquire_timeout_ms,
 * listen.handshake_timeout_ms). Queues are FIFO, so a login arriving now waits at least as long,
 * and with half its time gone it may well be refused (53300, or 08P01 at the handshake timeout).
 */
function overloaded(ctx: GatewayContext): string | null {
  const waiting = waitingOnFullPools(ctx);
  const max = ctx.config.metrics.readyMaxWaiting;
  if (max > 0 && waiting > max) return `overloaded: ${waiting} clients wait for a server connection in full pools (metrics.ready_max_waiting = ${max})`;
  const longest = longestWait(ctx);
  if (longest === null) return null;
  const limitMs = Math.floor(Math.min(ctx.config.pool.acquireTimeoutMs, ctx.config.listen.handshakeTimeoutMs) / 2);
  const waitedMs = Date.now() - longest.since;
  if (waitedMs <= limitMs) return null;
  return `stalled: a client has waited ${waitedMs} ms for ${longest.what} (more than ${limitMs} ms, half of min(pool.acquire_timeout_ms, listen.handshake_timeout_ms))`;
}

/** The client that has waited longest for a server connection, and for what; null when none waits. */
function longestWait(ctx: GatewayContext): { since: number; what: string } | null {
  let since = ctx.loginGate.oldestWaitingSince();
  let what = "its turn to log in (listen.max_pending_logins)";
  for (const p of ctx.pools.pools.values()) {
    const s = p.oldestWaitingSince;
    if (s < since) {
      since = s;
      what = `a server connection in pool ${p.label}`;
    }
  }
  return Number.isFinite(since) ? { since, what } : null;
}

/**
 * Clients queued for pools that have every slot taken: the load a balancer in front of several
 * PgGate instances should steer elsewhere. (A pool still opening connections is not full.)
 */
function waitingOnFullPools(ctx: GatewayContext): number {
  let n = 0;
  for (const p of ctx.pools.visible()) if (p.core.waiting > 0 && p.core.total >= p.core.size) n += p.core.waiting;
  return n;
}
