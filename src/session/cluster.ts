// One PostgreSQL cluster behind PgGate: its primary (as configured, or the node that took over
// after a failover), its replicas and their balancing, the credentials learnt for its nodes and
// the read-your-writes floors of its clients. WAL positions of one cluster mean nothing on
// another, so every floor and LSN comparison stays inside one Cluster. No sockets here.
import type { ServerCredentials } from "../auth/credentials.ts";
import type { ClusterNodes, RoutingConfig } from "../config/types.ts";
import type { NodeHealth } from "../health/monitor.ts";
import { log } from "../log/index.ts";
import { ReplicaBalancer } from "../pool/balancer.ts";
import { nodeName, type NodeTarget } from "../server/node-target.ts";
import { ReadIndex } from "./read-index.ts";
import { SharedFloors } from "./shared-floors.ts";

/** What a cluster asks of the rest of the gateway: node health, and whether a pool can be reached. */
export interface ClusterDeps {
  health(t: NodeTarget): NodeHealth | undefined;
  /** Up nodes, for finding a new primary after a failover. */
  allHealth(): readonly NodeHealth[];
  /** Whether (node, user, database) has a connection or can open one (see PoolManager.reachable). */
  reachable(t: NodeTarget, user: string, database: string): boolean;
  /** Server connections of (node, user, database) serving clients now (0 when there is no pool). */
  busy(t: NodeTarget, user: string, database: string): number;
  /** The primary `t`'s WAL insert position read now, or null (see HealthMonitor.currentPosition). */
  currentPosition(t: NodeTarget): Promise<bigint | null>;
}

/** The address of a cluster's configured primary. */
export function primaryAddress(nodes: ClusterNodes): string {
  return `${nodes.primary.host}:${nodes.primary.port}`;
}

export class Cluster {
  readonly balancer = new ReplicaBalancer();
  /** read_your_writes user / global: floors shared between this cluster's clients. */
  readonly sharedFloors = new SharedFloors();
  /** read_your_writes global: the primary's position at each read's start, one round trip per batch of reads. */
  readonly readIndex = new ReadIndex(() => this.deps.currentPosition(this.primary));
  /** What PgGate may use to open connections to this cluster's nodes, per user (learnt at login, latest wins). */
  readonly credentials = new Map<string, ServerCredentials>();
  private configured: NodeTarget;
  /** Set when health checks found the configured primary gone and another node acting as primary. */
  private elected: NodeTarget | null = null;

  constructor(
    /** For logs, metrics and SHOW: "default" for the top-level nodes, else the first database on it. */
    readonly label: string,
    nodes: ClusterNodes,
    private readonly deps: ClusterDeps,
  ) {
    this.configured = { name: nodeName(label, "primary"), host: nodes.primary.host, port: nodes.primary.port, cluster: label };
    this.setNodes(nodes);
  }

  /**
   * A reload: the replica list may change, and for the default cluster the primary too (its
   * connections then drain, as a removed replica's do; clients carry on with the new one).
   */
  setNodes(nodes: ClusterNodes): void {
    const p = nodes.primary;
    if (p.host !== this.configured.host || p.port !== this.configured.port) {
      this.configured = { ...this.configured, host: p.host, port: p.port };
      this.elected = null;
    }
    this.balancer.setNodes(nodes.replicas, this.label);
  }

  /** The node writes go to: the configured primary, or the node that took over after a failover. */
  get primary(): NodeTarget {
    return this.elected ?? this.configured;
  }

  /** The primary as configured (health checks watch it whatever role it reports). */
  get configuredPrimary(): NodeTarget {
    return this.configured;
  }

  /** Every node of the cluster, primary first. */
  get targets(): readonly NodeTarget[] {
    return [this.configured, ...this.balancer.targets];
  }

  /**
   * Follows a failover: when the configured primary is down (or in recovery) and another node of
   * this cluster reports itself primary (not in recovery), writes go there, without a restart. A
   * node in recovery never becomes the write target. Called on every health change.
   */
  electPrimary(): void {
    if (this.elected) {
      const h = this.deps.health(this.elected);
      if (h && h.up && h.role === "primary") return;
      log.warn("primary_lost", { cluster: this.label, node: this.elected.name, host: this.elected.host, port: this.elected.port });
      this.elected = null;
    }
    const configured = this.deps.health(this.configured);
    if (!configured || (configured.up && configured.role !== "replica")) return;
    const mine = this.balancer.targets;
    const candidate = this.deps.allHealth().find((h) => h.up && h.role === "primary" && mine.includes(h.target));
    if (candidate) {
      this.elected = candidate.target;
      log.warn("primary_failover", { cluster: this.label, from: `${this.configured.host}:${this.configured.port}`, to: `${candidate.target.host}:${candidate.target.port}`, node: candidate.target.name });
    }
  }

  /** Whether reads of (user, database) can go to some replica right now. */
  replicaAvailable(routing: RoutingConfig, user: string, database: string): boolean {
    this.pickUser = user;
    this.pickDatabase = database;
    return this.balancer.any(this.usableNow, routing, null);
  }

  /**
   * A usable replica; with `floor`, only one known to have replayed WAL up to it. With
   * routing.primary_read_weight the primary competes too (the caller sends such a read there).
   */
  pickReplica(routing: RoutingConfig, user: string, database: string, floor: bigint | null = null): NodeTarget | null {
    this.pickUser = user;
    this.pickDatabase = database;
    return this.balancer.pick(this.usableNow, routing, floor, this.readsInFlight, this.primary, routing.primaryReadWeight);
  }

  /** A replica's reads in flight for the picking (user, database): its pool's busy connections. */
  private readonly readsInFlight = (t: NodeTarget): number => this.deps.busy(t, this.pickUser, this.pickDatabase);

  /** Whether every replica has replayed `floor`: then a client's floor no longer matters. */
  allReplicasPast(floor: bigint): boolean {
    return this.balancer.targets.every((t) => (this.deps.health(t)?.lsn ?? -1n) >= floor);
  }

  // The balancer passes two arguments to its predicate; the (user, database) pair of a pick is
  // kept in fields instead of a closure per query.
  private pickUser = "";
  private pickDatabase = "";
  private readonly usableNow = (t: NodeTarget, routing: RoutingConfig, floor: bigint | null): boolean =>
    // The primary (a read target with routing.primary_read_weight) has every write: no floor, no lag.
    t === this.primary
      ? this.deps.health(t)?.up !== false
      : this.replicaUsable(t, routing, this.pickUser, this.pickDatabase) && (floor === null || (this.deps.health(t)?.lsn ?? -1n) >= floor);

  /** Up per health checks, within the lag limits, and reachable with this user's credentials. */
  private replicaUsable(t: NodeTarget, routing: RoutingConfig, user: string, database: string): boolean {
    const h = this.deps.health(t);
    if (h) {
      if (!h.up || h.role === "primary") return false;
      if (routing.maxReplicaLagMs > 0 && h.lagSeconds !== null && h.lagSeconds * 1000 > routing.maxReplicaLagMs) return false;
      if (routing.maxReplicaLagBytes > 0 && h.lagBytes !== null && h.lagBytes > routing.maxReplicaLagBytes) return false;
    }
    // Credentials first: a map lookup, where building the pool key would allocate per query.
    return this.credentials.has(user) || this.deps.reachable(t, user, database);
  }
}
