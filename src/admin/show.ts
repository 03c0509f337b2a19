// The admin console's SHOW tables, built from the live pools, clients, health monitor and stats.
// Column names follow PgBouncer's where the concept is the same (cl_active, sv_idle, maxwait,
// pool_mode, ...), so its tooling reads them; numbers are numbers (int8/float8 columns).
import { ANY_DATABASE } from "../session/databases.ts";
import { configRows } from "../config/index.ts";
import { error, SqlState } from "../errors/index.ts";
import { formatLsn } from "../health/lsn.ts";
import type { Histogram } from "../metrics/stats.ts";
import { poolModeFor, poolSizeFor } from "../pool/pool-settings.ts";
import { clusterLabel } from "../server/node-target.ts";
import type { GatewayContext } from "../session/context.ts";
import { COMMIT, VERSION } from "../version.ts";
import { ADMIN_COMMAND_SYNOPSES } from "./commands.ts";
import type { AdminResult } from "./result.ts";

const TX_STATUS: Record<number, string> = { 0x49: "idle", 0x54: "in_transaction", 0x45: "failed_transaction" };

/** Seconds since the epoch, for PgBouncer's connect_time / request_time columns as ISO text. */
const iso = (ms: number): string => new Date(ms).toISOString();

export function show(ctx: GatewayContext, what: string): AdminResult {
  const now = Date.now();
  switch (what) {
    case "pools":
      return pools(ctx, now);
    case "clients":
      return clients(ctx, now);
    case "databases":
      return databases(ctx);
    case "users":
      return users(ctx);
    case "totals":
      return totals(ctx);
    case "mem":
      return mem(ctx);
    case "fds":
      return fds(ctx);
    case "servers": {
      const clientOf = new Map<number, number>();
      for (const c of ctx.clients) if (c.serverId !== null) clientOf.set(c.serverId, c.id);
      const rows: AdminResult["rows"] = [];
      for (const p of ctx.pools.visible()) {
        for (const s of p.members) {
          rows.push([s.id, p.node.name, s.node.host, s.node.port, p.user, p.database, s.state, clientOf.get(s.id) ?? null, TX_STATUS[s.txStatus] ?? "", round((now - s.createdAt) / 1000), round((now - s.lastUsedAt) / 1000), s.prepared.size, s.processId, s.tlsActive]);
        }
      }
      return { tag: "SHOW", columns: ["id", "node", "host", "port", "user", "database", "state", "client_id", "tx", "age_s", "idle_s", "prepared", "backend_pid", "tls"], rows };
    }
    case "nodes": {
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
    case "stats": {
      const rows: AdminResult["rows"] = [];
      for (const [node, n] of ctx.stats.nodes) {
        const h = ctx.health.all().find((x) => x.target.name === node);
        rows.push([node, h ? (h.role === "unknown" ? h.configuredRole : h.role) : null, n.queries, n.transactions, n.bytesOut, n.bytesIn, ...latency(n.latency)]);
      }
      for (const route of ["primary", "replica"] as const) {
        let queries = 0;
        for (const v of Object.values(ctx.stats.queries[route])) queries += v;
        rows.push(["*", route, queries, null, null, null, ...latency(ctx.stats.duration[route])]);
      }
      return { tag: "SHOW", columns: ["node", "route", "queries", "transactions", "bytes_sent", "bytes_received", "avg_ms", "p99_ms"], rows };
    }
    case "config":
      return { tag: "SHOW", columns: ["key", "value", "default", "reloadable"], rows: configRows(ctx.config).map((r) => [r.key, r.value, r.default, r.reloadable]) };
    case "version":
      return { tag: "SHOW", columns: ["version"], rows: [[`PgGate ${VERSION} (commit ${COMMIT}, bun ${Bun.version})`]] };
    case "help":
      return { tag: "SHOW", columns: ["command"], rows: ADMIN_COMMAND_SYNOPSES.map((c) => [c]) };
    case "lists": {
      let servers = 0;
      for (const p of ctx.pools.visible()) servers += p.members.size;
      return {
        tag: "SHOW",
        columns: ["list", "items"],
        rows: [
          ["clients", ctx.clients.size],
          ["pools", [...ctx.pools.visible()].length],
          ["servers", servers],
          ["nodes", ctx.health.all().length],
          ["paused", ctx.paused.size],
        ],
      };
    }
    default:
      throw error(SqlState.SyntaxError, `unknown SHOW target "${what}"`);
  }
}

function pools(ctx: GatewayContext, now: number): AdminResult {
  const clientsOf = ctx.activeClientsByPool();
  return {
    tag: "SHOW",
    columns: ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_login", "maxwait", "maxwait_us", "pool_mode", "node", "pool_size", "waits", "avg_wait_ms", "paused"],
    types: ["text", "text", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "text", "text", "int8", "int8", "float8", "bool"],
    rows: [...ctx.pools.visible()].map((p) => {
      const oldest = p.core.oldestWaitingSince;
      const waitUs = Number.isFinite(oldest) ? Math.max(0, now - oldest) * 1000 : 0;
      return [
        p.database,
        p.user,
        clientsOf.get(p) ?? 0,
        p.core.waiting,
        p.core.active,
        p.core.idleCount,
        0,
        p.core.connecting,
        Math.floor(waitUs / 1_000_000),
        waitUs % 1_000_000,
        poolModeFor(ctx.config, p.user, p.database),
        p.node.name,
        p.core.size,
        p.waits,
        p.waits ? round(p.totalWaitMs / p.waits) : 0,
        ctx.isPaused(p.database),
      ];
    }),
  };
}

function clients(ctx: GatewayContext, now: number): AdminResult {
  return {
    tag: "SHOW",
    columns: ["type", "user", "database", "state", "addr", "port", "local_port", "connect_time", "request_time", "wait", "wait_us", "tls", "application_name", "id", "tx", "route", "reason", "pin", "queries", "server_id"],
    types: ["text", "text", "text", "text", "text", "int8", "int8", "text", "text", "int8", "int8", "bool", "text", "int8", "text", "text", "text", "text", "int8", "int8"],
    rows: [...ctx.clients].map((c) => {
      const waitUs = c.waitStartedAt ? (now - c.waitStartedAt) * 1000 : 0;
      return [
        "C",
        c.user,
        c.database,
        c.state,
        c.remoteAddress,
        c.remotePort,
        c.localPort,
        iso(c.connectedAt),
        iso(c.lastActivityAt),
        Math.floor(waitUs / 1_000_000),
        waitUs % 1_000_000,
        c.tls,
        c.applicationName,
        c.id,
        TX_STATUS[c.txStatus] ?? "",
        c.lastRoute,
        c.lastReason || null,
        c.pinReason,
        c.queries,
        c.serverId,
      ];
    }),
  };
}

/**
 * PgBouncer's SHOW DATABASES: one row per `databases:` entry ("*" included) and per name in use
 * through the wildcard, with the primary of its cluster and the real database it opens.
 */
function databases(ctx: GatewayContext): AdminResult {
  const byDb = new Map<string, number>();
  for (const e of ctx.databases.allEntries()) byDb.set(e.name, 0);
  for (const p of ctx.pools.visible()) byDb.set(p.database, (byDb.get(p.database) ?? 0) + p.members.size);
  const rows: AdminResult["rows"] = [];
  for (const [db, connections] of byDb) {
    const e = ctx.resolveDatabase(db);
    if (!e) continue;
    const primary = e.cluster.primary;
    const real = db === ANY_DATABASE && e.name === ANY_DATABASE ? null : e.serverDatabase(db);
    rows.push([db, primary.host, primary.port, real, poolSizeFor(ctx.config, "", db), poolModeFor(ctx.config, "", db), ctx.config.nodes.maxConnections, connections, ctx.isPaused(db), ctx.disabled.has(db), e.cluster.label]);
  }
  return {
    tag: "SHOW",
    columns: ["name", "host", "port", "database", "pool_size", "pool_mode", "max_connections", "current_connections", "paused", "disabled", "cluster"],
    types: ["text", "text", "int8", "text", "int8", "text", "int8", "int8", "bool", "bool", "text"],
    rows,
  };
}

function users(ctx: GatewayContext): AdminResult {
  const names = new Set<string>();
  for (const p of ctx.pools.visible()) names.add(p.user);
  for (const o of ctx.config.pool.users) names.add(o.name);
  return {
    tag: "SHOW",
    columns: ["name", "pool_mode", "pool_size"],
    types: ["text", "text", "int8"],
    rows: [...names].map((u) => [u, poolModeFor(ctx.config, u, ""), poolSizeFor(ctx.config, u, "")]),
  };
}

function totals(ctx: GatewayContext): AdminResult {
  let queries = 0;
  let xacts = 0;
  let sent = 0;
  let received = 0;
  for (const n of ctx.stats.nodes.values()) {
    queries += n.queries;
    xacts += n.transactions;
    sent += n.bytesOut;
    received += n.bytesIn;
  }
  return {
    tag: "SHOW",
    columns: ["name", "value"],
    types: ["text", "int8"],
    rows: [
      ["total_xact_count", xacts],
      ["total_query_count", queries],
      ["total_server_assignment_count", queries],
      ["total_received", received],
      ["total_sent", sent],
    ],
  };
}

/** Where the memory goes: the process, the JS heap, and the client input budget. */
function mem(ctx: GatewayContext): AdminResult {
  const m = process.memoryUsage();
  return {
    tag: "SHOW",
    columns: ["name", "bytes"],
    types: ["text", "int8"],
    rows: [
      ["rss", m.rss],
      ["heap_used", m.heapUsed],
      ["heap_total", m.heapTotal],
      ["external", m.external],
      ["buffered_client_input", ctx.memory.used],
      ["client_prepared_statements", ctx.memory.retained],
      ["buffered_client_input_limit", ctx.memory.limit],
    ],
  };
}

/** The sockets PgGate holds: clients, then server connections (Bun exposes no fd numbers). */
function fds(ctx: GatewayContext): AdminResult {
  const rows: AdminResult["rows"] = [];
  for (const c of ctx.clients) rows.push(["client", c.id, c.user, c.database, c.remoteAddress, c.remotePort, c.tls]);
  for (const p of ctx.pools.visible()) for (const s of p.members) rows.push(["server", s.id, p.user, p.database, s.node.host, s.node.port, s.tlsActive]);
  return { tag: "SHOW", columns: ["kind", "id", "user", "database", "addr", "port", "tls"], types: ["text", "int8", "text", "text", "text", "int8", "bool"], rows };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function latency(h: Histogram): [number, number] {
  return [h.count ? round((h.sum / h.count) * 1000) : 0, round(h.quantile(0.99) * 1000)];
}
