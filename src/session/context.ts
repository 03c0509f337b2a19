// Process-wide state a client session needs: the current config snapshot, the node targets, the
// verifier sources, and the registry of issued BackendKeyData for CancelRequest. No sockets here.
import { randomInt } from "node:crypto";
import type { Config } from "../config/types.ts";
import type { PgError } from "../errors/index.ts";
import type { AuthQuery } from "../auth/auth-query.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import type { Verifier } from "../auth/verifier.ts";
import type { NodeTarget, ServerTlsOptions } from "./server-conn.ts";
import { ReplicaBalancer } from "../pool/balancer.ts";
import { PoolManager } from "../pool/pools.ts";
import { createRouter, type Router } from "../router/index.ts";
import { FunctionCatalog } from "./catalog.ts";

/** What the cancel path needs from a session, kept narrow to avoid an import cycle. */
export interface Cancellable {
  readonly processId: number;
  readonly secretKey: number;
  /** Forwards a cancel to the server running this client's query, if one is running. */
  cancelRunningQuery(): void;
}

/** What shutdown and admin need from a session. */
export interface ClientHandle {
  readonly id: number;
  readonly state: string;
  fail(e: PgError): void;
}

export class GatewayContext {
  readonly clients = new Set<ClientHandle>();
  config: Config;
  authQuery: AuthQuery | null = null;
  userlist: Map<string, Verifier> | null = null;
  clientCount = 0;
  /** What PgGate may use to open server connections per user (learnt at login, latest wins). */
  readonly credentials = new Map<string, ServerCredentials>();
  shuttingDown = false;
  private readonly keys = new Map<number, Cancellable>();

  readonly pools: PoolManager;
  readonly balancer = new ReplicaBalancer();
  readonly catalog = new FunctionCatalog();
  router: Router;
  private primaryTarget: NodeTarget;

  constructor(config: Config) {
    this.config = config;
    this.primaryTarget = { name: "primary", host: config.nodes.primary.host, port: config.nodes.primary.port };
    this.pools = new PoolManager(this);
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
    if (old !== config) {
      this.router = this.buildRouter();
      this.catalog.clear();
    }
  }

  private buildRouter(): Router {
    const writeFunctions = new Set(this.config.routing.writeFunctions);
    const readFunctions = new Set(this.config.routing.readFunctions);
    const catalog = this.catalog;
    return createRouter({ context: { writeFunctions, readFunctions, volatility: (n) => catalog.volatility(n) } });
  }

  get primary(): NodeTarget {
    return this.primaryTarget;
  }

  /** Whether reads of (user, database) can go to some replica right now. */
  replicaAvailable(user: string, database: string): boolean {
    return this.balancer.any((t) => this.pools.reachable(this.pools.pool(t, user, database)));
  }

  pickReplica(user: string, database: string): NodeTarget | null {
    return this.balancer.pick((t) => this.pools.reachable(this.pools.pool(t, user, database)));
  }

  learnVolatility(names: readonly string[], user: string, database: string): void {
    this.catalog.learn(names, this.pools, this.primary, user, database);
  }

  serverTls(node: NodeTarget): ServerTlsOptions {
    const t = this.config.nodes.tls;
    return { mode: t.mode, ca: t.ca, serverName: t.serverName || node.host };
  }

  /** Issues a unique BackendKeyData for a client. */
  issueKey(): { processId: number; secretKey: number } {
    let processId: number;
    do processId = randomInt(1, 0x7fffffff);
    while (this.keys.has(processId));
    return { processId, secretKey: randomInt(-0x80000000, 0x7fffffff) };
  }

  registerKey(c: Cancellable): void {
    this.keys.set(c.processId, c);
  }

  releaseKey(c: Cancellable): void {
    if (this.keys.get(c.processId) === c) this.keys.delete(c.processId);
  }

  /** A CancelRequest matches only when both halves of the key match (PostgreSQL does the same). */
  findByKey(processId: number, secretKey: number): Cancellable | undefined {
    const c = this.keys.get(processId);
    return c && c.secretKey === secretKey ? c : undefined;
  }
}
