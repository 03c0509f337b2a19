// Process-wide state a client session needs: the current config snapshot, the node targets, the
// verifier sources, and the registry of issued BackendKeyData for CancelRequest. No sockets here.
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config/types.ts";
import { workerShare } from "../config/worker-share.ts";
import { fatal, SqlState, type PgError } from "../errors/index.ts";
import { AuthQuery } from "../server/auth-query.ts";
import type { Cluster } from "./cluster.ts";
import { MemoryBudget } from "../net/memory-budget.ts";

/** A server's pg_hba method rarely changes: remembered a day (and until a reload). */
import type { HbaRule } from "../auth/hba.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import type { Verifier } from "../auth/verifier.ts";
import { setServerKeepalive, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";
import { PoolManager, type ServerPool } from "../pool/pools.ts";
import { LoginGate } from "../pool/login-gate.ts";
import { createRouter, type Router } from "../router/index.ts";
import { Catalog } from "./catalog.ts";
import { Stats } from "../metrics/stats.ts";
import { HealthMonitor } from "../health/monitor.ts";
import { log } from "../log/index.ts";
import { PauseState } from "./pause.ts";
import { Databases, type DatabaseEntry } from "./databases.ts";
import { AcceptedTexts } from "./accepted-texts.ts";
import { ListenHubs } from "./listen-hub.ts";

/** Process-level actions the admin console may take (implemented by the Gateway). */
export interface GatewayControl {
  /** Re-reads the config file; returns null on success or why it was rejected. */
  reload(): string | null;
  /** Starts a graceful shutdown (after the reply is sent). */
  shutdown(waitForClients: boolean): void;
  /** Sets a reloadable key over the file (admin SET); null on success or why it was rejected. */
  set(key: string, value: string): string | null;
}

/** An admin console session as the client session drives it (implemented in src/admin). */
export interface AdminSession {
  onFrame(type: number, buf: Uint8Array, start: number, end: number): void;
  dispose(): void;
}

/** Opens the admin console for a logged-in admin user; wired by the Gateway. */
export type AdminOpener = (send: (b: Uint8Array) => void, close: () => void, user: string) => AdminSession;

/** What the cancel path needs from a session, kept narrow to avoid an import cycle. */
export interface Cancellable {
  readonly processId: number;
  readonly secretKey: number;
  /** Forwards a cancel to the server running this client's query, if one is running. */
  cancelRunningQuery(): void;
}

/** What shutdown, metrics and the admin console need from a session. */
export interface ClientHandle {
  readonly id: number;
  readonly state: string;
  readonly user: string;
  readonly database: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  readonly applicationName: string;
  readonly tls: boolean;
  readonly connectedAt: number;
  readonly waitStartedAt: number;
  readonly pinReason: string | null;
  readonly lastRoute: string | null;
  readonly lastReason: string;
  readonly queries: number;
  readonly txStatus: number;
  readonly lastActivityAt: number;
  readonly idleInTransaction: boolean;
  /** The server connection it holds, for SHOW CLIENTS / SERVERS. */
  readonly serverId: number | null;
  fail(e: PgError): void;
  /** Re-examines queued work (after RESUME). */
  wake(): void;
  /** pool.query_timeout_ms: cancels a query running too long, drops a server ignoring the cancel. */
  checkQueryTimeout(now: number, timeoutMs: number): void;
  /** `node` was marked down: work in flight on it is replayed elsewhere or failed, its connection dropped. */
  nodeDown(node: NodeTarget): void;
  /** The `databases:` entry serving it (null before login and for the admin console). */
  readonly db: DatabaseEntry | null;
  /** A reload replaced its entry by an equivalent one (same cluster, same real database). */
  rebind(db: DatabaseEntry): void;
}

const NO_CREDENTIALS: ReadonlyMap<string, ServerCredentials> = new Map();

export class GatewayContext {
  readonly clients = new Set<ClientHandle>();
  /** Opens the admin console (set by the Gateway, which sits above src/admin). */
  openAdmin: AdminOpener | null = null;
  /**
   * What this process enforces: the file's snapshot, or with several workers this worker's share
   * of its connection counts (config/worker-share.ts). `configured` is the file's snapshot itself.
   */
  config: Config;
  configured: Config;
  /**
   * Verifier lookups are on (auth_query mode, or passthrough with an auth_user). One AuthQuery
   * per cluster: a role's secret on one cluster says nothing about a role of that name on another.
   */
  lookupsEnabled = false;
  private readonly lookups = new Map<Cluster, AuthQuery>();

  authQueryFor(cluster: Cluster): AuthQuery | null {
    if (!this.lookupsEnabled) return null;
    let q = this.lookups.get(cluster);
    if (!q) this.lookups.set(cluster, (q = new AuthQuery(() => this.config, () => cluster.primary)));
    return q;
  }

  /** Forgets cached verifiers and closes kept lookup connections (reload, shutdown). */
  clearLookups(): void {
    for (const q of this.lookups.values()) q.clear();
    this.lookups.clear();
  }
  userlist: Map<string, Verifier> | null = null;
  /**
   * Why replicas may be unreachable for most users whatever their health: passthrough without an
   * auth_user can only reuse what a client typed in cleartext. Null when nothing stands in the way.
   */
  /** Clients holding a connection of each pool (SHOW POOLS cl_active, per-pool metrics). Off the hot path. */
  activeClientsByPool(): Map<ServerPool, number> {
    const poolOf = new Map<number, ServerPool>();
    for (const p of this.pools.pools.values()) for (const conn of p.members) poolOf.set(conn.id, p);
    const active = new Map<ServerPool, number>();
    for (const c of this.clients) {
      const p = c.serverId === null ? undefined : poolOf.get(c.serverId);
      if (p) active.set(p, (active.get(p) ?? 0) + 1);
    }
    return active;
  }

  get replicaCaveat(): string | null {
    const { auth } = this.config;
    if (auth.mode !== "passthrough" || auth.authUser !== "" || ![...this.databases.allClusters()].some((c) => c.balancer.targets.length > 0)) return null;
    return "auth.mode passthrough without auth.auth_user: reads of SCRAM and MD5 users stay on the primary (set auth.auth_user so PgGate can reuse what the primary accepted)";
  }

  /** Bytes held for all clients' input together (limits.max_buffered_bytes). */
  readonly memory: MemoryBudget;
  /**
   * The listen certificate and key as read (and validated) with the config: a reload reads them
   * again, so a rotated certificate serves new connections without a restart.
   */
  listenTls: { cert: string; key: string } | null = null;
  /** Databases whose new logins are refused (admin DISABLE). Names as clients send them. */
  readonly disabled = new Set<string>();

  /** auth.hba rules, or null when no file is configured. */
  hba: readonly HbaRule[] | null = null;
  shuttingDown = false;
  private readonly keys = new Map<number, Cancellable>();

  readonly pools: PoolManager;
  /** Bounds server connections held for clients that have not authenticated yet, per node. */
  readonly loginGate = new LoginGate<NodeTarget>(() => this.config.listen.maxPendingLogins);
  /** Bounds the passthrough relays in progress per client address (listen.max_pending_logins_per_source). */
  readonly sourceGate = new LoginGate<string>(() => this.config.listen.maxPendingLoginsPerSource);
  readonly catalog = new Catalog();
  /** The clusters and which of them serves each database name. */
  readonly databases: Databases;
  /** Statement texts servers accepted, per (user, database, startup parameters). */
  readonly acceptedTexts = new AcceptedTexts();
  readonly stats = new Stats();
  readonly health: HealthMonitor;
  /** PAUSE: databases (or all) whose new transactions wait. */
  readonly paused = new PauseState();
  /** The LISTEN hubs, one listening connection per (cluster, database, user). */
  readonly listenHubs: ListenHubs = new ListenHubs(this);
  router: Router;

  constructor(config: Config) {
    this.config = config;
    this.configured = config;
    this.memory = new MemoryBudget(config.limits.maxBufferedBytes);
    this.pools = new PoolManager(this);
    this.health = new HealthMonitor(this);
    this.databases = new Databases({
      health: (t) => this.health.get(t),
      allHealth: () => this.health.all(),
      reachable: (t, user, database) => this.pools.reachable(this.pools.pool(t, user, database)),
      currentPosition: (t) => this.health.currentPosition(t),
      busy: (t, user, database) => {
        const p = this.pools.find(t, user, database);
        return p === undefined ? 0 : p.core.total - p.core.idleCount;
      },
    });
    this.health.onChange = (h, what) => {
      const cluster = this.databases.clusterOf(h.target);
      // Health checks are the authority on recovery: a replica they bring back is usable at once,
      // whatever backoff its earlier connect failures earned it.
      if (what === "up") cluster?.balancer.unban(h.target);
      if (what === "down") {
        // A node that stopped answering (health checks time out) leaves nobody waiting on it.
        for (const c of [...this.clients]) c.nodeDown(h.target);
        this.pools.drainNode(h.target);
        this.listenHubs.nodeDown(h.target);
      }
      // A node object a reload just replaced (health syncs on its next round) finds no cluster: ask them all.
      if (cluster) cluster.electPrimary();
      else for (const c of this.databases.allClusters()) c.electPrimary();
      this.listenHubs.followPrimaries();
    };
    this.router = this.buildRouter();
    this.applyConfig(config);
  }

  /** Installs a new config snapshot: node list, routing function lists. */
  applyConfig(configured: Config): void {
    const old = this.configured;
    const config = workerShare(configured, this.worker.index, this.worker.count);
    this.configured = configured;
    this.config = config;
    this.applyDatabases(config);
    setServerKeepalive(config.nodes.tcpKeepalive, config.nodes.tcpKeepaliveIdleMs);
    this.memory.setLimit(config.limits.maxBufferedBytes);
    const tls = config.listen.tls;
    this.listenTls = tls.mode === "disable" ? null : { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") };
    if (old !== configured) {
      this.router = this.buildRouter();
      this.catalog.clear();
    }
  }

  private buildRouter(): Router {
    const writeFunctions = new Set(this.config.routing.writeFunctions);
    const readFunctions = new Set(this.config.routing.readFunctions);
    return createRouter({ writeFunctions, readFunctions, catalog: this.catalog });
  }

  /**
   * Installs the databases of `config`. Clients whose database now goes to another cluster or
   * real database, or nowhere, are closed (they must not carry on somewhere they did not ask
   * for); clients of a database whose cluster and real database stay are not touched, and pools
   * of a name that now opens another database retire.
   */
  private applyDatabases(config: Config): void {
    const { removedEntries, removedClusters } = this.databases.apply(config);
    for (const c of removedClusters) log.info("cluster_removed", { cluster: c.label, primary: `${c.configuredPrimary.host}:${c.configuredPrimary.port}` });
    if (removedEntries.length > 0) {
      for (const c of [...this.clients]) {
        const was = c.db;
        if (!was || !was.removed) continue;
        const now = this.databases.resolve(c.database);
        if (now && now.cluster === was.cluster && now.serverDatabase(c.database) === was.serverDatabase(c.database)) c.rebind(now);
        else c.fail(fatal(SqlState.AdminShutdown, `terminating connection: database "${c.database}" was removed or moved to another cluster by a configuration reload`));
      }
    }
    this.pools.retireWhere((p) => {
      const e = this.databases.resolve(p.database);
      return e === null || e.cluster !== this.databases.clusterOf(p.node) || e.serverDatabase(p.database) !== p.dbname;
    });
  }

  /** The entry serving database `name` (its own or the wildcard), or null: the client is refused. */
  resolveDatabase(name: string): DatabaseEntry | null {
    return this.databases.resolve(name);
  }

  /** Whether `t` is still part of the configuration (removed nodes drain). */
  isCurrentNode(t: NodeTarget): boolean {
    return this.databases.isCurrentNode(t);
  }

  /** Whether `t` is the write target of its cluster (it gets retry.connect_attempts). */
  isPrimary(t: NodeTarget): boolean {
    const c = this.databases.clusterOf(t);
    return c !== undefined && (c.primary === t || c.configuredPrimary === t);
  }

  /** What PgGate may use to open connections to `t`'s cluster, per user. */
  heardFrom(t: NodeTarget, since: number): boolean {
    return this.pools.heardFrom(t, since);
  }

  credentialsFor(t: NodeTarget): ReadonlyMap<string, ServerCredentials> {
    return this.databases.clusterOf(t)?.credentials ?? NO_CREDENTIALS;
  }

  /** For health checks: every configured node and its configured role. */
  *configuredNodes(): Iterable<{ target: NodeTarget; role: "primary" | "replica" }> {
    for (const c of this.databases.allClusters()) {
      yield { target: c.configuredPrimary, role: "primary" };
      for (const t of c.balancer.targets) yield { target: t, role: "replica" };
    }
  }

  primaryOf(t: NodeTarget): NodeTarget | null {
    return this.databases.clusterOf(t)?.primary ?? null;
  }

  /** The database a server connection for clients of `database` opens (its entry's dbname). */
  serverDatabase(database: string): string {
    return this.databases.resolve(database)?.serverDatabase(database) ?? database;
  }

  isPaused(database: string): boolean {
    return this.paused.isPaused(database);
  }

  /** Looks up catalog facts on the primary of `database`'s cluster. */
  learnCatalog(functions: readonly string[], relations: readonly string[], user: string, database: string): void {
    const cluster = this.databases.resolve(database)?.cluster;
    if (cluster) this.catalog.learn(functions, relations, this.pools, cluster.primary, user, database);
  }

  serverTls(node: NodeTarget): ServerTlsOptions {
    const t = this.config.nodes.tls;
    return { mode: t.mode, ca: t.ca, serverName: t.serverName || node.host };
  }

  /** Issues a unique BackendKeyData for a client. */
  issueKey(): { processId: number; secretKey: number } {
    let processId: number;
    // With several workers, processId % workers names the worker that issued it, so a
    // CancelRequest landing on another worker (SO_REUSEPORT spreads connections) can be passed on.
    do processId = randomInt(1, Math.floor(0x7fffffff / this.worker.count)) * this.worker.count + this.worker.index;
    while (this.keys.has(processId) || processId <= 0);
    return { processId, secretKey: randomInt(-0x80000000, 0x7fffffff) };
  }

  registerKey(c: Cancellable): void {
    this.keys.set(c.processId, c);
  }

  releaseKey(c: Cancellable): void {
    if (this.keys.get(c.processId) === c) this.keys.delete(c.processId);
  }

  /** This process's place among the workers (0 of 1 without a supervisor). */
  worker = { index: 0, count: 1 };
  /** Delivers a CancelRequest packet to another worker (set when running under a supervisor). */
  forwardCancel: ((worker: number, packet: Uint8Array) => void) | null = null;

  /** Handles a CancelRequest: locally, or handed to the worker that issued the key. */
  cancel(processId: number, secretKey: number, packet: Uint8Array | null): void {
    const owner = processId % this.worker.count;
    if (owner !== this.worker.index && packet && this.forwardCancel) {
      this.stats.cancels.forwarded++;
      this.forwardCancel(owner, packet);
      return;
    }
    const c = this.findByKey(processId, secretKey);
    if (c) this.stats.cancels.local++;
    else this.stats.cancels.no_match++;
    c?.cancelRunningQuery();
  }

  /** A CancelRequest matches only when both halves of the key match (PostgreSQL does the same). */
  findByKey(processId: number, secretKey: number): Cancellable | undefined {
    const c = this.keys.get(processId);
    return c && c.secretKey === secretKey ? c : undefined;
  }
}
