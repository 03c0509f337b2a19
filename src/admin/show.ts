// The admin console's SHOW dispatcher, and the tables about configuration and the process:
// DATABASES, USERS, CONFIG, VERSION, MEM, DNS_*, NODES. PgBouncer's tables take its 1.18 columns
// (pgbouncer-columns.ts), PgGate's own columns after them; pools, sockets and stats live beside.
import { ANY_DATABASE } from "../session/databases.ts";
import { configRows } from "../config/index.ts";
import { formatLsn } from "../health/lsn.ts";
import { poolModeFor, poolSizeFor } from "../pool/pool-settings.ts";
import { clusterLabel } from "../server/node-target.ts";
import type { GatewayContext } from "../session/context.ts";
import { COMMIT, VERSION } from "../version.ts";
import { ADMIN_COMMAND_SYNOPSES, type ShowWhat } from "./commands.ts";
import { pgbouncerResult } from "./pgbouncer-columns.ts";
import type { AdminResult, AdminValue } from "./result.ts";
import { lists, pools, poolsByNode } from "./show-pools.ts";
import { clients, fds, serversTable, sockets } from "./show-sockets.ts";
import { routes, statsByNode, statsTables } from "./show-stats.ts";

export function show(ctx: GatewayContext, what: ShowWhat): AdminResult {
  const now = Date.now();
  switch (what) {
    case "pools":
      return pools(ctx, now);
    case "pools_by_node":
      return poolsByNode(ctx, now);
    case "clients":
      return clients(ctx, now);
    case "servers":
      return serversTable(ctx, now);
    case "sockets":
      return sockets(ctx, now, false);
    case "active_sockets":
      return sockets(ctx, now, true);
    case "fds":
      return fds(ctx);
    case "databases":
      return databases(ctx);
    case "users":
      return users(ctx);
    case "stats":
    case "stats_totals":
    case "stats_averages":
    case "totals":
      return statsTables(ctx, what, databaseNames(ctx), now);
    case "stats_by_node":
      return statsByNode(ctx);
    case "routes":
      return routes(ctx);
    case "lists":
      return lists(ctx, databaseNames(ctx).length, userNames(ctx).length);
    case "mem":
      return mem(ctx);
    case "dns_hosts":
      // PgGate resolves through the system resolver on each connect and caches nothing.
      return pgbouncerResult("dns_hosts", []);
    case "dns_zones":
      return pgbouncerResult("dns_zones", []);
    case "config":
      return pgbouncerResult("config", configRows(ctx.configured).map((r) => [r.key, r.value, r.default, r.reloadable ? "yes" : "no"]));
    case "version":
      // Tools that read the version learn which console layout to expect: PgBouncer 1.18's.
      return pgbouncerResult("version", [[`PgGate ${VERSION} (commit ${COMMIT}, bun ${Bun.version}); console compatible with PgBouncer 1.18.0`]]);
    case "help":
      return { tag: "SHOW", columns: ["command"], rows: ADMIN_COMMAND_SYNOPSES.map((c) => [c]) };
    case "nodes":
      return nodes(ctx, now);
  }
}

function nodes(ctx: GatewayContext, now: number): AdminResult {
  const replicas = [...ctx.config.nodes.replicas, ...ctx.config.databases.flatMap((d) => d.nodes?.replicas ?? [])];
  const weights = new Map(replicas.map((r) => [`${r.host}:${r.port}`, r.weight]));
  return {
    tag: "SHOW",
    columns: ["node", "host", "port", "configured_role", "role", "up", "weight", "lag_s", "lag_bytes", "lsn", "checked_ms_ago", "failures", "last_error", "reason", "cluster"],
    rows: ctx.health.all().map((h) => [
      h.target.name,
      h.target.host,
      h.target.port,
      h.configuredRole,
      h.role,
      h.up,
      h.configuredRole === "replica" ? weights.get(`${h.target.host}:${h.target.port}`) ?? 1 : null,
      h.lagSeconds,
      h.lagBytes,
      h.lsn === null ? null : formatLsn(h.lsn),
      h.lastCheckAt ? now - h.lastCheckAt : null,
      h.failures,
      h.lastError || null,
      h.configuredRole === "replica" ? ctx.replicaCaveat : null,
      clusterLabel(h.target),
    ]),
  };
}

/**
 * Every database name SHOW DATABASES lists: each `databases:` entry, then each name in use. The
 * "*" entry itself is left out, as PgBouncer leaves out its fallback: it has no real database of
 * its own, and a NULL there breaks tools that label series by that column.
 */
function databaseNames(ctx: GatewayContext): string[] {
  const names = new Set<string>();
  for (const e of ctx.databases.allEntries()) if (e.name !== ANY_DATABASE) names.add(e.name);
  for (const p of ctx.pools.visible()) names.add(p.database);
  return [...names].filter((db) => ctx.resolveDatabase(db));
}

function userNames(ctx: GatewayContext): string[] {
  const names = new Set<string>();
  for (const p of ctx.pools.visible()) names.add(p.user);
  for (const o of ctx.config.pool.users) names.add(o.name);
  return [...names];
}

/**
 * PgBouncer's SHOW DATABASES: one row per `databases:` entry and per name in use through the
 * wildcard, with the primary of its cluster and the real database it opens. PgGate
 * has no force_user and no reserve pool (NULL, 0); min_pool_size is pool.min_idle. Then the cluster.
 */
function databases(ctx: GatewayContext): AdminResult {
  const connections = new Map<string, number>();
  for (const p of ctx.pools.visible()) connections.set(p.database, (connections.get(p.database) ?? 0) + p.members.size);
  const rows: AdminValue[][] = [];
  for (const db of databaseNames(ctx)) {
    const e = ctx.resolveDatabase(db);
    if (!e) continue;
    const primary = e.cluster.primary;
    // A client may literally ask for database "*": a name in use like any other.
    const real = e.serverDatabase(db);
    rows.push([
      db,
      primary.host,
      primary.port,
      real,
      null,
      poolSizeFor(ctx.config, "", db),
      ctx.config.pool.minIdle,
      0,
      poolModeFor(ctx.config, "", db),
      ctx.config.nodes.maxConnections,
      connections.get(db) ?? 0,
      ctx.isPaused(db) ? 1 : 0,
      ctx.disabled.has(db) ? 1 : 0,
      e.cluster.label,
    ]);
  }
  return pgbouncerResult("databases", rows, [["cluster", "text"]]);
}

/** PgBouncer's SHOW USERS: the pool mode that applies to each user; then its pool size. */
function users(ctx: GatewayContext): AdminResult {
  return pgbouncerResult(
    "users",
    userNames(ctx).map((u) => [u, poolModeFor(ctx.config, u, ""), poolSizeFor(ctx.config, u, "")]),
    [["pool_size", "int4"]],
  );
}

/**
 * PgBouncer lists its slab caches (object size, used, free, total bytes); PgGate has none, so each
 * row is one memory figure in bytes: size 1, used = the bytes, free = room left under a limit.
 */
function mem(ctx: GatewayContext): AdminResult {
  const m = process.memoryUsage();
  const row = (name: string, used: number, limit = 0): AdminValue[] => {
    const free = limit > 0 ? Math.max(0, limit - used) : 0;
    return [name, 1, used, free, used + free, used];
  };
  return pgbouncerResult(
    "mem",
    [
      row("rss", m.rss),
      row("heap_used", m.heapUsed, m.heapTotal),
      row("external", m.external),
      row("buffered_client_input", ctx.memory.used, ctx.memory.limit),
      row("client_prepared_statements", ctx.memory.retained),
    ],
    [["bytes", "int8"]],
  );
}
