// Process-wide state a client session needs: the current config snapshot, the node targets, the
// verifier sources, and the registry of issued BackendKeyData for CancelRequest. No sockets here.
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config/types.ts";
import type { PgError } from "../errors/index.ts";
import type { AuthQuery } from "../server/auth-query.ts";
import { PairCache } from "../auth/pair-cache.ts";
import { MemoryBudget } from "../net/memory-budget.ts";

/** A server's pg_hba method rarely changes: remembered a day (and until a reload). */
const LEARNT_METHOD_TTL_MS = 24 * 3600_000;
import type { HbaRule } from "../auth/hba.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import type { Verifier } from "../auth/verifier.ts";
import { setServerKeepalive, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";
import { ReplicaBalancer } from "../pool/balancer.ts";
import { PoolManager, type ServerPool } from "../pool/pools.ts";
import { LoginGate } from "../pool/login-gate.ts";
import { createRouter, type Router } from "../router/index.ts";
import { Catalog } from "./catalog.ts";
import { Stats } from "../metrics/stats.ts";
import { HealthMonitor } from "../health/monitor.ts";
import { log } from "../log/index.ts";
import { PauseState } from "./pause.ts";
import { SharedFloors } from "./shared-floors.ts";
import { AcceptedTexts } from "./accepted-texts.ts";

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
}

export class GatewayContext {
  readonly clients = new Set<ClientHandle>();
  /** Opens the admin console (set by the Gateway, which sits above src/admin). */
  openAdmin: AdminOpener | null = null;
  config: Config;
  authQuery: AuthQuery | null = null;
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
    const { auth, nodes } = this.config;
    if (auth.mode !== "passthrough" || auth.authUser !== "" || nodes.replicas.length === 0) return null;
    return "auth.mode passthrough without auth.auth_user: reads of SCRAM and MD5 users stay on the primary (set auth.auth_user so PgGate can reuse what the primary accepted)";
  }

  /**
   * How the primary authenticates each (database, user) — the AuthCode of its first request — as
   * learnt by the first login of the pair, so later clients are challenged in a way whose
   * credentials the server accepts. Bounded (names come from clients).
   */
  readonly authMethods = new PairCache<number>(10_000, () => LEARNT_METHOD_TTL_MS);
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
  /** What PgGate may use to open server connections per user (learnt at login, latest wins). */
  readonly credentials = new Map<string, ServerCredentials>();
  shuttingDown = false;
  private readonly keys = new Map<number, Cancellable>();

  readonly pools: PoolManager;
  /** Bounds server connections held for clients that have not authenticated yet, per node. */
  readonly loginGate = new LoginGate<NodeTarget>(() => this.config.listen.maxPendingLogins);
  readonly balancer = new ReplicaBalancer();
  readonly catalog = new Catalog();
  /** read_your_writes user / global: floors shared between clients. */
  readonly sharedFloors = new SharedFloors();
  /** Statement texts servers accepted, per (user, database, startup parameters). */
  readonly acceptedTexts = new AcceptedTexts();
  readonly stats = new Stats();
  readonly health: HealthMonitor;
  /** PAUSE: databases (or all) whose new transactions wait. */
  readonly paused = new PauseState();
  router: Router;
  private primaryTarget: NodeTarget;

  constructor(config: Config) {
    this.config = config;
    this.memory = new MemoryBudget(config.limits.maxBufferedBytes);
    this.primaryTarget = { name: "primary", host: config.nodes.primary.host, port: config.nodes.primary.port };
    this.pools = new PoolManager(this);
    this.health = new HealthMonitor(this);
    this.health.onChange = (h, what) => {
      // Health checks are the authority on recovery: a replica they bring back is usable at once,
      // whatever backoff its earlier connect failures earned it.
      if (what === "up") this.balancer.unban(h.target);
      if (what === "down") {
        // A node that stopped answering (health checks time out) leaves nobody waiting on it.
        for (const c of [...this.clients]) c.nodeDown(h.target);
        this.pools.drainNode(h.target);
      }
      this.electPrimary();
    };
    this.router = this.buildRouter();
    this.applyConfig(config);
  }

  /** Installs a new config snapshot: node list, routing function lists. */
  applyConfig(config: Config): void {
    const old = this.config;
    this.config = config;
    const p = config.nodes.primary;
    if (p.host !== this.primaryTarget.host || p.port !== this.primaryTarget.port) {
      this.primaryTarget = { name: "primary", host: p.host, port: p.port };
    }
    this.balancer.setNodes(config.nodes.replicas);
    setServerKeepalive(config.nodes.tcpKeepalive, config.nodes.tcpKeepaliveIdleMs);
    this.memory.setLimit(config.limits.maxBufferedBytes);
    const tls = config.listen.tls;
    this.listenTls = tls.mode === "disable" ? null : { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") };
    if (old !== config) {
      this.router = this.buildRouter();
      this.catalog.clear();
    }
  }

  private buildRouter(): Router {
    const writeFunctions = new Set(this.config.routing.writeFunctions);
    const readFunctions = new Set(this.config.routing.readFunctions);
    return createRouter({ writeFunctions, readFunctions, catalog: this.catalog });
  }

  /** The node writes go to: the configured primary, or the node that took over after a failover. */
  get primary(): NodeTarget {
    return this.elected ?? this.primaryTarget;
  }

  /** Set when health checks found the configured primary gone and another node acting as primary. */
  private elected: NodeTarget | null = null;

  /**
   * Follows a failover: when the configured primary is down (or in recovery) and another node
   * reports itself primary (not in recovery), writes go there, without a restart. A node in
   * recovery never becomes the write target. Called on every health change.
   */
  electPrimary(): void {
    if (this.elected) {
      const h = this.health.get(this.elected);
      if (h && h.up && h.role === "primary") return;
      log.warn("primary_lost", { node: this.elected.name, host: this.elected.host, port: this.elected.port });
      this.elected = null;
    }
    const configured = this.health.get(this.primaryTarget);
    if (!configured || (configured.up && configured.role !== "replica")) return;
    const candidate = this.health.all().find((h) => h.up && h.role === "primary" && h.target !== this.primaryTarget);
    if (candidate) {
      this.elected = candidate.target;
      log.warn("primary_failover", { from: `${this.primaryTarget.host}:${this.primaryTarget.port}`, to: `${candidate.target.host}:${candidate.target.port}`, node: candidate.target.name });
    }
  }

  /** Whether `t` is still part of the configuration (removed replicas drain). */
  isCurrentNode(t: NodeTarget): boolean {
    return t === this.primaryTarget || t === this.elected || this.balancer.targets.includes(t);
  }

  isPaused(database: string): boolean {
    return this.paused.isPaused(database);
  }

  /** Whether reads of (user, database) can go to some replica right now. */
  replicaAvailable(user: string, database: string): boolean {
    return this.balancer.any(this.usable, user, database);
  }

  /** A usable replica; with `floor`, only one known to have replayed WAL up to it. */
  pickReplica(user: string, database: string, floor: bigint | null = null): NodeTarget | null {
    if (floor === null) return this.balancer.pick(this.usable, user, database);
    return this.balancer.pick((t, u: string, d: string) => this.replicaUsable(t, u, d) && (this.health.get(t)?.lsn ?? -1n) >= floor, user, database);
  }

  private readonly usable = (t: NodeTarget, user: string, database: string): boolean => this.replicaUsable(t, user, database);

  /** Whether every replica has replayed `floor`: then a client's floor no longer matters. */
  allReplicasPast(floor: bigint): boolean {
    return this.balancer.targets.every((t) => (this.health.get(t)?.lsn ?? -1n) >= floor);
  }

  /** Up per health checks, within the lag limits, and reachable with this user's credentials. */
  private replicaUsable(t: NodeTarget, user: string, database: string): boolean {
    const h = this.health.get(t);
    if (h) {
      if (!h.up || h.role === "primary") return false;
      const r = this.config.routing;
      if (r.maxReplicaLagMs > 0 && h.lagSeconds !== null && h.lagSeconds * 1000 > r.maxReplicaLagMs) return false;
      if (r.maxReplicaLagBytes > 0 && h.lagBytes !== null && h.lagBytes > r.maxReplicaLagBytes) return false;
    }
    // Credentials first: a map lookup, where building the pool key would allocate per query.
    return this.credentials.has(user) || this.pools.reachable(this.pools.pool(t, user, database));
  }

  learnCatalog(functions: readonly string[], relations: readonly string[], user: string, database: string): void {
    this.catalog.learn(functions, relations, this.pools, this.primary, user, database);
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
      this.forwardCancel(owner, packet);
      return;
    }
    this.findByKey(processId, secretKey)?.cancelRunningQuery();
  }

  /** A CancelRequest matches only when both halves of the key match (PostgreSQL does the same). */
  findByKey(processId: number, secretKey: number): Cancellable | undefined {
    const c = this.keys.get(processId);
    return c && c.secretKey === secretKey ? c : undefined;
  }
}
