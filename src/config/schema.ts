// The one table of every config key: YAML path, type, default, bounds, reloadability, doc line.
// Validation, defaults, diffing, SHOW CONFIG and the README reference all read it; nothing here
// does I/O.

import type { Config, DatabaseConfig, NodeConfig, PoolOverride, ServerAuthMethod } from "./types.ts";

/** Largest delay a JS timer honours (2^31-1 ms, ~24.8 days); longer values would fire at once. */
export const MAX_MS = 2_147_483_647;

interface KeyCommon<P extends string> {
  /** Dotted snake_case YAML path, e.g. `listen.max_client_connections`. */
  readonly path: P;
  /** Whether SIGHUP / RELOAD applies a change; false means a restart is needed. */
  readonly reloadable: boolean;
  readonly doc: string;
  /** Masked in SHOW CONFIG and never logged. */
  readonly secret?: boolean;
}

export interface IntKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "int";
  readonly default: number;
  readonly min: number;
  readonly max: number;
}
export interface BoolKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "bool";
  readonly default: boolean;
}
export interface StringKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "string";
  readonly default: string;
  /** The empty string is rejected when set explicitly. */
  readonly nonEmpty: boolean;
}
export interface EnumKey<P extends string = string, V extends string = string> extends KeyCommon<P> {
  readonly kind: "enum";
  readonly values: readonly V[];
  readonly default: V;
  /** Older spellings still accepted, e.g. `true` for `session` when a bool became an enum. */
  readonly booleans?: { readonly true: V; readonly false: V };
}
/** A file path; relative paths resolve against the config file's directory. "" means unset. */
export interface PathKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "path";
  readonly default: "";
}
export interface StringListKey<P extends string = string, V extends string = string> extends KeyCommon<P> {
  readonly kind: "string-list";
  readonly default: readonly V[];
  /** Items are lower-cased (function names are matched case-insensitively). */
  readonly lowercase: boolean;
  /** When set, the only items allowed, and the list must not be empty. */
  readonly values?: readonly V[];
}
/**
 * A Unix file mode as an octal string ("0777", "0770"). Not an int: YAML 1.2 reads an unquoted
 * 0777 as the decimal number 777, which as a mode would be 0o1411.
 */
export interface FileModeKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "file-mode";
  readonly default: string;
}
/** A `{ host, port, weight }` mapping; required (there is no default). */
export interface NodeKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "node";
  readonly default: undefined;
}
export interface NodeListKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "node-list";
  readonly default: readonly NodeConfig[];
}

/** `{ <name>: { size, mode } }`: per-user or per-database pool settings (pool.users / pool.databases). */
export interface PoolOverridesKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "pool-overrides";
  readonly default: readonly PoolOverride[];
}

/** `{ <name>: { dbname, nodes, pool, routing } }`: the `databases:` section (PgBouncer's [databases]). */
export interface DatabasesKey<P extends string = string> extends KeyCommon<P> {
  readonly kind: "databases";
  readonly default: readonly DatabaseConfig[];
}

export type KeyDef =
  | PoolOverridesKey
  | DatabasesKey
  | IntKey
  | BoolKey
  | StringKey
  | EnumKey
  | PathKey
  | FileModeKey
  | StringListKey
  | NodeKey
  | NodeListKey;
export type KeyKind = KeyDef["kind"];

type Opts<K> = Omit<K, "path" | "kind">;

const int = <const P extends string>(path: P, o: Opts<IntKey<P>>): IntKey<P> => ({ path, kind: "int", ...o });
const bool = <const P extends string>(path: P, o: Opts<BoolKey<P>>): BoolKey<P> => ({ path, kind: "bool", ...o });
const str = <const P extends string>(path: P, o: Opts<StringKey<P>>): StringKey<P> => ({ path, kind: "string", ...o });
const oneOf = <const P extends string, const V extends string>(
  path: P,
  values: readonly V[],
  o: Omit<Opts<EnumKey<P, V>>, "values">,
): EnumKey<P, V> => ({ path, kind: "enum", values, ...o });
const file = <const P extends string>(path: P, o: Omit<Opts<PathKey<P>>, "default">): PathKey<P> => ({
  path,
  kind: "path",
  default: "",
  ...o,
});
const fileMode = <const P extends string>(path: P, o: Opts<FileModeKey<P>>): FileModeKey<P> => ({ path, kind: "file-mode", ...o });
const strings = <const P extends string>(path: P, o: Opts<StringListKey<P>>): StringListKey<P> => ({
  path,
  kind: "string-list",
  ...o,
});
/** A list whose items come from a fixed set, e.g. nodes.require_auth. */
const someOf = <const P extends string, const V extends string>(
  path: P,
  values: readonly V[],
  o: Omit<Opts<StringListKey<P, V>>, "values">,
): StringListKey<P, V> => ({ path, kind: "string-list", values, ...o });
const node = <const P extends string>(path: P, o: Omit<Opts<NodeKey<P>>, "default">): NodeKey<P> => ({
  path,
  kind: "node",
  default: undefined,
  ...o,
});
const nodes = <const P extends string>(path: P, o: Opts<NodeListKey<P>>): NodeListKey<P> => ({
  path,
  kind: "node-list",
  ...o,
});

const overrides = <const P extends string>(path: P, o: Opts<PoolOverridesKey<P>>): PoolOverridesKey<P> => ({
  path,
  kind: "pool-overrides",
  ...o,
});

const databases = <const P extends string>(path: P, o: Opts<DatabasesKey<P>>): DatabasesKey<P> => ({
  path,
  kind: "databases",
  ...o,
});

/** Fields of a node mapping (`nodes.primary`, each `nodes.replicas[i]`). */
export const NODE_FIELDS = [
  { name: "host", type: "string", default: undefined, doc: "Host name or IP address (required)." },
  { name: "port", type: "int 1..65535", default: 5432, doc: "TCP port." },
  {
    name: "weight",
    type: "int 0..1000",
    default: 1,
    doc: "Share of replica reads relative to the other replicas; 0 sends it none. The primary ignores it.",
  },
] as const;
export const NODE_PORT_MIN = 1;
export const NODE_PORT_MAX = 65535;
export const NODE_WEIGHT_MIN = 0;
export const NODE_WEIGHT_MAX = 1000;
export const NODE_DEFAULT_PORT = 5432;
export const NODE_DEFAULT_WEIGHT = 1;

/** What nodes.require_auth may list, spelled as libpq's require_auth spells them. */
export const SERVER_AUTH_METHODS: readonly ServerAuthMethod[] = ["password", "md5", "scram-sha-256", "none"];
/**
 * Every method in which the node at least asks for a secret: "none" (AuthenticationOk with no
 * exchange, as pg_hba "trust" does) is what an impostor would answer, so it must be listed on purpose.
 */
// "none" is allowed by default, as libpq allows it: pg_hba trust (common in development, and
// how passthrough pools reach such servers) must keep working. A hardened setup lists only
// scram-sha-256, which makes every node prove it knows the verifier.
export const DEFAULT_REQUIRE_AUTH: readonly ServerAuthMethod[] = ["password", "md5", "scram-sha-256", "none"];
/**
 * auth.max_scram_iterations: 244 times PostgreSQL's default of 4096 and above OWASP's 600,000 for
 * PBKDF2-HMAC-SHA256, so hardened scram_iterations settings work, while one derivation stays
 * around 0.1 s of one core (2^31-1, which PostgreSQL accepts, would be minutes).
 */
export const DEFAULT_MAX_SCRAM_ITERATIONS = 1_000_000;

export const SCHEMA = [
  // listen
  str("listen.host", { default: "127.0.0.1", nonEmpty: true, reloadable: false, doc: "Address clients connect to (0.0.0.0 or :: for all interfaces)." }),
  int("listen.port", { default: 6432, min: 0, max: 65535, reloadable: false, doc: "Port clients connect to (0 picks a free port)." }),
  int("listen.max_client_connections", { default: 10000, min: 1, max: 1_000_000, reloadable: true, doc: "Client connections beyond this are refused with SQLSTATE 53300." }),
  int("listen.client_idle_timeout_ms", { default: 0, min: 0, max: MAX_MS, reloadable: true, doc: "Close clients idle (outside a transaction) this long with FATAL 57P05; 0 = never." }),
  int("listen.idle_in_transaction_timeout_ms", { default: 0, min: 0, max: MAX_MS, reloadable: true, doc: "Close clients idle inside a transaction this long with FATAL 25P03, releasing its server connection; 0 = never." }),
  int("listen.handshake_timeout_ms", { default: 10000, min: 1, max: MAX_MS, reloadable: true, doc: "Time a new client has to finish TLS, startup and authentication." }),
  int("listen.max_pending_logins", { default: 64, min: 1, max: 100_000, reloadable: true, doc: "Server connections per node held for clients that have not authenticated yet (passthrough relays); further logins wait their turn." }),
  int("listen.max_pending_logins_per_source", { default: 4, min: 1, max: 100_000, reloadable: true, doc: "Passthrough relays in progress per client address; further logins from that address wait their turn, without delaying other addresses' logins." }),
  int("listen.auth_step_timeout_ms", { default: 5000, min: 1, max: MAX_MS, reloadable: true, doc: "Time a client has to answer each authentication request of a passthrough relay (which holds a primary connection while it waits); past it, FATAL 08P01." }),
  int("listen.max_message_size", { default: 268_435_456, min: 1024, max: 1_073_741_824, reloadable: true, doc: "Largest protocol message accepted from a client, in bytes; larger ones get 08P01 and a closed connection." }),
  str("listen.unix_socket_dir", { default: "", nonEmpty: false, reloadable: false, doc: "Directory of a Unix-domain socket PgGate also listens on, <dir>/.s.PGSQL.<listen.port> (PgBouncer's unix_socket_dir; clients connect with host=<dir>). Absolute path of an existing directory; \"\" = none. A stale socket file (nothing answers a connect) is replaced at start, a live one refuses the start; the file is removed at shutdown. Its clients never use TLS, show as address unix, and auth.hba local lines apply to them. With workers > 1 only worker 0 listens on it." }),
  fileMode("listen.unix_socket_mode", { default: "0777", reloadable: false, doc: "File mode of the Unix socket, an octal string in quotes (\"0770\"); 0777 lets every local user connect, as PgBouncer's default." }),
  str("listen.unix_socket_group", { default: "", nonEmpty: false, reloadable: false, doc: "Group (name or numeric id) given to the Unix socket file, e.g. to allow only its members with unix_socket_mode \"0770\"; \"\" = the process's group." }),
  oneOf("listen.tls.mode", ["disable", "allow", "require"], { default: "disable", reloadable: false, doc: "TLS toward clients: disable (answer N to SSLRequest), allow (TLS if asked), require (refuse plaintext)." }),
  file("listen.tls.cert", { reloadable: true, doc: "PEM certificate chain; required unless listen.tls.mode is disable. Relative to the config file. Validated (with the key) by check, at start and on reload; SIGHUP re-reads it (rotation without a restart)." }),
  file("listen.tls.key", { reloadable: true, doc: "PEM private key matching listen.tls.cert; required unless listen.tls.mode is disable. Relative to the config file. Re-read on SIGHUP." }),

  // metrics
  bool("metrics.enabled", { default: true, reloadable: false, doc: "Serve /metrics, /healthz and /readyz over HTTP." }),
  str("metrics.host", { default: "127.0.0.1", nonEmpty: true, reloadable: false, doc: "Address of the metrics HTTP server." }),
  int("metrics.port", { default: 8080, min: 0, max: 65535, reloadable: false, doc: "Port of the metrics HTTP server (0 picks a free port)." }),
  int("metrics.ready_max_waiting", { default: 100, min: 0, max: 1_000_000, reloadable: true, doc: "/readyz says not ready (503) while more clients than this wait for a server connection whose pool is full; 0 = never for this reason." }),

  // nodes
  node("nodes.primary", { reloadable: true, doc: "The primary: { host, port }. Required, unless databases is given and every entry names its own nodes (then there is no top-level cluster and nodes.replicas must be empty)." }),
  nodes("nodes.replicas", { default: [], reloadable: true, doc: "Streaming replicas: list of { host, port, weight }. Added/removed on reload without disturbing sessions." }),
  int("nodes.connect_timeout_ms", { default: 5000, min: 1, max: MAX_MS, reloadable: true, doc: "Timeout for opening a server connection (TCP, TLS and authentication)." }),
  bool("nodes.tcp_keepalive", { default: true, reloadable: true, doc: "TCP keepalive on server connections, so the kernel notices a peer that vanished (applies to new connections)." }),
  int("nodes.tcp_keepalive_idle_ms", { default: 30000, min: 1000, max: MAX_MS, reloadable: true, doc: "Idle time before the first keepalive probe (new connections)." }),
  int("nodes.max_connections", { default: 0, min: 0, max: 100_000, reloadable: true, doc: "Most PgGate connections per node across all its pools (PgBouncer's max_db_connections); 0 = no limit beyond pool.size per pool. Clients waiting for a node are served FIFO across pools." }),
  someOf("nodes.require_auth", SERVER_AUTH_METHODS, { default: DEFAULT_REQUIRE_AUTH, lowercase: true, reloadable: true, doc: "How nodes may authenticate PgGate, like libpq's require_auth: password, md5, scram-sha-256, none (no exchange at all, e.g. pg_hba trust). A SCRAM exchange must end with a verified server signature; password and md5 are answered only with a password or MD5 hash PgGate holds, never with SCRAM keys." }),
  oneOf("nodes.tls.mode", ["disable", "prefer", "require", "verify-full"], { default: "prefer", reloadable: true, doc: "TLS toward the nodes, like libpq's sslmode: disable, prefer, require (no verification), verify-full (CA + host name)." }),
  file("nodes.tls.ca", { reloadable: true, doc: "PEM CA bundle that signs the node certificates; required for verify-full. Relative to the config file." }),
  str("nodes.tls.server_name", { default: "", nonEmpty: false, reloadable: true, doc: "Name to verify node certificates against (and send as SNI); empty means each node's own host." }),

  // databases
  databases("databases", {
    default: [],
    reloadable: true,
    doc: 'Client-visible database names (PgBouncer\'s [databases]), entry fields below; "*" serves any name not listed. Names are matched exactly; pggate and pgbouncer are the admin console\'s. Empty = every name on the top-level nodes; once given, a name not listed (and no "*") is refused. Top-level nodes.primary may then be left out if every entry names its own nodes. Not settable from the environment.',
  }),

  // pool
  oneOf("pool.mode", ["transaction", "session"], { default: "transaction", reloadable: true, doc: "transaction: a server connection per transaction; session: one for the client's whole session." }),
  int("pool.size", { default: 20, min: 1, max: 10000, reloadable: true, doc: "Max server connections per node per (user, database)." }),
  overrides("pool.users", { default: [], reloadable: true, doc: "Per-user pool settings, e.g. { reporting: { size: 2, mode: session } } (PgBouncer's [users]); they win over pool.databases and the defaults." }),
  overrides("pool.databases", { default: [], reloadable: true, doc: "Per-database pool settings, e.g. { analytics: { size: 5 } } (PgBouncer's [databases] pool_size / pool_mode). A databases entry's pool is added here (and must not also be listed here)." }),
  int("pool.reserve_size", { default: 0, min: 0, max: 10000, reloadable: true, doc: "Connections a pool may open beyond its size once a client has waited pool.reserve_timeout_ms in it (PgBouncer's reserve_pool_size); still within nodes.max_connections. A connection beyond the size closes when it is given back and nobody waits. 0 = no reserve." }),
  int("pool.reserve_timeout_ms", { default: 5000, min: 0, max: MAX_MS, reloadable: true, doc: "How long the first client in a full pool waits before the pool opens a reserve connection for it (PgBouncer's reserve_pool_timeout); 0 disables the reserve, as in PgBouncer." }),
  int("pool.min_idle", { default: 0, min: 0, max: 10000, reloadable: true, doc: "Idle server connections kept open per pool; at most pool.size." }),
  int("pool.idle_timeout_ms", { default: 600_000, min: 0, max: MAX_MS, reloadable: true, doc: "Close server connections idle this long (above min_idle); 0 never closes them." }),
  int("pool.max_lifetime_ms", { default: 3_600_000, min: 0, max: MAX_MS, reloadable: true, doc: "Close server connections this old once they are idle; 0 means no limit." }),
  int("pool.acquire_timeout_ms", { default: 30000, min: 1, max: MAX_MS, reloadable: true, doc: "How long a client waits for a server connection before getting an error." }),
  int("pool.query_timeout_ms", { default: 0, min: 0, max: MAX_MS, reloadable: true, doc: "A query running longer is cancelled and the client gets 57014; a server that does not answer the cancel within as long again is dropped (08006). 0 = off." }),
  int("pool.prepared_statements_cache_size", { default: 500, min: 1, max: 100_000, reloadable: true, doc: "Named prepared statements kept per server connection (least recently used are closed)." }),

  // auth
  oneOf("auth.mode", ["passthrough", "auth_query", "userlist"], { default: "passthrough", reloadable: false, doc: "passthrough: the primary authenticates; auth_query: PgGate looks up verifiers with auth_user; userlist: users from a file." }),
  str("auth.auth_user", { default: "", nonEmpty: false, reloadable: true, doc: "Role PgGate uses to run auth_query: required for auth_query mode; in passthrough it lets SCRAM/MD5 users reach replicas (PgGate reuses what the primary accepted)." }),
  str("auth.auth_password", { default: "", nonEmpty: false, reloadable: true, secret: true, doc: "Password of auth_user; env PGGATE_AUTH_PASSWORD overrides it." }),
  str("auth.auth_query", { default: "SELECT usename, CASE WHEN valuntil IS NULL OR valuntil >= now() THEN passwd END FROM pg_shadow WHERE usename = $1", nonEmpty: true, reloadable: true, doc: "Query returning (user, verifier) for $1: no row, or a NULL verifier, refuses the login (the default does so for a role past its VALID UNTIL)." }),
  str("auth.auth_database", { default: "", nonEmpty: false, reloadable: true, doc: "Database auth_query runs in; empty = the client's own database (as PgBouncer's auth_dbname)." }),
  int("auth.max_concurrent_lookups", { default: 4, min: 1, max: 1000, reloadable: true, doc: "auth_query lookups running at once (each on a kept lookup connection); further ones wait." }),
  int("auth.max_queued_lookups", { default: 1000, min: 0, max: 1_000_000, reloadable: true, doc: "auth_query lookups waiting behind the running ones; past it a login is refused with 53300 instead of waiting (lookups of clients that left are dropped first)." }),
  file("auth.hba", { reloadable: true, doc: "pg_hba.conf-style client access rules PgGate applies to every client in every mode (local lines for Unix-socket clients, host/hostssl/hostnossl for TCP ones; trust, reject, scram-sha-256, md5, password). Empty = no rules of its own. Relative to the config file." }),
  int("auth.cache_ttl_ms", { default: 10000, min: 0, max: MAX_MS, reloadable: true, doc: "How long a fetched verifier is reused: the old password keeps working this long after ALTER ROLE … PASSWORD (VALID UNTIL passing, DROP ROLE); a failed login drops the entry. 0 fetches on every login." }),
  int("auth.max_scram_iterations", { default: DEFAULT_MAX_SCRAM_ITERATIONS, min: 4096, max: 2_147_483_647, reloadable: true, doc: "Most SCRAM iterations PgGate computes (PBKDF2, off the event loop): a stored verifier above it cannot log in (logged as a warning), a node asking for more is refused. PostgreSQL's default is 4096." }),
  file("auth.userlist", { reloadable: true, doc: "File of `\"user\" \"password-or-verifier\"` lines; required for userlist mode. Relative to the config file." }),

  // routing
  bool("routing.read_write_split", { default: true, reloadable: true, doc: "Send read-only statements to replicas; false sends everything to the primary." }),
  oneOf("routing.read_your_writes", ["off", "session", "user", "global"], {
    default: "session",
    booleans: { true: "session", false: "off" },
    reloadable: true,
    doc: "Reads see earlier writes: the client's own (session; true), its user's on this PgGate process (user), or every write committed anywhere before the read, across processes and instances — each read asks the primary its WAL position (global); off (false) disables it.",
  }),
  oneOf("routing.default_route", ["auto", "primary", "replica"], { default: "auto", reloadable: true, doc: "Session default before any override: auto (classify each statement), primary, or replica." }),
  oneOf("routing.no_replica", ["primary", "error"], { default: "primary", reloadable: true, doc: "When no replica can serve a read: send it to the primary, or fail it with an error." }),
  strings("routing.write_functions", { default: [], lowercase: true, reloadable: true, doc: "Functions that write: statements calling them go to the primary." }),
  strings("routing.read_functions", { default: [], lowercase: true, reloadable: true, doc: "Volatile functions known not to write: calling them does not force the primary." }),
  int("routing.ryw_max_wait_ms", { default: 50, min: 0, max: 60000, reloadable: true, doc: "How long a read waits for a replica to replay the client's last write before using the primary." }),
  int("routing.max_replica_lag_ms", { default: 10000, min: 0, max: MAX_MS, reloadable: true, doc: "Replicas lagging more than this get no reads; 0 means no limit." }),
  int("routing.max_replica_lag_bytes", { default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, reloadable: true, doc: "Replicas behind by more WAL bytes than this get no reads; 0 means no limit." }),
  int("routing.primary_read_weight", { default: 0, min: 0, max: 1000, reloadable: true, doc: "The primary's share of reads against the replicas' weights: 0 sends reads to replicas only (the primary when none can serve); 1 with two replicas of weight 1 spreads reads over all three nodes, as Pgpool-II's load balancing does." }),

  // health checks
  int("health.interval_ms", { default: 1000, min: 10, max: MAX_MS, reloadable: true, doc: "How often every node is checked (role, replay position, lag) on a dedicated connection." }),
  int("health.timeout_ms", { default: 2000, min: 1, max: MAX_MS, reloadable: true, doc: "A check that takes longer fails." }),
  int("health.failure_threshold", { default: 2, min: 1, max: 1000, reloadable: true, doc: "Consecutive failed checks before a node is marked down." }),
  int("health.success_threshold", { default: 2, min: 1, max: 1000, reloadable: true, doc: "Consecutive good checks before a down node returns (a flapping replica also waits out its backoff; a primary never does)." }),
  str("health.user", { default: "", nonEmpty: false, reloadable: true, doc: "Role for health checks and replay polls; empty means auth.auth_user. With neither, checks only see that a node answers a startup (role, lag and replay positions unknown); a client's role is never used." }),
  str("health.password", { default: "", nonEmpty: false, reloadable: true, secret: true, doc: "Password of health.user (empty: auth.auth_password when health.user is the auth user)." }),
  int("health.primary_wait_ms", { default: 10000, min: 0, max: MAX_MS, reloadable: true, doc: "While no primary is reachable (failover in progress), new writes wait this long for one before failing with 57P03." }),
  int("retry.connect_attempts", { default: 3, min: 1, max: 100, reloadable: true, doc: "Attempts to open a server connection before giving up (with backoff and jitter)." }),
  int("retry.backoff_ms", { default: 100, min: 0, max: MAX_MS, reloadable: true, doc: "Delay before the second connect attempt; doubles each attempt, ±50 % jitter." }),
  str("health.database", { default: "postgres", nonEmpty: true, reloadable: true, doc: "Database health checks connect to." }),

  // admin, log, process
  strings("admin.users", { default: ["postgres"], lowercase: false, reloadable: true, doc: "Users allowed into the admin console (database pggate)." }),
  strings("admin.stats_users", { default: [], lowercase: false, reloadable: true, doc: "Users allowed into the admin console read-only, as PgBouncer's stats_users: every SHOW; any other command gets ERROR 42501 \"admin access needed\". They authenticate like any user, never with admin.password." }),
  str("admin.password", { default: "", nonEmpty: false, reloadable: true, secret: true, doc: "If set, admin users log in to the console with this password (SCRAM), checked by PgGate, in every auth mode; empty = they authenticate like any user. Env PGGATE_ADMIN_PASSWORD overrides it." }),
  int("limits.max_buffered_bytes", { default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, reloadable: true, doc: "Bytes PgGate holds for all clients together: incoming messages (partial messages, queued batches) and kept prepared statements. When reached, reading from clients pauses until it drains, and a new prepared statement fails with 53200. 0 = a quarter of the machine's RAM." }),
  int("limits.max_prepared_statements", { default: 10000, min: 0, max: 10_000_000, reloadable: true, doc: "Named prepared statements one client may keep; a Parse past it fails with 54000 until the client closes some. 0 = no limit (limits.max_buffered_bytes still applies)." }),
  int("limits.max_prepared_statement_bytes", { default: 67_108_864, min: 0, max: Number.MAX_SAFE_INTEGER, reloadable: true, doc: "Bytes one client's named prepared statements may keep together (their text twice when under 1 MiB, once above, plus 200 bytes each); a Parse past it fails with 54000. 0 = no limit (limits.max_buffered_bytes still applies)." }),
  oneOf("log.level", ["debug", "info", "warn", "error"], { default: "info", reloadable: true, doc: "Least severe level logged." }),
  oneOf("log.format", ["logfmt", "json"], { default: "logfmt", reloadable: true, doc: "One line per event, as logfmt or JSON." }),
  int("workers", { default: 1, min: 1, max: 64, reloadable: false, doc: "Worker processes sharing listen.port (SO_REUSEPORT) under a small supervisor, which serves metrics.port for the whole group. Connection counts (pool sizes, nodes.max_connections, listen.max_client_connections, ...) stay the group's: each worker enforces its share." }),
  int("shutdown_timeout_ms", { default: 30000, min: 0, max: MAX_MS, reloadable: true, doc: "On SIGTERM/SIGINT, how long running transactions may finish before connections are closed." }),
] as const;

export type SchemaKey = (typeof SCHEMA)[number];
export type ConfigPath = SchemaKey["path"];

/** Names the admin console answers (src/session checks the same two); no `databases:` entry may take them. */
export const RESERVED_DATABASE_NAMES: readonly string[] = ["pggate", "pgbouncer"];

/**
 * The routing keys a `databases:` entry may set for itself; their bounds and values are the
 * top-level keys'. The others (write_functions, read_functions) are process-wide.
 */
export const DATABASE_ROUTING_KEYS = [
  "routing.read_write_split",
  "routing.read_your_writes",
  "routing.default_route",
  "routing.no_replica",
  "routing.ryw_max_wait_ms",
  "routing.max_replica_lag_ms",
  "routing.max_replica_lag_bytes",
  "routing.primary_read_weight",
] as const satisfies readonly ConfigPath[];

/** Fields of a `databases:` entry, for the reference. */
export const DATABASE_FIELDS = [
  { name: "dbname", type: "string", default: '"" (the name the client sent)', doc: "The database's real name on its cluster." },
  {
    name: "nodes",
    type: "{ primary, replicas }",
    default: "the top-level nodes",
    doc: "Its own cluster: primary (required) and replicas, with the node fields above. An entry naming the same primary as another (or as the top-level nodes) must list the same replicas; a node belongs to one cluster. The other nodes.* keys (timeouts, TLS, require_auth, max_connections) are process-wide.",
  },
  {
    name: "pool",
    type: "{ size, mode }",
    default: "its pool.databases entry, else pool.size / pool.mode",
    doc: "Pool settings for this database, as a pool.databases entry (which must then not also name it); pool.users still wins.",
  },
  {
    name: "routing",
    type: "mapping",
    default: "the top-level routing",
    doc: "Any of read_write_split, read_your_writes, default_route, no_replica, ryw_max_wait_ms, max_replica_lag_ms, max_replica_lag_bytes, with the top-level keys' values and bounds, over the top-level ones. write_functions and read_functions are process-wide.",
  },
] as const;

/** The validated value type of a key kind. */
export type ValueOf<K> = K extends { kind: "int" }
  ? number
  : K extends { kind: "bool" }
    ? boolean
    : K extends EnumKey<string, infer V>
      ? V
      : K extends { kind: "string" | "path" | "file-mode" }
        ? string
        : K extends StringListKey<string, infer V>
          ? readonly V[]
          : K extends { kind: "node" }
            ? NodeConfig
            : K extends { kind: "node-list" }
              ? readonly NodeConfig[]
              : K extends { kind: "pool-overrides" }
                ? readonly PoolOverride[]
                : K extends { kind: "databases" }
                  ? readonly DatabaseConfig[]
                  : never;
export type ValueAt<P extends ConfigPath> = ValueOf<Extract<SchemaKey, { path: P }>>;

const BY_PATH: ReadonlyMap<string, SchemaKey> = new Map(SCHEMA.map((k) => [k.path, k]));

export function findKey(path: string): SchemaKey | undefined {
  return BY_PATH.get(path);
}

export function isConfigPath(path: string): path is ConfigPath {
  return BY_PATH.has(path);
}

/** Every section (mapping) path that holds keys: "listen", "listen.tls", "nodes", ... */
export const SECTIONS: ReadonlySet<string> = new Set(
  SCHEMA.flatMap((k) => {
    const parts = k.path.split(".");
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
  }),
);

/** Names directly under a section ("" = top level), keys and subsections, in table order. */
export function childNames(section: string): string[] {
  const prefix = section === "" ? "" : `${section}.`;
  const names: string[] = [];
  for (const k of SCHEMA) {
    if (!k.path.startsWith(prefix)) continue;
    const name = k.path.slice(prefix.length).split(".")[0];
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** `max_client_connections` -> `maxClientConnections`. */
export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The Config field path of a YAML path: `listen.tls.mode` -> ["listen", "tls", "mode"]. */
export function fieldPath(path: string): string[] {
  return path.split(".").map(snakeToCamel);
}

/** Reads a key's value out of a snapshot, e.g. for SHOW CONFIG or diffing. */
export function valueAt<P extends ConfigPath>(config: Config, path: P): ValueAt<P>;
export function valueAt(config: Config, path: string): unknown;
export function valueAt(config: Config, path: string): unknown {
  let cur: unknown = config;
  for (const field of fieldPath(path)) {
    if (typeof cur !== "object" || cur === null || !(field in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[field];
  }
  return cur;
}

/** Short type description for messages and the reference, e.g. `int 1..10000`. */
export function describeType(k: KeyDef): string {
  switch (k.kind) {
    case "int":
      return `int ${k.min}..${k.max}`;
    case "bool":
      return "bool";
    case "string":
      return "string";
    case "enum":
      return k.booleans ? `${k.values.join(" | ")} (or true / false)` : k.values.join(" | ");
    case "path":
      return "file path";
    case "file-mode":
      return 'octal mode string, e.g. "0770"';
    case "string-list":
      return k.values ? `list of ${k.values.join(" | ")}` : "list of strings";
    case "node":
      return "node { host, port }";
    case "node-list":
      return "list of nodes { host, port, weight }";
    case "pool-overrides":
      return "mapping name → { size, mode }";
    case "databases":
      return "mapping name → { dbname, nodes, pool, routing }";
  }
}
