// The JSON summary served at / and /status: nodes, pools and clients at a glance.
import type { GatewayContext } from "../session/context.ts";
import { clusterLabel } from "../server/node-target.ts";

export interface NodeStatus {
  name: string;
  cluster: string;
  host: string;
  port: number;
  role: string;
  up: boolean;
  lag_seconds: number | null;
  lag_bytes: number | null;
  last_error: string | null;
  reason: string | null;
}

export interface PoolStatus {
  node: string;
  user: string;
  database: string;
  dbname: string;
  size: number;
  idle: number;
  active: number;
  connecting: number;
  waiting: number;
}

export interface StatusSummary {
  nodes: NodeStatus[];
  pools: PoolStatus[];
  /** total, then the count per client state. */
  clients: Record<string, number>;
  paused: { all: boolean; databases: string[] };
  shutting_down: boolean;
}

export function statusSummary(ctx: GatewayContext): StatusSummary {
  const clients: Record<string, number> = {};
  for (const c of ctx.clients) clients[c.state] = (clients[c.state] ?? 0) + 1;
  return {
    nodes: ctx.health.all().map((h) => ({
      name: h.target.name,
      cluster: clusterLabel(h.target),
      host: h.target.host,
      port: h.target.port,
      role: h.role === "unknown" ? h.configuredRole : h.role,
      up: h.up,
      lag_seconds: h.lagSeconds,
      lag_bytes: h.lagBytes,
      last_error: h.lastError || null,
      reason: h.configuredRole === "replica" ? ctx.replicaCaveat : null,
    })),
    pools: [...ctx.pools.visible()].map((p) => ({
      node: p.node.name,
      user: p.user,
      database: p.database,
      dbname: p.dbname,
      size: p.core.size,
      idle: p.core.idleCount,
      active: p.core.active,
      connecting: p.core.connecting,
      waiting: p.core.waiting,
    })),
    clients: { total: ctx.clients.size, ...clients },
    paused: ctx.paused.describe(),
    shutting_down: ctx.shuttingDown,
  };
}
