// With several workers, one SHOW for the whole group: every worker's result for the same command,
// merged here into one table. Pure: results in, result out; a table per SHOW says how.
import type { ShowWhat } from "./commands.ts";
import type { AdminResult, AdminValue } from "./result.ts";

/**
 * How one SHOW's rows from several workers become one table.
 * - concat: every worker's rows (sockets: ids are unique across workers, see net/connection-ids.ts)
 * - first: the first worker's result (configuration, identical on all)
 * - keyed: rows with equal `key` columns become one; `sum` columns add up, `max` take the largest,
 *   `all` / `any` combine booleans, `mean` is the average weighted by another column; every
 *   other column is the first worker's.
 */
export type MergeRule =
  | { kind: "concat" }
  | { kind: "first" }
  | {
      kind: "keyed";
      key: readonly string[];
      sum?: readonly string[];
      max?: readonly string[];
      all?: readonly string[];
      any?: readonly string[];
      mean?: Readonly<Record<string, string>>;
      /** Rows whose first key is listed here take `max` for every `sum` column (SHOW LISTS' set sizes). */
      maxRows?: readonly string[];
    };

const STATS_COLUMNS = ["xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"];

export const SHOW_MERGE: Record<ShowWhat, MergeRule> = {
  clients: { kind: "concat" },
  servers: { kind: "concat" },
  sockets: { kind: "concat" },
  active_sockets: { kind: "concat" },
  fds: { kind: "concat" },
  pools: {
    kind: "keyed",
    key: ["database", "user"],
    sum: ["cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login", "pool_size", "waits"],
    max: ["maxwait", "maxwait_us", "nodes"],
    any: ["paused"],
    mean: { avg_wait_ms: "waits" },
  },
  pools_by_node: {
    kind: "keyed",
    key: ["database", "user", "node"],
    sum: ["cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_login", "pool_size", "waits"],
    max: ["maxwait", "maxwait_us"],
    any: ["paused"],
    mean: { avg_wait_ms: "waits" },
  },
  stats: {
    kind: "keyed",
    key: ["database"],
    sum: ["total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time"],
  },
  // Averages are per-second rates: the group's rate is the sum of the workers'.
  stats_totals: { kind: "keyed", key: ["database"], sum: STATS_COLUMNS },
  stats_averages: { kind: "keyed", key: ["database"], sum: STATS_COLUMNS },
  totals: { kind: "keyed", key: ["name"], sum: ["value"] },
  stats_by_node: { kind: "keyed", key: ["node"], sum: ["queries", "transactions", "bytes_sent", "bytes_received"], max: ["p99_ms"], mean: { avg_ms: "queries" } },
  routes: { kind: "keyed", key: ["route", "reason"], sum: ["queries"], max: ["route_avg_ms", "route_p99_ms"] },
  lists: { kind: "keyed", key: ["list"], sum: ["items"], maxRows: ["databases", "users", "pools", "pools_by_node", "nodes", "paused"] },
  databases: { kind: "keyed", key: ["name"], sum: ["pool_size", "min_pool_size", "reserve_pool", "max_connections", "current_connections"], max: ["paused", "disabled"] },
  users: { kind: "keyed", key: ["name"], sum: ["pool_size"] },
  mem: { kind: "keyed", key: ["name"], sum: ["used", "free", "memtotal", "bytes"] },
  // Each worker checks the nodes itself: a node is up when every worker's checks pass.
  nodes: { kind: "keyed", key: ["node", "cluster"], all: ["up"], max: ["lag_s", "lag_bytes", "checked_ms_ago", "failures"] },
  config: { kind: "first" },
  version: { kind: "first" },
  help: { kind: "first" },
  dns_hosts: { kind: "first" },
  dns_zones: { kind: "first" },
};

/** One table from every worker's result of the same SHOW (at least one). */
export function mergeShow(what: ShowWhat, results: readonly AdminResult[]): AdminResult {
  const first = results[0];
  const rule = SHOW_MERGE[what];
  if (results.length === 1 || rule.kind === "first") return first;
  if (rule.kind === "concat") return { ...first, rows: results.flatMap((r) => r.rows ?? []) };
  const columns = first.columns ?? [];
  const at = (name: string): number => columns.indexOf(name);
  const keyAt = rule.key.map(at);
  const merged = new Map<string, { row: AdminValue[]; weights: Map<number, number> }>();
  for (const r of results) {
    for (const row of r.rows ?? []) {
      const key = JSON.stringify(keyAt.map((i) => row[i]));
      const seen = merged.get(key);
      if (!seen) {
        merged.set(key, { row: [...row], weights: new Map() });
        continue;
      }
      const maxRow = rule.maxRows?.includes(String(row[keyAt[0]])) ?? false;
      combine(seen.row, row, rule, at, maxRow);
    }
  }
  // Weighted means: a second pass over the rows that were merged, per key.
  if (rule.mean) {
    for (const [col, weightCol] of Object.entries(rule.mean)) {
      const ci = at(col);
      const wi = at(weightCol);
      if (ci < 0 || wi < 0) continue;
      const totals = new Map<string, { weighted: number; weight: number }>();
      for (const r of results) {
        for (const row of r.rows ?? []) {
          const key = JSON.stringify(keyAt.map((i) => row[i]));
          const t = totals.get(key) ?? { weighted: 0, weight: 0 };
          const w = Number(row[wi] ?? 0);
          t.weighted += Number(row[ci] ?? 0) * w;
          t.weight += w;
          totals.set(key, t);
        }
      }
      for (const [key, m] of merged) {
        const t = totals.get(key);
        if (t) m.row[ci] = t.weight > 0 ? Math.round((t.weighted / t.weight) * 100) / 100 : 0;
      }
    }
  }
  return { ...first, rows: [...merged.values()].map((m) => m.row) };
}

function combine(into: AdminValue[], row: readonly AdminValue[], rule: Extract<MergeRule, { kind: "keyed" }>, at: (c: string) => number, maxRow: boolean): void {
  const num = (v: AdminValue): number => (typeof v === "number" ? v : Number(v ?? 0));
  for (const c of rule.sum ?? []) {
    const i = at(c);
    if (i >= 0) into[i] = maxRow ? Math.max(num(into[i]), num(row[i])) : num(into[i]) + num(row[i]);
  }
  for (const c of rule.max ?? []) {
    const i = at(c);
    if (i < 0) continue;
    // null (unknown, e.g. lag before the first check) gives way to a value.
    if (into[i] === null) into[i] = row[i];
    else if (row[i] !== null) into[i] = Math.max(num(into[i]), num(row[i]));
  }
  for (const c of rule.all ?? []) {
    const i = at(c);
    if (i >= 0) into[i] = into[i] === true && row[i] === true;
  }
  for (const c of rule.any ?? []) {
    const i = at(c);
    if (i >= 0) into[i] = into[i] === true || row[i] === true;
  }
}
