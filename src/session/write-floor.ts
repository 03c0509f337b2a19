// Read-your-writes for one client: whether its work may have written, the WAL floor learnt after
// a write commits, and the choice of a replica that has replayed that floor. The client session
// owns one and asks it before every read it routes to a replica.
import { buildParameterStatus } from "../protocol/index.ts";
import { formatLsn, parseLsn, recordBoundary } from "../health/lsn.ts";
import type { Classification } from "../router/index.ts";
import type { RoutingConfig } from "../config/types.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";
import { UNKNOWN_FLOOR, type SharedFloors, type SharedScope } from "./shared-floors.ts";

/**
 * Whether a primary-bound statement may have written (and so needs a floor): not a read sent to
 * the primary for lack of a replica, not BEGIN/COMMIT on its own.
 */
export function mayWrite(c: Classification): boolean {
  if (c.route === "replica") return false;
  if (c.statements > 1) return true;
  if (c.txn !== null) return false;
  // node_local: pg_stat_* views, sequences, pg_backend_pid() ... read on the primary: no WAL.
  return c.reason !== "read" && c.reason !== "node_local";
}

/** What the floor needs from its client session. */
export interface FloorHost {
  readonly user: string;
  readonly database: string;
  /** Its database's routing settings (read_your_writes, ryw_max_wait_ms). */
  readonly routing: RoutingConfig;
  /** Its database's cluster: floors are WAL positions of that cluster only. */
  readonly cluster: FloorCluster;
  send(buf: Uint8Array): void;
  /** A waiting read may be routed now (a replica caught up, or the wait ran out). */
  floorWaitOver(): void;
}

/** What the floor needs from its cluster: replica positions, and the floors shared between clients. */
export interface FloorCluster {
  allReplicasPast(floor: bigint): boolean;
  pickReplica(routing: RoutingConfig, user: string, database: string, floor?: bigint | null): NodeTarget | null;
  /** The write target: a pick may return it (routing.primary_read_weight). */
  readonly primary: NodeTarget;
  /** Floors of routing.read_your_writes user / global. */
  readonly sharedFloors: SharedFloors;
  /** read_your_writes global: the primary's position at a read's start (see ReadIndex). */
  readonly readIndex: { request(cb: (lsn: bigint | null) => void): () => void };
}

/** Replay polling, shared by every client (see HealthMonitor.waitForReplay). */
export interface FloorDeps {
  /** Null instead of a stop function: no replica's replay position can be learnt now. */
  readonly health: { waitForReplay(wake: () => void): (() => void) | null };
  /** Reads held for a replica to replay their floor (pggate_ryw_waits_total). */
  readonly stats: { rywWaits: number };
}

/**
 * The write's floor is the insert position: with synchronous_commit = off the commit record may
 * not even be written out yet. (The flush position would be a lower floor when the commit was
 * synchronous, but a SET LOCAL synchronous_commit = off inside the transaction leaves no trace
 * in the session's setting afterwards, so it is never trusted for that.) With the session's
 * setting off and the flush position behind the floor, no replica can have the write yet
 * (walsenders send flushed WAL only): reads needing it go to the primary without waiting.
 */
const CAPTURE_SQL =
  "SELECT pg_current_wal_insert_lsn()::text, pg_current_wal_flush_lsn()::text, current_setting('synchronous_commit') <> 'off'";

export class WriteFloor {
  /** Reads need a replica that replayed this far; null when nothing was written recently. */
  lsn: bigint | null = null;
  /** Work that may have written ran since the floor was last learnt. */
  wrote = false;
  /** The primary's WAL position after a write is being fetched. */
  pending = false;
  /**
   * The floor, when the primary had not flushed it yet as the write committed
   * (synchronous_commit = off): no replica can have WAL the primary has not flushed, so reads
   * needing it go to the primary at once instead of waiting routing.ryw_max_wait_ms for nothing.
   */
  private unflushed: bigint | null = null;
  private deadline = 0;
  /**
   * global mode: the primary's position read after this read arrived (null: none asked yet,
   * "pending": asked, "failed": could not be read — the read goes to the primary). Consumed by
   * the read it was asked for: the next read asks again.
   */
  private index: bigint | null | "pending" | "failed" = null;
  private cancelIndex: (() => void) | null = null;
  private stopPolling: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly ctx: FloorDeps,
    private readonly host: FloorHost,
  ) {}

  /** user / global mode: the floor shared with other clients; null in session (or off) mode. */
  private get scope(): SharedScope | null {
    const m = this.host.routing.readYourWrites;
    return m === "user" || m === "global" ? m : null;
  }

  /**
   * global mode: every read needs the primary's position at its start, wherever the writes it
   * must see were made (another connection, process or PgGate instance): the primary is the one
   * truth they share.
   */
  private get indexed(): boolean {
    return this.host.routing.readYourWrites === "global";
  }

  /** Whether the next replica read must consult choose(). */
  get constrains(): boolean {
    return this.indexed || this.current() !== null;
  }

  /**
   * The floor the next read must respect: this client's own, raised to the shared one in user
   * and global mode. Null when nothing constrains it.
   */
  current(): bigint | null {
    const scope = this.scope;
    if (scope === null) return this.lsn;
    const shared = this.host.cluster.sharedFloors.get(scope, this.host.user, this.host.database);
    if (shared === null) return this.lsn;
    return this.lsn === null || shared > this.lsn ? shared : this.lsn;
  }

  /**
   * A replica for the next read: one that replayed the floor, "primary" when none caught up
   * within routing.ryw_max_wait_ms, or "wait" (replay positions are polled meanwhile and the
   * host is told when to try again).
   */
  choose(): NodeTarget | "primary" | "wait" {
    const decided = this.chooseFor();
    // The read's index (global mode) is spent once the read is placed.
    if (decided !== "wait") this.index = null;
    return decided;
  }

  private chooseFor(): NodeTarget | "primary" | "wait" {
    if (this.indexed) {
      if (this.index === null) {
        this.index = "pending";
        this.cancelIndex = this.host.cluster.readIndex.request((lsn) => {
          this.cancelIndex = null;
          this.index = lsn ?? "failed";
          this.host.floorWaitOver();
        });
      }
      if (this.index === "pending") return "wait";
      if (this.index === "failed") return "primary";
    }
    const own = this.current();
    const index = typeof this.index === "bigint" ? this.index : null;
    const floor = own === null ? index! : index === null || own > index ? own : index;
    const { user, database, cluster, routing } = this.host;
    if (floor === UNKNOWN_FLOOR) {
      // A write's position was lost (see capture): the read goes to the primary, and its batch
      // counts as a write so the position is learnt after it and replicas serve again.
      this.stopWaiting();
      this.wrote = true;
      return "primary";
    }
    if (cluster.allReplicasPast(floor)) {
      // Every replica has it: the floor no longer matters, for this client or any other.
      this.lsn = null;
      this.unflushed = null;
      const scope = this.scope;
      if (scope !== null) cluster.sharedFloors.forget(scope, user, database, floor);
      this.stopWaiting();
      return onReplica(cluster, cluster.pickReplica(routing, user, database));
    }
    const node = cluster.pickReplica(routing, user, database, floor);
    if (node) {
      this.stopWaiting();
      return onReplica(cluster, node);
    }
    if (this.unflushed !== null && floor <= this.unflushed) {
      this.stopWaiting();
      return "primary";
    }
    const now = Date.now();
    if (this.deadline === 0) {
      const maxWait = routing.rywMaxWaitMs;
      if (maxWait === 0) return "primary";
      const wake = (): void => {
        if (this.deadline !== 0) this.host.floorWaitOver();
      };
      const stop = this.ctx.health.waitForReplay(wake);
      // No replica up, or no health role to learn positions with: none can qualify by waiting.
      if (stop === null) return "primary";
      this.stopPolling = stop;
      this.deadline = now + maxWait;
      this.ctx.stats.rywWaits++;
      this.timer = setTimeout(wake, maxWait + 1);
    }
    if (now < this.deadline) return "wait";
    this.stopWaiting();
    return "primary";
  }

  stopWaiting(): void {
    this.cancelIndex?.();
    this.cancelIndex = null;
    if (this.index === "pending") this.index = null;
    this.deadline = 0;
    this.stopPolling?.();
    this.stopPolling = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * After a write commits, learns the primary's WAL position on the same connection before it
   * goes back to the pool (the client already has its ReadyForQuery, so it waits for nothing),
   * makes it the floor and reports it as ParameterStatus pggate.write_lsn. `done` runs after.
   */
  capture(s: ServerConn, done: () => void): void {
    this.wrote = false;
    this.pending = true;
    const sentAt = performance.now();
    let lsn: bigint | null = null;
    let flushed: bigint | null = null;
    let synchronous = false;
    s.sendInternal(
      // The insert position, not pg_current_wal_lsn() (the write position): with
      // synchronous_commit = off the commit record may not be written out yet. The flush
      // position says whether it is (what replicas can have received).
      CAPTURE_SQL,
      (row) => {
        const inserted = parseLsn(row[0]);
        lsn = inserted === null ? null : recordBoundary(inserted);
        flushed = parseLsn(row[1]);
        synchronous = row[2] === "t";
      },
      (ok) => {
        this.pending = false;
        if (ok && lsn !== null) {
          this.unflushed = !synchronous && flushed !== null && flushed < lsn ? lsn : null;
          if (this.lsn === UNKNOWN_FLOOR) this.lsn = null;
          this.raise(lsn, true, sentAt);
        } else {
          // The connection closed before answering (the primary stopped answering and was
          // dropped), or the query failed: the write committed — its ReadyForQuery said so, and
          // the client is told — but where it is in the WAL is unknown.
          this.markUnknown();
        }
        done();
      },
    );
  }

  /**
   * A write committed and its WAL position could not be learnt: until a position read from the
   * primary afterwards replaces it, this client's reads (and in user / global mode, the scope's)
   * go to the primary. Never a guess: a stale read is worse than a primary read.
   */
  private markUnknown(): void {
    this.lsn = UNKNOWN_FLOOR;
    this.unflushed = null;
    this.wrote = true;
    const scope = this.scope;
    if (scope !== null) this.host.cluster.sharedFloors.markUnknown(scope, this.host.user, this.host.database, performance.now());
  }

  /**
   * Raises the floor (never lowers it); `report` tells the client with pggate.write_lsn. `readAt`:
   * when the position was read from the primary (it may replace an unknown shared floor).
   */
  raise(lsn: bigint, report: boolean, readAt = 0): void {
    if (this.lsn === null || lsn > this.lsn) this.lsn = lsn;
    // A write learnt here constrains the other clients in user / global mode (SET pggate.min_lsn
    // is this client's own business: report === false).
    const scope = this.scope;
    if (report && scope !== null) this.host.cluster.sharedFloors.raise(scope, this.host.user, this.host.database, lsn, readAt);
    if (report) this.host.send(buildParameterStatus("pggate.write_lsn", formatLsn(this.lsn)));
  }
}

/** A pick as the floor reports it: the primary (routing.primary_read_weight) or none is "primary". */
function onReplica(cluster: FloorCluster, node: NodeTarget | null): NodeTarget | "primary" {
  return node === null || node === cluster.primary ? "primary" : node;
}
