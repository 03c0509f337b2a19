// SHOW STATS, STATS_TOTALS, STATS_AVERAGES and TOTALS in PgBouncer 1.18's columns, from the
// per-pool counters summed per database; SHOW STATS_BY_NODE and ROUTES for PgGate's own view.
// PgGate times queries per route and node, not per database: the *_time columns are 0.
import type { Histogram } from "../metrics/stats.ts";
import type { GatewayContext } from "../session/context.ts";
import { pgbouncerResult } from "./pgbouncer-columns.ts";
import type { AdminResult, AdminValue } from "./result.ts";

/** PgBouncer's counters of one database (bytes as the client sees them). */
interface Totals {
  xacts: number;
  queries: number;
  /** From clients (what PgGate forwarded to servers). */
  received: number;
  /** To clients (what servers answered). */
  sent: number;
  waitUs: number;
}

const ZERO: Totals = { xacts: 0, queries: 0, received: 0, sent: 0, waitUs: 0 };

/** PgBouncer's stats_period: averages are over the last period of at least this long. */
export const STATS_PERIOD_MS = 60_000;

function totalsByDatabase(ctx: GatewayContext, names: readonly string[]): Map<string, Totals> {
  const out = new Map<string, Totals>(names.map((n) => [n, { ...ZERO }]));
  for (const p of ctx.pools.visible()) {
    let t = out.get(p.database);
    if (!t) out.set(p.database, (t = { ...ZERO }));
    t.xacts += p.counters.transactions;
    t.queries += p.counters.queries;
    t.received += p.counters.bytesOut;
    t.sent += p.counters.bytesIn;
    t.waitUs += Math.round(p.totalWaitMs * 1000);
  }
  return out;
}

interface Period {
  startedAt: number;
  start: Map<string, Totals>;
  /** Per-second rates of the last completed period (empty until one completed). */
  averages: Map<string, Totals>;
}

/**
 * The period each gateway's averages are taken over. Rolled when read (no timer to leak or stop):
 * with a scraper reading every few seconds this is PgBouncer's 60 s period; read rarely, the
 * period is simply longer, and the rates stay true for it.
 */
const periods = new WeakMap<GatewayContext, Period>();

function averages(ctx: GatewayContext, current: Map<string, Totals>, now: number): Map<string, Totals> {
  const p = periods.get(ctx);
  if (!p) {
    periods.set(ctx, { startedAt: now, start: current, averages: new Map() });
    return new Map();
  }
  const elapsedS = (now - p.startedAt) / 1000;
  if (now - p.startedAt >= STATS_PERIOD_MS) {
    const rate = (a: number, b: number): number => Math.max(0, Math.floor((a - b) / elapsedS));
    p.averages = new Map(
      [...current].map(([db, t]) => {
        const s = p.start.get(db) ?? ZERO;
        return [db, { xacts: rate(t.xacts, s.xacts), queries: rate(t.queries, s.queries), received: rate(t.received, s.received), sent: rate(t.sent, s.sent), waitUs: rate(t.waitUs, s.waitUs) }];
      }),
    );
    p.startedAt = now;
    p.start = current;
  }
  return p.averages;
}

/** The seven counters in STATS_TOTALS / STATS_AVERAGES order; query and transaction times are not kept per database. */
const counters = (t: Totals): number[] => [t.xacts, t.queries, t.received, t.sent, 0, 0, t.waitUs];

export function statsTables(ctx: GatewayContext, what: "stats" | "stats_totals" | "stats_averages" | "totals", names: readonly string[], now: number): AdminResult {
  const current = totalsByDatabase(ctx, names);
  const avg = averages(ctx, current, now);
  const avgOf = (db: string): Totals => avg.get(db) ?? ZERO;
  switch (what) {
    case "stats":
      return pgbouncerResult("stats", [...current].map(([db, t]) => [db, ...counters(t), ...counters(avgOf(db))]));
    case "stats_totals":
      return pgbouncerResult("stats_totals", [...current].map(([db, t]) => [db, ...counters(t)]));
    case "stats_averages":
      return pgbouncerResult("stats_averages", [...current].map(([db]) => [db, ...counters(avgOf(db))]));
    case "totals": {
      const sum = (m: Iterable<Totals>): number[] => {
        const out = [0, 0, 0, 0, 0, 0, 0];
        for (const t of m) counters(t).forEach((v, i) => (out[i] += v));
        return out;
      };
      const total = sum(current.values());
      const average = sum(avg.values());
      const names = ["xact_count", "query_count", "client_bytes", "server_bytes", "xact_time", "query_time", "wait_time"];
      return pgbouncerResult("totals", [...names.map((n, i) => [`total_${n}`, total[i]]), ...names.map((n, i) => [`avg_${n}`, average[i]])]);
    }
  }
}

/** Traffic per node and latency (what SHOW STATS showed before it took PgBouncer's columns). */
export function statsByNode(ctx: GatewayContext): AdminResult {
  const rows: AdminValue[][] = [];
  for (const [node, n] of ctx.stats.nodes) {
    const h = ctx.health.all().find((x) => x.target.name === node);
    rows.push([node, h ? (h.role === "unknown" ? h.configuredRole : h.role) : null, n.queries, n.transactions, n.bytesOut, n.bytesIn, ...latency(n.latency)]);
  }
  return {
    tag: "SHOW",
    columns: ["node", "role", "queries", "transactions", "bytes_sent", "bytes_received", "avg_ms", "p99_ms"],
    types: ["text", "text", "int8", "int8", "int8", "int8", "float8", "float8"],
    rows,
  };
}

/** Statements per route and reason (as pggate_queries_total), with each route's latency. */
export function routes(ctx: GatewayContext): AdminResult {
  const rows: AdminValue[][] = [];
  for (const route of ["primary", "replica"] as const) {
    const [avgMs, p99Ms] = latency(ctx.stats.duration[route]);
    for (const [reason, queries] of Object.entries(ctx.stats.queries[route]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      rows.push([route, reason, queries, avgMs, p99Ms]);
    }
  }
  return { tag: "SHOW", columns: ["route", "reason", "queries", "route_avg_ms", "route_p99_ms"], types: ["text", "text", "int8", "float8", "float8"], rows };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function latency(h: Histogram): [number, number] {
  return [h.count ? round((h.sum / h.count) * 1000) : 0, round(h.quantile(0.99) * 1000)];
}
