// One pool's state: its (node, user, database), the connections it owns (PoolCore counts the
// slots), what its server told the first connection (auth method, ParameterStatus set), logins
// waiting for a slot, and its counters. Data only: PoolManager does the I/O.
import { PoolCounters } from "../metrics/stats.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";
import { PoolCore } from "./pool-core.ts";

export class ServerPool {
  readonly core: PoolCore<ServerConn>;
  /** Connections of this pool in any state, for SHOW SERVERS and shutdown. */
  readonly members = new Set<ServerConn>();
  totalWaitMs = 0;
  waits = 0;
  /** How the server authenticated the first connection of this pool (an AuthCode), once known. */
  authCode: number | null = null;
  /** ParameterStatus set of a fresh connection (before any SET): what a new client is told. */
  serverParams: Map<string, string> | null = null;
  /**
   * Startup parameter sets a server of this pool accepted, with the ParameterStatus set it then
   * reported: a later login with the same set is told the same without a round trip (a
   * connection storm of one application sends the same few sets). Bounded and short-lived, so
   * a changed server default is picked up soon.
   */
  readonly acceptedParams = new Map<string, { reported: ReadonlyMap<string, string>; at: number }>();

  /** Logins holding or waiting for a slot of this pool (see PoolManager.loginSlot). */
  logins = 0;
  /** Logins waiting for their turn (at most half the pool may be logging in), oldest first. */
  readonly loginTurns: { readonly since: number; readonly go: () => void }[] = [];

  /**
   * When the longest-waiting client of this pool (a query or a login, for a connection, a slot
   * or a login turn) started waiting; Infinity when nobody waits (read by /readyz).
   */
  get oldestWaitingSince(): number {
    return Math.min(this.core.oldestWaitingSince, this.loginTurns[0]?.since ?? Number.POSITIVE_INFINITY);
  }

  /** Queries, transactions and bytes through this pool's connections (per-pool metrics). */
  readonly counters = new PoolCounters();

  /**
   * An authenticated client used it, or a server connection joined it. Until then the pool exists
   * only for logins in progress (passthrough makes one before the password is checked) and its
   * names are whatever an unauthenticated client sent: views (SHOW, /status, metric labels) skip it.
   */
  vouched = false;

  /** Set once the manager forgot this pool (drained node, unused for long): look it up again. */
  removed = false;
  /** Last time a client took or returned a connection, or the pool was created (Date.now()). */
  lastUsedAt = Date.now();

  constructor(
    readonly node: NodeTarget,
    readonly user: string,
    /** The name clients use (pools are per client-visible database: each entry has its own settings). */
    readonly database: string,
    /** The database its server connections open. */
    readonly dbname: string,
    size: number,
    /** Room on the node beyond this pool's size (nodes.max_connections); see PoolCore. */
    canGrow: (pool: ServerPool) => boolean = () => true,
  ) {
    this.core = new PoolCore(size, () => canGrow(this));
  }

  /** Connections beyond pool.size, open or opening (pool.reserve_size in use); for SHOW POOLS and metrics. */
  get reserveInUse(): number {
    return this.core.reserveInUse;
  }

  /** Reserve connections opened since the pool was created; for SHOW POOLS and metrics. */
  get reserveUsedTotal(): number {
    return this.core.reserveUsedTotal;
  }

  /** For messages and SHOW only, never as a key: names are quoted so the parts stay readable. */
  get label(): string {
    return `${this.node.name} user ${JSON.stringify(this.user)} database ${JSON.stringify(this.database)}`;
  }
}
