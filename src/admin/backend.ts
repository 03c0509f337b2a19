// Runs admin console commands against the live gateway: SHOW tables built from the pools,
// clients, health monitor and stats; RELOAD, PAUSE/RESUME, SHUTDOWN, KILL_CLIENT.
import { poolModeFor } from "../pool/pool-settings.ts";
import { configRows } from "../config/index.ts";
import { error, fatal, SqlState } from "../errors/index.ts";
import { formatLsn } from "../health/lsn.ts";
import { log } from "../log/index.ts";
import type { Histogram } from "../metrics/stats.ts";
import type { GatewayContext, GatewayControl } from "../session/context.ts";
import { VERSION } from "../version.ts";
import { ADMIN_COMMAND_SYNOPSES, type AdminCommand } from "./commands.ts";
import type { AdminBackend } from "./console.ts";
import type { AdminResult } from "./result.ts";

/** What the console may ask of the process as a whole. */

const TX_STATUS: Record<number, string> = { 0x49: "idle", 0x54: "in_transaction", 0x45: "failed_transaction" };

export class GatewayAdmin implements AdminBackend {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly control: GatewayControl,
    private readonly who: string,
  ) {}

  async execute(cmd: AdminCommand): Promise<AdminResult> {
    switch (cmd.kind) {
      case "empty":
        return { tag: "" };
      case "show":
        return this.show(cmd.what);
      case "reload": {
        const why = this.control.reload();
        if (why) throw error(SqlState.InvalidParameterValue, `config rejected, the old one stays in effect: ${why}`);
        return { tag: "RELOAD" };
      }
      case "pause":
        return this.pause(cmd.database);
      case "resume":
        return this.resume(cmd.database);
      case "shutdown":
        log.info("admin_shutdown", { by: this.who, wait_for_clients: cmd.waitForClients });
        setTimeout(() => this.control.shutdown(cmd.waitForClients), 50);
        return { tag: "SHUTDOWN" };
      case "kill_client": {
        const c = [...this.ctx.clients].find((x) => x.id === cmd.id);
        if (!c) throw error(SqlState.InvalidParameterValue, `no client with id ${cmd.id} (see SHOW CLIENTS)`);
        log.info("admin_kill_client", { by: this.who, client: cmd.id });
        c.fail(fatal(SqlState.AdminShutdown, "terminating connection due to administrator command (KILL_CLIENT)"));
        return { tag: "KILL_CLIENT" };
      }
    }
  }

  /** PAUSE: new transactions wait; returns once the running ones have finished (or the shutdown timeout passed). */
  private async pause(database: string | null): Promise<AdminResult> {
    this.ctx.paused.pause(database);
    log.info("admin_pause", { by: this.who, db: database ?? undefined, all: database === null });
    const deadline = Date.now() + this.ctx.config.shutdownTimeoutMs;
    while (Date.now() < deadline && [...this.ctx.clients].some((c) => c.state === "active" && (database === null || c.database === database))) {
      await Bun.sleep(20);
    }
    return { tag: "PAUSE" };
  }

  private async resume(database: string | null): Promise<AdminResult> {
    this.ctx.paused.resume(database);
    log.info("admin_resume", { by: this.who, db: database ?? undefined, all: database === null });
    for (const c of this.ctx.clients) c.wake();
    return { tag: "RESUME" };
  }

  private show(what: string): AdminResult {
    const ctx = this.ctx;
    const now = Date.now();
    switch (what) {
      case "pools":
        return {
          tag: "SHOW",
          columns: ["database", "user", "node", "mode", "pool_size", "sv_active", "sv_idle", "sv_connecting", "cl_waiting", "waits", "avg_wait_ms", "paused"],
          rows: [...ctx.pools.pools.values()].map((p) => [
            p.database,
            p.user,
            p.node.name,
            poolModeFor(ctx.config, p.user, p.database),
            p.core.size,
            p.core.active,
            p.core.idleCount,
            p.core.connecting,
            p.core.waiting,
            p.waits,
            p.waits ? round(p.totalWaitMs / p.waits) : 0,
            ctx.isPaused(p.database),
          ]),
        };
      case "clients":
        return {
          tag: "SHOW",
          columns: ["id", "user", "database", "addr", "state", "tx", "route", "reason", "pin", "wait_ms", "connected_s", "queries", "server_id"],
          rows: [...ctx.clients].map((c) => [
            c.id,
            c.user,
            c.database,
            c.remoteAddress,
            c.state,
            TX_STATUS[c.txStatus] ?? "",
            c.lastRoute,
            c.lastReason || null,
            c.pinReason,
            c.waitStartedAt ? now - c.waitStartedAt : 0,
            round((now - c.connectedAt) / 1000),
            c.queries,
            c.serverId,
          ]),
        };
      case "servers": {
        const clientOf = new Map<number, number>();
        for (const c of ctx.clients) if (c.serverId !== null) clientOf.set(c.serverId, c.id);
        const rows: AdminResult["rows"] = [];
        for (const p of ctx.pools.pools.values()) {
          for (const s of p.members) {
            rows.push([s.id, p.node.name, s.node.host, s.node.port, p.user, p.database, s.state, clientOf.get(s.id) ?? null, TX_STATUS[s.txStatus] ?? "", round((now - s.createdAt) / 1000), round((now - s.lastUsedAt) / 1000), s.prepared.size, s.processId, s.tlsActive]);
          }
        }
        return { tag: "SHOW", columns: ["id", "node", "host", "port", "user", "database", "state", "client_id", "tx", "age_s", "idle_s", "prepared", "backend_pid", "tls"], rows };
      }
      case "nodes": {
        const weights = new Map(ctx.config.nodes.replicas.map((r) => [`${r.host}:${r.port}`, r.weight]));
        return {
          tag: "SHOW",
          columns: ["node", "host", "port", "configured_role", "role", "up", "weight", "lag_s", "lag_bytes", "lsn", "checked_ms_ago", "failures", "last_error", "reason"],
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
        return { tag: "SHOW", columns: ["version"], rows: [[`PgGate ${VERSION}`]] };
      case "help":
        return { tag: "SHOW", columns: ["command"], rows: ADMIN_COMMAND_SYNOPSES.map((c) => [c]) };
      case "lists": {
        let servers = 0;
        for (const p of ctx.pools.pools.values()) servers += p.members.size;
        return {
          tag: "SHOW",
          columns: ["list", "items"],
          rows: [
            ["clients", ctx.clients.size],
            ["pools", ctx.pools.pools.size],
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
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function latency(h: Histogram): [number, number] {
  return [h.count ? round((h.sum / h.count) * 1000) : 0, round(h.quantile(0.99) * 1000)];
}
