// With `workers: N` the supervisor serves metrics.host:metrics.port itself: /metrics, /status and
// /readyz describe the whole process group, built per request from every running worker's answer
// over IPC. The merging is pure (below the server); asking the workers is the supervisor's.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { Report } from "./group-messages.ts";
import type { MetricsServer } from "./metrics.ts";
import type { NodeStatus, PoolStatus, StatusSummary } from "./status.ts";

export type WorkerState = "starting" | "running" | "down";

/** What the supervisor knows of worker `index`. */
export interface WorkerView {
  index: number;
  pid: number | null;
  /** starting: spawned, not listening yet; running: listening (it gets connections); down: exited. */
  state: WorkerState;
  restarts: number;
}

/** One worker's answer, null when it did not answer in time. */
export interface Answer<T> {
  index: number;
  body: T | null;
}

/** What a worker answers for /status: its summary and its readiness. */
export interface WorkerStatus extends StatusSummary {
  not_ready: string | null;
}

export interface GroupSource {
  workers(): WorkerView[];
  /** Asks every running worker for `report`. */
  askRunning<T>(report: Report): Promise<Answer<T>[]>;
  /** The supervisor is shutting the group down. */
  stopping(): boolean;
}

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** One family of a worker's registry as plain data (what crosses the IPC channel). */
export interface FamilyData {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: MetricValue<string>[];
}

/** The supervisor's own families, about the workers. */
function supervisorMetrics(workers: readonly WorkerView[], reporting: number): MetricJson[] {
  const byState: Record<WorkerState, number> = { starting: 0, running: 0, down: 0 };
  for (const w of workers) byState[w.state]++;
  const family = (name: string, type: string, help: string, values: MetricValue<string>[]): MetricJson => ({ name, help, type, values, aggregator: "sum" }) as unknown as MetricJson;
  return [
    family("pggate_workers", "gauge", "Worker processes by state: starting (not listening yet), running, down (exited, restarting).", Object.entries(byState).map(([state, value]) => ({ value, labels: { state } }))),
    family("pggate_workers_reporting", "gauge", "Running workers whose figures this scrape includes (the others did not answer in time).", [{ value: reporting, labels: {} }]),
    family("pggate_worker_restarts_total", "counter", "Workers restarted after they exited on their own.", [{ value: workers.reduce((n, w) => n + w.restarts, 0), labels: {} }]),
  ];
}

/**
 * The group's exposition: every worker's families merged with prom-client's AggregatorRegistry
 * (the way it merges node cluster workers), each family by its `aggregator` (sum unless the family
 * says otherwise: max for lags and waits, min for pggate_node_up, ...), then the supervisor's own.
 */
export async function groupMetrics(workers: readonly WorkerView[], answers: readonly Answer<FamilyData[]>[]): Promise<{ text: string; contentType: string }> {
  const bodies = answers.flatMap((a) => (a.body ? [a.body as unknown as MetricJson[]] : []));
  const registry = AggregatorRegistry.aggregate([...bodies, supervisorMetrics(workers, bodies.length)]);
  return { text: await registry.metrics(), contentType: registry.contentType };
}

/**
 * Why the group should not get traffic, or null. A load balancer's connection reaches whichever
 * running worker the kernel picks, so the group is ready only when every running worker is.
 */
export function groupNotReady(stopping: boolean, workers: readonly WorkerView[], answers: readonly Answer<{ notReady: string | null }>[]): string | null {
  if (stopping) return "shutting down";
  if (!workers.some((w) => w.state === "running")) return "no worker is running yet";
  for (const a of answers) {
    if (a.body === null) return `worker ${a.index} did not answer`;
    if (a.body.notReady) return `worker ${a.index}: ${a.body.notReady}`;
  }
  return null;
}

/** /status for the group: the workers, then nodes, pools and clients as one process would show them. */
export function groupStatus(stopping: boolean, workers: readonly WorkerView[], answers: readonly Answer<WorkerStatus>[]): unknown {
  const byIndex = new Map(answers.map((a) => [a.index, a.body]));
  const bodies = answers.flatMap((a) => (a.body ? [a.body] : []));
  const clients: Record<string, number> = { total: 0 };
  for (const b of bodies) for (const [k, v] of Object.entries(b.clients)) clients[k] = (clients[k] ?? 0) + v;
  return {
    workers: workers.map((w) => {
      const b = byIndex.get(w.index) ?? null;
      return {
        worker: w.index,
        pid: w.pid,
        state: w.state,
        restarts: w.restarts,
        answered: b !== null,
        clients: b?.clients.total ?? null,
        ready: b === null ? null : b.not_ready === null,
        not_ready: b?.not_ready ?? null,
      };
    }),
    nodes: mergeNodes(bodies.map((b) => b.nodes)),
    pools: mergePools(bodies.map((b) => b.pools)),
    clients,
    paused: { all: bodies.some((b) => b.paused.all), databases: [...new Set(bodies.flatMap((b) => b.paused.databases))] },
    shutting_down: stopping || bodies.some((b) => b.shutting_down),
  };
}

/** Each worker checks the nodes itself: up when every worker's checks pass; the largest lag. */
function mergeNodes(lists: readonly NodeStatus[][]): NodeStatus[] {
  const out = new Map<string, NodeStatus>();
  for (const list of lists) {
    for (const n of list) {
      const key = JSON.stringify([n.cluster, n.name]);
      const seen = out.get(key);
      if (!seen) {
        out.set(key, { ...n });
        continue;
      }
      seen.up = seen.up && n.up;
      seen.lag_seconds = maxOrNull(seen.lag_seconds, n.lag_seconds);
      seen.lag_bytes = maxOrNull(seen.lag_bytes, n.lag_bytes);
      seen.last_error ??= n.last_error;
    }
  }
  return [...out.values()];
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** One entry per (node, user, database): the workers' sizes and connections added up. */
function mergePools(lists: readonly PoolStatus[][]): PoolStatus[] {
  const out = new Map<string, PoolStatus>();
  for (const list of lists) {
    for (const p of list) {
      const key = JSON.stringify([p.node, p.user, p.database]);
      const seen = out.get(key);
      if (!seen) {
        out.set(key, { ...p });
        continue;
      }
      seen.size += p.size;
      seen.idle += p.idle;
      seen.active += p.active;
      seen.connecting += p.connecting;
      seen.waiting += p.waiting;
    }
  }
  return [...out.values()];
}

/** The supervisor's HTTP server on metrics.host:metrics.port. Throws when the port is taken. */
export function startGroupServer(host: string, port: number, source: GroupSource): MetricsServer {
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") {
        const answers = await source.askRunning<FamilyData[]>({ kind: "metrics" });
        const m = await groupMetrics(source.workers(), answers);
        return new Response(m.text, { headers: { "content-type": m.contentType } });
      }
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/readyz") {
        const answers = source.stopping() ? [] : await source.askRunning<{ notReady: string | null }>({ kind: "ready" });
        const why = groupNotReady(source.stopping(), source.workers(), answers);
        return why ? new Response(`not ready: ${why}\n`, { status: 503 }) : new Response("ready\n");
      }
      if (path === "/" || path === "/status") {
        const answers = await source.askRunning<WorkerStatus>({ kind: "status" });
        return Response.json(groupStatus(source.stopping(), source.workers(), answers));
      }
      return new Response("not found: try /metrics, /healthz, /readyz or /status\n", { status: 404 });
    },
  });
  return { url: `http://${host}:${server.port}`, stop: () => server.stop(true) };
}
