// With `workers: N` the connection counts in the config are for the whole process group: each
// worker runs on its share. Pure: config in, config out; the file's values stay what SHOW CONFIG shows.
import type { Config, PoolOverride } from "./types.ts";

/**
 * Worker `index`'s part of `total` split over `count` workers: the parts differ by at most one and
 * add up to `total` exactly (worker i gets the values k < total with k % count === i).
 */
export function workerPart(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/**
 * The same, but never 0 for a limit that must let one connection through (a pool of size 0 would
 * make its clients wait forever): with total < count the group may then hold up to `count`.
 * 0 keeps its meaning ("no limit" where the key says so).
 */
export function workerLimit(total: number, index: number, count: number): number {
  return total === 0 ? 0 : Math.max(1, workerPart(total, index, count));
}

/**
 * The limits a worker enforces: pool sizes (pool.size, pool.users, pool.databases and the
 * `databases:` entries' pools), pool.min_idle, pool.reserve_size, nodes.max_connections,
 * listen.max_client_connections, listen.max_pending_logins(_per_source) and
 * metrics.ready_max_waiting, each divided as workerLimit (workerPart for min_idle and reserve_size,
 * which may be 0). One worker (count 1) gets `cfg` itself.
 */
export function workerShare(cfg: Config, index: number, count: number): Config {
  if (count <= 1) return cfg;
  const limit = (n: number): number => workerLimit(n, index, count);
  const part = (n: number): number => workerPart(n, index, count);
  const overrides = (list: readonly PoolOverride[]): PoolOverride[] => list.map((o) => (o.size === null ? o : { ...o, size: limit(o.size) }));
  return Object.freeze({
    ...cfg,
    listen: Object.freeze({
      ...cfg.listen,
      maxClientConnections: limit(cfg.listen.maxClientConnections),
      maxPendingLogins: limit(cfg.listen.maxPendingLogins),
      maxPendingLoginsPerSource: limit(cfg.listen.maxPendingLoginsPerSource),
    }),
    metrics: Object.freeze({ ...cfg.metrics, readyMaxWaiting: limit(cfg.metrics.readyMaxWaiting) }),
    nodes: Object.freeze({ ...cfg.nodes, maxConnections: limit(cfg.nodes.maxConnections) }),
    pool: Object.freeze({
      ...cfg.pool,
      size: limit(cfg.pool.size),
      minIdle: part(cfg.pool.minIdle),
      reserveSize: part(cfg.pool.reserveSize),
      users: Object.freeze(overrides(cfg.pool.users)),
      databases: Object.freeze(overrides(cfg.pool.databases)),
    }),
  });
}
