// SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS and FDS in PgBouncer 1.18's columns, then
// PgGate's. ptr/link join a client to the server connection it holds (as PgBouncer's pointers do)
// and remote_pid is that connection's real backend pid, which joins to pg_stat_activity.pid.
import type { ServerConn } from "../server/server-conn.ts";
import type { ClientHandle, GatewayContext } from "../session/context.ts";
import type { Column } from "./pgbouncer-columns.ts";
import { pgbouncerResult, pgbouncerTime } from "./pgbouncer-columns.ts";
import type { AdminResult, AdminValue } from "./result.ts";

const TX_STATUS: Record<number, string> = { 0x49: "idle", 0x54: "in_transaction", 0x45: "failed_transaction" };

interface ServerEntry {
  conn: ServerConn;
  user: string;
  database: string;
}

/** Every live server connection of a visible pool, by id. */
function servers(ctx: GatewayContext): Map<number, ServerEntry> {
  const out = new Map<number, ServerEntry>();
  for (const p of ctx.pools.visible()) {
    for (const conn of p.members) if (conn.state !== "closed") out.set(conn.id, { conn, user: p.user, database: p.database });
  }
  return out;
}

const clientPtr = (id: number): string => `c${id}`;
const serverPtr = (id: number): string => `s${id}`;

/** PgBouncer's client states: logged in and not waiting is "active", whether or not it holds a server. */
function clientState(c: ClientHandle): "active" | "waiting" | "login" {
  if (c.state === "waiting") return "waiting";
  if (c.state === "startup" || c.state === "login") return "login";
  return "active";
}

function serverState(s: ServerConn): "active" | "idle" | "new" {
  if (s.state === "connecting" || s.state === "startup") return "new";
  return s.state === "idle" ? "idle" : "active";
}

/** The address clients reached, when PgGate listens on one (a wildcard listener does not know which). */
function localAddr(ctx: GatewayContext): string {
  const h = ctx.config.listen.host;
  return h === "0.0.0.0" || h === "::" || h === "" ? "" : h;
}

function clientRow(ctx: GatewayContext, c: ClientHandle, byId: Map<number, ServerEntry>, now: number): AdminValue[] {
  const waitUs = c.state === "waiting" && c.waitStartedAt ? Math.max(0, now - c.waitStartedAt) * 1000 : 0;
  const server = c.serverId === null ? undefined : byId.get(c.serverId);
  return [
    "C",
    c.user,
    c.database,
    clientState(c),
    c.remoteAddress,
    c.remotePort,
    localAddr(ctx),
    c.localPort,
    pgbouncerTime(c.connectedAt),
    pgbouncerTime(c.lastActivityAt),
    Math.floor(waitUs / 1_000_000),
    Math.floor(waitUs % 1_000_000),
    0, // close_needed: a client is closed when its reason arises, never marked for later
    clientPtr(c.id),
    server ? serverPtr(server.conn.id) : "",
    server?.conn.processId ?? 0,
    c.tls ? "TLS" : "",
    c.applicationName,
  ];
}

function serverRow(s: ServerEntry, clientOf: Map<number, number>): AdminValue[] {
  const holder = clientOf.get(s.conn.id);
  return [
    "S",
    s.user,
    s.database,
    serverState(s.conn),
    s.conn.node.host,
    s.conn.node.port,
    "", // local_addr / local_port: Bun does not expose an outgoing socket's own address
    0,
    pgbouncerTime(s.conn.createdAt),
    pgbouncerTime(s.conn.lastUsedAt),
    0,
    0,
    s.conn.retired ? 1 : 0,
    serverPtr(s.conn.id),
    holder === undefined ? "" : clientPtr(holder),
    s.conn.processId,
    s.conn.tlsActive ? "TLS" : "",
    s.conn.params.get("application_name") ?? "",
  ];
}

const CLIENTS_EXTRA: readonly Column[] = [
  ["id", "int8"],
  ["tx", "text"],
  ["route", "text"],
  ["reason", "text"],
  ["pin", "text"],
  ["queries", "int8"],
  ["server_id", "int8"],
  ["session_state", "text"],
];

export function clients(ctx: GatewayContext, now: number): AdminResult {
  const byId = servers(ctx);
  const rows = [...ctx.clients].map((c) => [
    ...clientRow(ctx, c, byId, now),
    c.id,
    TX_STATUS[c.txStatus] ?? "",
    c.lastRoute,
    c.lastReason || null,
    c.pinReason,
    c.queries,
    c.serverId,
    c.state,
  ]);
  return pgbouncerResult("clients", rows, CLIENTS_EXTRA);
}

const SERVERS_EXTRA: readonly Column[] = [
  ["id", "int8"],
  ["node", "text"],
  ["tx", "text"],
  ["age_s", "float8"],
  ["idle_s", "float8"],
  ["prepared", "int8"],
  ["client_id", "int8"],
];

export function serversTable(ctx: GatewayContext, now: number): AdminResult {
  const clientOf = holders(ctx);
  const rows = [...servers(ctx).values()].map((s) => [
    ...serverRow(s, clientOf),
    s.conn.id,
    s.conn.node.name,
    TX_STATUS[s.conn.txStatus] ?? "",
    round((now - s.conn.createdAt) / 1000),
    round((now - s.conn.lastUsedAt) / 1000),
    s.conn.prepared.size,
    clientOf.get(s.conn.id) ?? null,
  ]);
  return pgbouncerResult("servers", rows, SERVERS_EXTRA);
}

/**
 * Clients and servers together, state named by PgBouncer's list (cl_active, sv_idle, ...). The
 * buffer positions are 0: PgGate forwards without a per-socket packet buffer. `activeOnly`: only
 * sockets in use, a client holding a server and the server held (ACTIVE_SOCKETS).
 */
export function sockets(ctx: GatewayContext, now: number, activeOnly: boolean): AdminResult {
  const byId = servers(ctx);
  const clientOf = holders(ctx);
  const buffers = [0, 0, 0, 0, 0, 0, 0];
  const rows: AdminValue[][] = [];
  for (const c of ctx.clients) {
    if (activeOnly && c.serverId === null) continue;
    const row = clientRow(ctx, c, byId, now);
    row[3] = `cl_${row[3]}`;
    rows.push([...row, ...buffers]);
  }
  for (const s of byId.values()) {
    if (activeOnly && !clientOf.has(s.conn.id)) continue;
    const row = serverRow(s, clientOf);
    row[3] = row[3] === "new" ? "sv_login" : `sv_${row[3]}`;
    rows.push([...row, ...buffers]);
  }
  return pgbouncerResult(activeOnly ? "active_sockets" : "sockets", rows);
}

/**
 * One row per socket. Bun exposes no file descriptor numbers (fd 0) and PgGate hands no socket to
 * another process, so the takeover columns (cancel key, password, SCRAM keys) stay empty.
 */
export function fds(ctx: GatewayContext): AdminResult {
  const rows: AdminValue[][] = [];
  for (const c of ctx.clients) rows.push([0, "client", c.user, c.database, c.remoteAddress, c.remotePort, 0, 0, null, null, null, null, null, null, null, clientPtr(c.id)]);
  for (const s of servers(ctx).values()) {
    const p = s.conn.params;
    const row = [0, "server", s.user, s.database, s.conn.node.host, s.conn.node.port, 0, 0, p.get("client_encoding") ?? null, p.get("standard_conforming_strings") ?? null, p.get("DateStyle") ?? null, p.get("TimeZone") ?? null, null, null, null, serverPtr(s.conn.id)];
    rows.push(row);
  }
  return pgbouncerResult("fds", rows, [["ptr", "text"]]);
}

/** Server connection id -> the id of the client holding it. */
function holders(ctx: GatewayContext): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of ctx.clients) if (c.serverId !== null) out.set(c.serverId, c.id);
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
