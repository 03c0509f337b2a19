// SHOW POOLS (one row per (database, user), as PgBouncer keys its pools), SHOW POOLS_BY_NODE (the
// per-node pools PgGate really has) and SHOW LISTS. Reads pools and clients; changes nothing.
import { poolModeFor } from "../pool/pool-settings.ts";
import type { ServerPool } from "../pool/pools.ts";
import type { GatewayContext } from "../session/context.ts";
import type { Column } from "./pgbouncer-columns.ts";
import { pgbouncerResult } from "./pgbouncer-columns.ts";
import type { AdminResult } from "./result.ts";

/** PgGate's pools of one (database, user): one per node that served it. */
export interface PoolGroup {
  readonly database: string;
  readonly user: string;
  readonly pools: ServerPool[];
}

/**
 * Groups the visible pools by (database, user), in first-seen order. Keyed by a Map per database,
 * never by a joined string: no pair of names can alias another.
 */
export function poolGroups(ctx: GatewayContext): PoolGroup[] {
  const byDb = new Map<string, Map<string, PoolGroup>>();
  const out: PoolGroup[] = [];
  for (const p of ctx.pools.visible()) {
    let users = byDb.get(p.database);
    if (!users) byDb.set(p.database, (users = new Map()));
    let g = users.get(p.user);
    if (!g) {
      users.set(p.user, (g = { database: p.database, user: p.user, pools: [] }));
      out.push(g);
    }
    g.pools.push(p);
  }
  return out;
}

/** Logged-in clients per (database, user): not waiting (PgBouncer's cl_active) and waiting. */
function clientCounts(ctx: GatewayContext): Map<string, Map<string, { active: number; waiting: number }>> {
  const out = new Map<string, Map<string, { active: number; waiting: number }>>();
  for (const c of ctx.clients) {
    if (c.db === null || (c.state !== "idle" && c.state !== "active" && c.state !== "waiting")) continue;
    let users = out.get(c.database);
    if (!users) out.set(c.database, (users = new Map()));
    let n = users.get(c.user);
    if (!n) users.set(c.user, (n = { active: 0, waiting: 0 }));
    if (c.state === "waiting") n.waiting++;
    else n.active++;
  }
  return out;
}

const POOLS_EXTRA: readonly Column[] = [
  ["pool_size", "int4"],
  ["nodes", "int4"],
  ["waits", "int8"],
  ["avg_wait_ms", "float8"],
  ["paused", "bool"],
];

export function pools(ctx: GatewayContext, now: number): AdminResult {
  const clients = clientCounts(ctx);
  const rows = poolGroups(ctx).map((g) => {
    let svActive = 0;
    let svIdle = 0;
    let svLogin = 0;
    let oldest = Number.POSITIVE_INFINITY;
    let waits = 0;
    let waitMs = 0;
    let size = 0;
    for (const p of g.pools) {
      svActive += p.core.active;
      svIdle += p.core.idleCount;
      svLogin += p.core.connecting;
      oldest = Math.min(oldest, p.core.oldestWaitingSince);
      waits += p.waits;
      waitMs += p.totalWaitMs;
      size = Math.max(size, p.core.size);
    }
    const waitUs = Number.isFinite(oldest) ? Math.max(0, now - oldest) * 1000 : 0;
    const cl = clients.get(g.database)?.get(g.user) ?? { active: 0, waiting: 0 };
    return [
      g.database,
      g.user,
      cl.active,
      cl.waiting,
      0, // cl_active_cancel_req: cancels are forwarded at once, never queued
      0, // cl_waiting_cancel_req
      svActive,
      0, // sv_active_cancel
      0, // sv_being_canceled
      svIdle,
      0, // sv_used: a returned connection is reset and idle at once, never "used"
      0, // sv_tested: no server_check_query step
      svLogin,
      Math.floor(waitUs / 1_000_000),
      Math.floor(waitUs % 1_000_000),
      poolModeFor(ctx.config, g.user, g.database),
      size,
      g.pools.length,
      waits,
      waits ? round(waitMs / waits) : 0,
      ctx.isPaused(g.database),
    ];
  });
  return pgbouncerResult("pools", rows, POOLS_EXTRA);
}

/** PgGate's pools as they are: one per (node, user, database). */
export function poolsByNode(ctx: GatewayContext, now: number): AdminResult {
  const clientsOf = ctx.activeClientsByPool();
  return {
    tag: "SHOW",
    columns: ["database", "user", "node", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_login", "maxwait", "maxwait_us", "pool_mode", "pool_size", "waits", "avg_wait_ms", "paused"],
    types: ["text", "text", "text", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "text", "int8", "int8", "float8", "bool"],
    rows: [...ctx.pools.visible()].map((p) => {
      const oldest = p.core.oldestWaitingSince;
      const waitUs = Number.isFinite(oldest) ? Math.max(0, now - oldest) * 1000 : 0;
      return [
        p.database,
        p.user,
        p.node.name,
        clientsOf.get(p) ?? 0,
        p.core.waiting,
        p.core.active,
        p.core.idleCount,
        p.core.connecting,
        Math.floor(waitUs / 1_000_000),
        Math.floor(waitUs % 1_000_000),
        poolModeFor(ctx.config, p.user, p.database),
        p.core.size,
        p.waits,
        p.waits ? round(p.totalWaitMs / p.waits) : 0,
        ctx.isPaused(p.database),
      ];
    }),
  };
}

/**
 * PgBouncer's twelve list counts, then PgGate's. PgGate keeps no free lists (slab caches) and no
 * DNS cache of its own: those items are 0.
 */
export function lists(ctx: GatewayContext, databaseCount: number, userCount: number): AdminResult {
  let servers = 0;
  for (const p of ctx.pools.visible()) servers += p.members.size;
  let logins = 0;
  for (const c of ctx.clients) if (c.state === "startup" || c.state === "login") logins++;
  return pgbouncerResult("lists", [
    ["databases", databaseCount],
    ["users", userCount],
    ["pools", poolGroups(ctx).length],
    ["free_clients", 0],
    ["used_clients", ctx.clients.size],
    ["login_clients", logins],
    ["free_servers", 0],
    ["used_servers", servers],
    ["dns_names", 0],
    ["dns_zones", 0],
    ["dns_queries", 0],
    ["dns_pending", 0],
    // PgGate's own, after PgBouncer's.
    ["pools_by_node", [...ctx.pools.visible()].length],
    ["nodes", ctx.health.all().length],
    ["paused", ctx.paused.size],
  ]);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
