// Prometheus metrics and the HTTP endpoints (/metrics, /healthz, /readyz, /status). Every
// family is a collector reading the gateway's plain counters at scrape time (see stats.ts), so
// recording costs the hot path an integer increment.
import { readdirSync } from "node:fs";
import { Registry } from "prom-client";
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

/** The one table of metric families: name, type, help, and how to read it. */
function families(ctx: GatewayContext): { name: string; type: MetricType; help: string; read: () => Sample[] }[] {
  const s = ctx.stats;
  return [
    {
      name: "pggate_client_connections",
      type: "gauge",
      help: "Client connections by state (login, idle, active, waiting).",
      read: () => {
        const counts: Record<string, number> = { login: 0, idle: 0, active: 0, waiting: 0 };
        for (const c of ctx.clients) if (c.state in counts) counts[c.state]++;
        return Object.entries(counts).map(([state, value]) => ({ value, labels: { state } }));
      },
    },
    { name: "pggate_client_connections_total", type: "counter", help: "Client connections accepted.", read: () => [{ value: s.clientsAccepted }] },
    {
      name: "pggate_queries_total",
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
      name: "pggate_query_duration_seconds",
      type: "histogram",
      help: "Time from sending a statement or batch to its last ReadyForQuery, by route.",
      read: () => [...histogramSamples("pggate_query_duration_seconds", s.duration.primary, { route: "primary" }), ...histogramSamples("pggate_query_duration_seconds", s.duration.replica, { route: "replica" })],
    },
    {
      name: "pggate_server_connections",
      type: "gauge",
      help: "Server connections by node and state (idle, active, connecting).",
      read: () => {
        const byNode = new Map<string, { idle: number; active: number; connecting: number }>();
        for (const p of ctx.pools.pools.values()) {
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
      name: "pggate_clients_waiting_full_pools",
      type: "gauge",
      help: "Clients waiting for a server connection in pools with every slot taken.",
      read: () => [{ value: waitingOnFullPools(ctx) }],
    },
    {
      name: "pggate_overloaded",
      type: "gauge",
      help: "1 while pggate_clients_waiting_full_pools exceeds metrics.ready_max_waiting (/readyz then answers 503).",
      read: () => {
        const max = ctx.config.metrics.readyMaxWaiting;
        return [{ value: max > 0 && waitingOnFullPools(ctx) > max ? 1 : 0 }];
      },
    },
    { name: "pggate_pool_wait_seconds", type: "histogram", help: "Time clients waited for a pooled server connection.", read: () => histogramSamples("pggate_pool_wait_seconds", s.poolWait, {}) },
    {
      name: "pggate_node_up",
      type: "gauge",
      help: "1 when the node's health checks pass, by node and observed role.",
      read: () => ctx.health.all().map((h) => ({ value: h.up ? 1 : 0, labels: { node: h.target.name, role: h.role === "unknown" ? h.configuredRole : h.role } })),
    },
    {
      name: "pggate_replica_lag_seconds",
      type: "gauge",
      help: "Replication lag of each replica in seconds (replay behind receive).",
      read: () => ctx.health.all().filter((h) => h.configuredRole === "replica" && h.lagSeconds !== null).map((h) => ({ value: h.lagSeconds ?? 0, labels: { node: h.target.name } })),
    },
    {
      name: "pggate_replica_lag_bytes",
      type: "gauge",
      help: "WAL bytes each replica has yet to replay, behind the primary's current position.",
      read: () => ctx.health.all().filter((h) => h.configuredRole === "replica" && h.lagBytes !== null).map((h) => ({ value: h.lagBytes ?? 0, labels: { node: h.target.name } })),
    },
    { name: "pggate_errors_total", type: "counter", help: "Errors PgGate sent to clients, by kind.", read: () => Object.entries(s.errors).map(([kind, value]) => ({ value, labels: { kind } })) },
    {
      name: "pggate_config_reloads_total",
      type: "counter",
      help: "Config reloads (SIGHUP or RELOAD) by result.",
      read: () => [
        { value: s.reloads.success, labels: { result: "success" } },
        { value: s.reloads.error, labels: { result: "error" } },
      ],
    },
    {
      name: "pggate_prepared_statements",
      type: "gauge",
      help: "Server-side prepared statements PgGate keeps across all pooled connections.",
      read: () => {
        let n = 0;
        for (const p of ctx.pools.pools.values()) for (const c of p.members) n += c.prepared.size;
        return [{ value: n }];
      },
    },
    { name: "pggate_prepared_statement_hits_total", type: "counter", help: "Binds whose statement was already prepared on the connection.", read: () => [{ value: s.preparedHits }] },
    { name: "pggate_prepared_statement_misses_total", type: "counter", help: "Binds that needed the statement prepared on the connection first.", read: () => [{ value: s.preparedMisses }] },
    {
      name: "pggate_client_pins",
      type: "gauge",
      help: "Clients pinned to a primary connection, by reason.",
      read: () => {
        const counts = new Map<string, number>();
        for (const c of ctx.clients) if (c.pinReason) counts.set(c.pinReason, (counts.get(c.pinReason) ?? 0) + 1);
        return [...counts].map(([reason, value]) => ({ value, labels: { reason } }));
      },
    },
    { name: "process_cpu_seconds_total", type: "counter", help: "User and system CPU time spent, in seconds.", read: () => [{ value: cpuSeconds() }] },
    { name: "process_resident_memory_bytes", type: "gauge", help: "Resident set size in bytes.", read: () => [{ value: process.memoryUsage.rss() }] },
    { name: "process_open_fds", type: "gauge", help: "Open file descriptors.", read: () => [{ value: openFds() }] },
    { name: "pggate_event_loop_lag_seconds", type: "gauge", help: "How late the last 100 ms timer fired: a busy or blocked event loop.", read: () => [{ value: loopLag.seconds }] },
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

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

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

export function createRegistry(ctx: GatewayContext): Registry {
  const registry = new Registry();
  startLoopLag();
  for (const f of families(ctx)) {
    registry.registerMetric({
      name: f.name,
      get: async () => ({ name: f.name, help: f.help, type: f.type, values: f.read(), aggregator: "sum" }),
    } as unknown as Parameters<Registry["registerMetric"]>[0]);
  }
  return registry;
}

export interface MetricsServer {
  readonly url: string;
  stop(): void;
}

export function startMetricsServer(ctx: GatewayContext, registry: Registry): MetricsServer {
  const { host } = ctx.config.metrics;
  // Worker i of several serves its own metrics on metrics.port + i, labelled worker="i".
  const port = ctx.config.metrics.port === 0 ? 0 : ctx.config.metrics.port + ctx.worker.index;
  if (ctx.worker.count > 1) registry.setDefaultLabels({ worker: String(ctx.worker.index) });
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

/** Why PgGate should not get traffic, or null: shutting down, or the primary failing its checks. */
function notReady(ctx: GatewayContext): string | null {
  if (ctx.shuttingDown) return "shutting down";
  const h = ctx.health.get(ctx.primary);
  if (h && !h.up) return `primary ${ctx.primary.host}:${ctx.primary.port} unreachable (${h.lastError || "health checks failing"})`;
  const waiting = waitingOnFullPools(ctx);
  const max = ctx.config.metrics.readyMaxWaiting;
  if (max > 0 && waiting > max) return `overloaded: ${waiting} clients wait for a server connection in full pools (metrics.ready_max_waiting = ${max})`;
  return null;
}

/**
 * Clients queued for pools that have every slot taken: the load a balancer in front of several
 * PgGate instances should steer elsewhere. (A pool still opening connections is not full.)
 */
function waitingOnFullPools(ctx: GatewayContext): number {
  let n = 0;
  for (const p of ctx.pools.pools.values()) if (p.core.waiting > 0 && p.core.total >= p.core.size) n += p.core.waiting;
  return n;
}
