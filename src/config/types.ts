// The validated, frozen configuration snapshot every module reads. Only src/config builds it;
// everything else treats it as immutable (a reload swaps the whole snapshot).

export type ListenTlsMode = "disable" | "allow" | "require";
/** Like libpq's sslmode, for PgGate's own connections to the nodes. */
export type ServerTlsMode = "disable" | "prefer" | "require" | "verify-full";
export type PoolMode = "transaction" | "session";
export type AuthMode = "passthrough" | "auth_query" | "userlist";
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "logfmt" | "json";
export type RouteDefault = "auto" | "primary" | "replica";
/** How a node authenticated PgGate, as libpq's require_auth names it; "none" = no exchange at all. */
export type ServerAuthMethod = "password" | "md5" | "scram-sha-256" | "none";

/** pool.users / pool.databases entry: settings for one user's or one database's pools (null = inherit). */
export interface PoolOverride {
  readonly name: string;
  readonly size: number | null;
  readonly mode: PoolMode | null;
}

export interface NodeConfig {
  readonly host: string;
  readonly port: number;
  /** Replica balancing weight; the primary ignores it. */
  readonly weight: number;
}

/** One cluster's nodes: a primary and its streaming replicas. */
export interface ClusterNodes {
  readonly primary: NodeConfig;
  readonly replicas: readonly NodeConfig[];
}

/** The routing keys a `databases:` entry may set for itself (the rest of routing is process-wide). */
export interface RoutingConfig {
  readonly readWriteSplit: boolean;
  /** Whose writes a read must see: none, its own (session), its user's, or everyone's. */
  readonly readYourWrites: "off" | "session" | "user" | "global";
  readonly defaultRoute: RouteDefault;
  readonly noReplica: "primary" | "error";
  readonly rywMaxWaitMs: number;
  readonly maxReplicaLagMs: number;
  readonly maxReplicaLagBytes: number;
  /** The primary's read weight next to the replicas' (0: reads go to replicas). */
  readonly primaryReadWeight: number;
}

/** A `databases:` entry (PgBouncer's [databases]): a client-visible name on a cluster. */
export interface DatabaseConfig {
  /** The name clients connect to, exactly as they send it; "*" = any name not listed. */
  readonly name: string;
  /** The database's real name on the cluster; "" = the name the client sent. */
  readonly dbname: string;
  /** Its cluster; null = the top-level `nodes:`. */
  readonly nodes: ClusterNodes | null;
  /** The top-level routing settings with this entry's own keys over them. */
  readonly routing: RoutingConfig;
}

export interface Config {
  /** Absolute path of the file this snapshot came from ("" when built in memory). */
  readonly source: string;
  readonly listen: {
    readonly host: string;
    readonly port: number;
    readonly maxClientConnections: number;
    readonly handshakeTimeoutMs: number;
    readonly clientIdleTimeoutMs: number;
    readonly idleInTransactionTimeoutMs: number;
    readonly maxMessageSize: number;
    readonly maxPendingLogins: number;
    readonly maxPendingLoginsPerSource: number;
    readonly authStepTimeoutMs: number;
    /** Directory of the Unix socket `.s.PGSQL.<port>`; "" = no Unix socket. */
    readonly unixSocketDir: string;
    /** Octal string, e.g. "0777". */
    readonly unixSocketMode: string;
    /** Group name or numeric id for the socket file; "" = leave it. */
    readonly unixSocketGroup: string;
    readonly tls: { readonly mode: ListenTlsMode; readonly cert: string; readonly key: string };
  };
  readonly metrics: { readonly enabled: boolean; readonly host: string; readonly port: number; readonly readyMaxWaiting: number };
  /**
   * `databases:` entries in file order; [] when there is no such section (then every name is
   * served by the top-level nodes, as if there were one `"*"` entry).
   */
  readonly databases: readonly DatabaseConfig[];
  readonly nodes: {
    /** Null only when `databases:` is given and every entry names its own nodes. */
    readonly primary: NodeConfig | null;
    readonly replicas: readonly NodeConfig[];
    readonly connectTimeoutMs: number;
    readonly tcpKeepalive: boolean;
    readonly tcpKeepaliveIdleMs: number;
    readonly maxConnections: number;
    readonly requireAuth: readonly ServerAuthMethod[];
    readonly tls: { readonly mode: ServerTlsMode; readonly ca: string; readonly serverName: string };
  };
  readonly pool: {
    readonly mode: PoolMode;
    readonly size: number;
    readonly minIdle: number;
    /** Connections beyond size once a client waited reserveTimeoutMs (PgBouncer's reserve_pool_size). */
    readonly reserveSize: number;
    /** 0 disables the reserve. */
    readonly reserveTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxLifetimeMs: number;
    readonly acquireTimeoutMs: number;
    readonly queryTimeoutMs: number;
    readonly preparedStatementsCacheSize: number;
    readonly users: readonly PoolOverride[];
    readonly databases: readonly PoolOverride[];
  };
  readonly auth: {
    readonly mode: AuthMode;
    readonly authUser: string;
    readonly authPassword: string;
    readonly authQuery: string;
    readonly authDatabase: string;
    readonly cacheTtlMs: number;
    readonly maxScramIterations: number;
    readonly userlist: string;
    readonly maxConcurrentLookups: number;
    /** Lookups waiting behind the running ones; past it a login is refused (53300). */
    readonly maxQueuedLookups: number;
    /** pg_hba-style rules file ("" = none). */
    readonly hba: string;
  };
  readonly routing: RoutingConfig & {
    readonly writeFunctions: readonly string[];
    readonly readFunctions: readonly string[];
  };
  readonly health: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly failureThreshold: number;
    readonly successThreshold: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
    readonly primaryWaitMs: number;
  };
  readonly retry: { readonly connectAttempts: number; readonly backoffMs: number };
  readonly admin: {
    readonly users: readonly string[];
    /** Read-only console users (SHOW only), as PgBouncer's stats_users. */
    readonly statsUsers: readonly string[];
    readonly password: string;
  };
  readonly limits: { readonly maxBufferedBytes: number; readonly maxPreparedStatements: number; readonly maxPreparedStatementBytes: number };
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly shutdownTimeoutMs: number;
  readonly workers: number;
}
