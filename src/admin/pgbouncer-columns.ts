// PgBouncer 1.18's console RowDescriptions, column by column (name, type OID as it sends them),
// captured from a real PgBouncer 1.18 (test/integration/pgbouncer-compat.test.ts compares them
// again). PgGate answers each shared SHOW with these columns first, its own ones after.
import type { ColumnType } from "../protocol/index.ts";
import type { AdminResult, AdminValue } from "./result.ts";

export type Column = readonly [name: string, type: ColumnType];

const text = (name: string): Column => [name, "text"];
const int4 = (name: string): Column => [name, "int4"];
const int8 = (name: string): Column => [name, "int8"];
const numeric = (name: string): Column => [name, "numeric"];
const bytea = (name: string): Column => [name, "bytea"];

/** SHOW CLIENTS, SERVERS: one socket each. */
const SOCKET: readonly Column[] = [
  text("type"),
  text("user"),
  text("database"),
  text("state"),
  text("addr"),
  int4("port"),
  text("local_addr"),
  int4("local_port"),
  text("connect_time"),
  text("request_time"),
  int4("wait"),
  int4("wait_us"),
  int4("close_needed"),
  text("ptr"),
  text("link"),
  int4("remote_pid"),
  text("tls"),
  text("application_name"),
];

const STATS_COUNTERS = ["xact_count", "query_count", "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"];

export const PGBOUNCER_COLUMNS = {
  stats: [
    text("database"),
    ...["total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time", "total_query_time", "total_wait_time"].map(numeric),
    ...["avg_xact_count", "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time"].map(numeric),
  ],
  stats_totals: [text("database"), ...STATS_COUNTERS.map(numeric)],
  stats_averages: [text("database"), ...STATS_COUNTERS.map(numeric)],
  totals: [text("name"), numeric("value")],
  pools: [
    text("database"),
    text("user"),
    ...["cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us"].map(int4),
    text("pool_mode"),
  ],
  lists: [text("list"), int4("items")],
  databases: [
    text("name"),
    text("host"),
    int4("port"),
    text("database"),
    text("force_user"),
    int4("pool_size"),
    int4("min_pool_size"),
    int4("reserve_pool"),
    text("pool_mode"),
    int4("max_connections"),
    int4("current_connections"),
    int4("paused"),
    int4("disabled"),
  ],
  users: [text("name"), text("pool_mode")],
  clients: SOCKET,
  servers: SOCKET,
  sockets: [...SOCKET, ...["recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail", "send_avail"].map(int4)],
  active_sockets: [...SOCKET, ...["recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail", "send_avail"].map(int4)],
  config: [text("key"), text("value"), text("default"), text("changeable")],
  version: [text("version")],
  mem: [text("name"), int4("size"), int4("used"), int4("free"), int4("memtotal")],
  fds: [
    int4("fd"),
    text("task"),
    text("user"),
    text("database"),
    text("addr"),
    int4("port"),
    int8("cancel"),
    int4("link"),
    text("client_encoding"),
    text("std_strings"),
    text("datestyle"),
    text("timezone"),
    text("password"),
    bytea("scram_client_key"),
    bytea("scram_server_key"),
  ],
  dns_hosts: [text("hostname"), int8("ttl"), text("addrs")],
  dns_zones: [text("zonename"), int8("serial"), int4("count")],
} as const satisfies Record<string, readonly Column[]>;

export type PgBouncerTable = keyof typeof PGBOUNCER_COLUMNS;

/**
 * A SHOW result: PgBouncer's columns of `table`, then PgGate's `extra` ones. Rows hold values for
 * both, in that order. Types are declared, never guessed, so an empty result says the same.
 */
export function pgbouncerResult(table: PgBouncerTable, rows: AdminValue[][], extra: readonly Column[] = []): AdminResult {
  const columns = [...PGBOUNCER_COLUMNS[table], ...extra];
  return { tag: "SHOW", columns: columns.map((c) => c[0]), types: columns.map((c) => c[1]), rows };
}

/** PgBouncer's connect_time / request_time text: "2026-12-06 02:39:39 UTC". */
export function pgbouncerTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
}
