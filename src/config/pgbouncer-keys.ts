// The one table of PgBouncer settings and what each becomes in PgGate: `pggate convert` maps an
// ini with it, and `pggate check` uses it to answer a PgBouncer name found in a PgGate YAML.
// Data and lookups only; the value conversions live in src/convert/.

import { findKey, SCHEMA } from "./schema.ts";

/**
 * How a value is carried over. seconds: PgBouncer's (possibly fractional) seconds → a PgGate `_ms`
 * integer; int / bool / string / path / list: as written (lists are comma-separated); special:
 * src/convert/ decides with other keys in view (auth_type, listen_addr, the TLS modes, ...).
 */
export type PgBouncerValueKind = "seconds" | "int" | "bool" | "string" | "path" | "list" | "special";

export interface PgBouncerKey {
  readonly name: string;
  /** The PgGate key it becomes; it may be missing from this build's schema (see `pggateKeyFor`). */
  readonly pggate?: string;
  readonly kind: PgBouncerValueKind;
  /** Why it has no PgGate key, or what differs when it has one; read by a person, one line. */
  readonly why?: string;
}

const to = (name: string, pggate: string, kind: PgBouncerValueKind, why?: string): PgBouncerKey => ({ name, pggate, kind, why });
const none = (name: string, why: string): PgBouncerKey => ({ name, kind: "special", why });

const LOGS_TO_STDERR = "PgGate logs to stderr (log.format logfmt or json, log.level); let systemd, Docker or a redirect collect it";

/** PgBouncer's [pgbouncer] settings (1.18, and the later ones worth recognising). */
export const PGBOUNCER_SETTINGS: readonly PgBouncerKey[] = [
  // Where clients connect.
  to("listen_addr", "listen.host", "special", "PgGate listens on one address; * becomes 0.0.0.0"),
  to("listen_port", "listen.port", "int"),
  to("unix_socket_dir", "listen.unix_socket_dir", "path"),
  none("unix_socket_mode", "not converted: set listen.unix_socket_mode by hand, as a quoted octal string (\"0770\"): YAML reads a bare 0777 as a decimal number"),
  none("unix_socket_group", "not converted: set listen.unix_socket_group by hand (a group name or id)"),
  to("max_client_conn", "listen.max_client_connections", "int"),
  to("client_login_timeout", "listen.handshake_timeout_ms", "seconds"),
  to("client_idle_timeout", "listen.client_idle_timeout_ms", "seconds"),
  to("idle_transaction_timeout", "listen.idle_in_transaction_timeout_ms", "seconds"),
  to("max_packet_size", "listen.max_message_size", "int"),
  to("client_tls_sslmode", "listen.tls.mode", "special"),
  to("client_tls_key_file", "listen.tls.key", "path"),
  to("client_tls_cert_file", "listen.tls.cert", "path"),
  none("client_tls_ca_file", "PgGate does not ask clients for certificates, so it needs no CA to verify them"),
  none("client_tls_protocols", "PgGate uses Bun's TLS protocol defaults"),
  none("client_tls_ciphers", "PgGate uses Bun's TLS cipher defaults"),
  none("client_tls13_ciphers", "PgGate uses Bun's TLS cipher defaults"),
  none("client_tls_ecdhcurve", "PgGate uses Bun's TLS defaults"),
  none("client_tls_dheparams", "PgGate uses Bun's TLS defaults"),
  none("so_reuseport", "to run several processes on one port, set workers: N (they share the port with SO_REUSEPORT)"),
  none("listen_backlog", "PgGate uses the runtime's listen backlog"),
  none("tcp_defer_accept", "not settable in PgGate"),
  none("tcp_socket_buffer", "PgGate leaves socket buffers to the kernel"),

  // Pools.
  to("pool_mode", "pool.mode", "special"),
  to("default_pool_size", "pool.size", "int"),
  to("min_pool_size", "pool.min_idle", "int"),
  to("reserve_pool_size", "pool.reserve_size", "int"),
  to("reserve_pool_timeout", "pool.reserve_timeout_ms", "seconds"),
  to("max_db_connections", "nodes.max_connections", "int", "PgBouncer counts per database, PgGate per node across all its pools"),
  none("max_user_connections", "PgGate has no per-user connection cap; pool.size (and pool.users) caps each (user, database) pool"),
  to("server_lifetime", "pool.max_lifetime_ms", "seconds"),
  to("server_idle_timeout", "pool.idle_timeout_ms", "seconds"),
  to("query_timeout", "pool.query_timeout_ms", "seconds", "PgBouncer closes the server connection; PgGate cancels the query and the client gets 57014"),
  to("query_wait_timeout", "pool.acquire_timeout_ms", "seconds"),
  none("server_round_robin", "PgGate hands out idle server connections in its own order"),
  none("autodb_idle_timeout", 'the "*" entry\'s pools close idle connections after pool.idle_timeout_ms like any pool'),
  none("max_prepared_statements", "PgGate always tracks prepared statements: pool.prepared_statements_cache_size per server connection, limits.max_prepared_statements per client"),
  none("track_extra_parameters", "PgGate keeps every parameter a client sets or a server reports"),
  none("ignore_startup_parameters", "not needed: PgGate does not refuse startup parameters (extra_float_digits, options, ...); it applies them on the server connection"),
  none("disable_pqexec", "PgGate has no switch to refuse multi-statement queries"),
  none("application_name_add_host", "PgGate sends the client's application_name as it is"),
  none("server_reset_query", "PgGate resets a server connection itself when the client lets it go (the client's session state pins it instead of leaking)"),
  none("server_reset_query_always", "PgGate resets a server connection itself when the client lets it go"),
  none("server_check_query", "PgGate checks nodes with its health checks (health.*) instead of each idle connection"),
  none("server_check_delay", "PgGate checks nodes with its health checks (health.interval_ms) instead of each idle connection"),
  none("server_fast_close", "on reload PgGate closes the connections of a moved or removed database at once"),
  none("cancel_wait_timeout", "PgGate has no setting for it"),
  none("transaction_timeout", "PgGate has no transaction time limit; use PostgreSQL's transaction_timeout or listen.idle_in_transaction_timeout_ms"),
  none("suspend_timeout", "PgGate has no SUSPEND or online restart (-R)"),

  // Nodes.
  to("server_connect_timeout", "nodes.connect_timeout_ms", "seconds"),
  none("server_login_retry", "PgGate retries a failed connect right away, retry.connect_attempts times with backoff from retry.backoff_ms (100 ms), while the client waits"),
  to("tcp_keepalive", "nodes.tcp_keepalive", "bool", "PgGate applies it to server connections"),
  to("tcp_keepidle", "nodes.tcp_keepalive_idle_ms", "seconds"),
  none("tcp_keepcnt", "PgGate sets only keepalive on/off and the idle time (nodes.tcp_keepalive_idle_ms)"),
  none("tcp_keepintvl", "PgGate sets only keepalive on/off and the idle time (nodes.tcp_keepalive_idle_ms)"),
  none("tcp_user_timeout", "Bun exposes no TCP_USER_TIMEOUT; health checks and pool.query_timeout_ms bound the wait"),
  to("server_tls_sslmode", "nodes.tls.mode", "special"),
  to("server_tls_ca_file", "nodes.tls.ca", "path"),
  none("server_tls_key_file", "PgGate presents no client certificate to the nodes"),
  none("server_tls_cert_file", "PgGate presents no client certificate to the nodes"),
  none("server_tls_protocols", "PgGate uses Bun's TLS protocol defaults"),
  none("server_tls_ciphers", "PgGate uses Bun's TLS cipher defaults"),
  none("server_tls13_ciphers", "PgGate uses Bun's TLS cipher defaults"),
  none("dns_max_ttl", "PgGate resolves host names with the system resolver at each new connection"),
  none("dns_nxdomain_ttl", "PgGate resolves host names with the system resolver at each new connection"),
  none("dns_zone_check_period", "PgGate resolves host names with the system resolver at each new connection"),
  none("resolv_conf", "PgGate uses the system resolver (/etc/resolv.conf)"),

  // Authentication.
  to("auth_type", "auth.mode", "special"),
  to("auth_file", "auth.userlist", "special"),
  to("auth_hba_file", "auth.hba", "special"),
  to("auth_user", "auth.auth_user", "special"),
  to("auth_query", "auth.auth_query", "string"),
  to("auth_dbname", "auth.auth_database", "string"),
  none("auth_ident_file", "PgGate has no peer or ident authentication (it has no Unix-socket clients to ask)"),

  // Admin console.
  to("admin_users", "admin.users", "list"),
  to("stats_users", "admin.stats_users", "list"),

  // Process and logging.
  none("logfile", LOGS_TO_STDERR),
  none("syslog", LOGS_TO_STDERR),
  none("syslog_ident", LOGS_TO_STDERR),
  none("syslog_facility", LOGS_TO_STDERR),
  none("log_connections", "PgGate logs client_login and client_close at log.level info (warn leaves them out)"),
  none("log_disconnections", "PgGate logs client_login and client_close at log.level info (warn leaves them out)"),
  none("log_pooler_errors", "PgGate logs refused logins (login_failed, startup_rejected) at log.level info"),
  none("log_stats", "PgGate's statistics are the Prometheus metrics (metrics.*) and SHOW STATS"),
  none("stats_period", "PgGate's statistics are the Prometheus metrics (metrics.*) and SHOW STATS"),
  to("verbose", "log.level", "special"),
  none("pidfile", "PgGate runs in the foreground and writes no pid file; the service manager (systemd, Docker) tracks it"),
  none("user", "PgGate does not switch users; start it as the user it should run as (systemd User=)"),
  none("conffile", "the config file is the one PgGate was started with (--config)"),
  none("service_name", "a Windows service name; PgGate has none"),
  none("job_name", "a Windows service name; PgGate has none"),
  none("peer_id", "PgGate has no peering; a CancelRequest reaching another worker is handed over by PgGate itself"),
  none("pkt_buf", "PgGate has no setting for it; listen.max_message_size caps one message"),
  none("sbuf_loopcnt", "not settable in PgGate"),
];

/** Keys of a [databases] connect string (`name = host=... port=...`). */
export const PGBOUNCER_DATABASE_KEYS: readonly PgBouncerKey[] = [
  to("dbname", "dbname", "string"),
  to("host", "nodes.primary.host", "special"),
  to("port", "nodes.primary.port", "int"),
  to("pool_size", "pool.size", "int"),
  to("pool_mode", "pool.mode", "special"),
  none("user", "PgGate has no forced user: clients log in to this database as themselves, so each needs its own role"),
  none("password", "PgGate has no forced user (the password goes with user=)"),
  none("auth_user", "PgGate has one auth user for all databases (auth.auth_user)"),
  none("auth_dbname", "PgGate has one auth_query database for all databases (auth.auth_database)"),
  none("min_pool_size", "PgGate's pool.min_idle applies to every pool, not per database"),
  none("reserve_pool", "PgGate's reserve pool (pool.reserve_size) applies to every pool, not per database"),
  none("max_db_connections", "PgGate's cap is per node (nodes.max_connections), not per database"),
  none("client_encoding", "PgGate sets no server parameters per database; use ALTER DATABASE … SET client_encoding on the server"),
  none("datestyle", "PgGate sets no server parameters per database; use ALTER DATABASE … SET datestyle on the server"),
  none("timezone", "PgGate sets no server parameters per database; use ALTER DATABASE … SET timezone on the server"),
  none("application_name", "PgGate sets no server parameters per database; use ALTER DATABASE … SET application_name on the server"),
  none("connect_query", "PgGate runs no query on new server connections; use ALTER DATABASE/ROLE … SET for settings"),
  none("server_lifetime", "PgGate's pool.max_lifetime_ms applies to every pool, not per database"),
  none("max_db_client_connections", "PgGate caps clients for the whole process (listen.max_client_connections)"),
];

/** Keys of a [users] entry (`user = pool_mode=...`). */
export const PGBOUNCER_USER_KEYS: readonly PgBouncerKey[] = [
  to("pool_mode", "pool.mode", "special"),
  to("pool_size", "pool.size", "int"),
  none("max_user_connections", "PgGate has no per-user connection cap; the user's pool.size caps each of its pools"),
  none("reserve_pool_size", "PgGate's reserve pool (pool.reserve_size) applies to every pool, not per user"),
  none("query_timeout", "PgGate's pool.query_timeout_ms applies to every client, not per user"),
  none("idle_transaction_timeout", "PgGate's listen.idle_in_transaction_timeout_ms applies to every client, not per user"),
  none("client_idle_timeout", "PgGate's listen.client_idle_timeout_ms applies to every client, not per user"),
  none("max_user_client_connections", "PgGate caps clients for the whole process (listen.max_client_connections)"),
];

const SETTINGS_BY_NAME: ReadonlyMap<string, PgBouncerKey> = new Map(PGBOUNCER_SETTINGS.map((k) => [k.name, k]));

export function pgbouncerSetting(name: string): PgBouncerKey | undefined {
  return SETTINGS_BY_NAME.get(name);
}

/** The PgGate key `k` maps to, if this build's schema has it (some are added by later versions). */
export function pggateKeyFor(k: PgBouncerKey): string | undefined {
  return k.pggate !== undefined && findKey(k.pggate) ? k.pggate : undefined;
}

/**
 * For `pggate check`: what to say about `name` found where PgGate expects its own keys, when it is
 * a PgBouncer setting's name; undefined otherwise. The message follows "unknown key; ".
 */
export function pgbouncerHint(name: string): string | undefined {
  const k = SETTINGS_BY_NAME.get(name);
  if (!k) return undefined;
  const target = pggateKeyFor(k);
  if (target) {
    const unit = k.kind === "seconds" ? ", which is in seconds; PgGate's is in milliseconds" : "";
    return `did you mean ${target}? (PgBouncer's ${name}${unit})`;
  }
  // A name PgGate also uses (`user` is health.user's) is more likely a PgGate key in the wrong place.
  if (SCHEMA.some((s) => s.path.endsWith(`.${name}`))) return undefined;
  if (k.pggate) return `PgBouncer's ${name} would be ${k.pggate}, which this PgGate version does not have`;
  return `PgBouncer's ${name} has no PgGate key: ${k.why ?? "not supported"}`;
}

/**
 * For a `databases:` entry holding a connect-string key: `path`, the entry-relative PgGate key
 * (pool_size → pool.size), or `why` there is none (user=, client_encoding=, ...).
 */
export function pgbouncerDatabaseHint(name: string): { path: string } | { why: string } | undefined {
  const k = PGBOUNCER_DATABASE_KEYS.find((d) => d.name === name);
  if (!k || k.pggate === name) return undefined;
  return k.pggate ? { path: k.pggate } : { why: k.why ?? "not supported" };
}
