// The server connection a client holds, if any: getting one from the pools (at once, or by
// waiting), bringing it in line with the client's session parameters, and giving it back —
// after transaction pooling's ReadyForQuery 'I', or settled after the client vanished.
// Decides nothing about routing; the session says which target it wants.
import { TxStatus } from "../protocol/index.ts";
import type { PgError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { PoolManager, ServerPool } from "../pool/pools.ts";
import type { Waiter } from "../pool/pool-core.ts";
import type { ReplicaBalancer } from "../pool/balancer.ts";
import type { Target } from "../router/index.ts";
import type { NodeTarget, ServerConn, ServerConsumer } from "../server/server-conn.ts";
import { paramsMatch, syncSql } from "./params.ts";

/** What the attachment reads from its client session. */
export interface AttachmentOwner {
  readonly user: string;
  readonly database: string;
  readonly cluster: { readonly balancer: ReplicaBalancer };
}

/** Called when a connection the client waited for arrives (or cannot be had). */
export type Granted = (pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError) => void;

export class ServerAttachment {
  conn: ServerConn | null = null;
  target: Target | null = null;
  private waiting: { pool: ServerPool; waiter: Waiter<ServerConn> } | null = null;
  /** This client's pool per node, looked up once (pool keys are built from its names); made on first use (idle clients hold none). */
  private pools: Map<NodeTarget, ServerPool> | null = null;

  constructor(
    private readonly manager: PoolManager,
    /** Whose connections these are (read on use: user and database are set at login). */
    private readonly owner: AttachmentOwner,
  ) {}

  get isWaiting(): boolean {
    return this.waiting !== null;
  }

  /**
   * A connection to `node` for `target`: attached at once (true), or the client now waits and
   * `granted` is called later (false).
   */
  acquire(node: NodeTarget, target: Target, consumer: ServerConsumer, params: ReadonlyMap<string, string>, preparedCap: number, granted: Granted): boolean {
    const pool = this.poolFor(node);
    const idle = this.manager.tryAcquire(pool);
    if (idle) {
      this.attach(idle, target, consumer, params, preparedCap);
      return true;
    }
    const r = this.manager.acquire(pool, (conn, err) => {
      this.waiting = null;
      granted(pool, target, conn, err);
    });
    if (r.conn) {
      if (target === "replica") this.owner.cluster.balancer.succeeded(pool.node);
      this.attach(r.conn, target, consumer, params, preparedCap);
      return true;
    }
    this.waiting = { pool, waiter: r.waiter! };
    return false;
  }

  /** Stops waiting for a connection (the client left). */
  cancelWait(): void {
    if (!this.waiting) return;
    this.manager.cancel(this.waiting.pool, this.waiting.waiter);
    this.waiting = null;
  }

  /** Attaches and brings the connection's session parameters in line with the client's. */
  attach(conn: ServerConn, target: Target, consumer: ServerConsumer, params: ReadonlyMap<string, string>, preparedCap: number): void {
    this.conn = conn;
    this.target = target;
    conn.attach(consumer);
    conn.dropStaleStatements();
    if (conn.prepared.size > preparedCap) {
      const evict: string[] = [];
      for (const name of conn.prepared.keys()) {
        if (conn.prepared.size - evict.length <= preparedCap) break;
        evict.push(name);
      }
      for (const name of evict) conn.prepared.delete(name);
      conn.sendInternal(evict.map((n) => `DEALLOCATE ${n}`).join("; "));
    }
    if (!paramsMatch(conn.applied, params)) {
      conn.sendInternal(syncSql(conn.applied, params));
      conn.applied.clear();
      for (const [k, v] of params) conn.applied.set(k, v);
    }
  }

  /** Detaches the connection (it stays the caller's to return or drop). */
  detach(): ServerConn | null {
    const s = this.conn;
    if (!s) return null;
    this.conn = null;
    this.target = null;
    s.detach();
    return s;
  }

  /** Transaction pooling: the connection goes back as soon as the server says idle. */
  release(): void {
    const s = this.detach();
    if (s) this.manager.release(s);
  }

  /** A connection that failed: back to its pool as unusable. */
  drop(): ServerConn | null {
    const s = this.detach();
    if (s) this.manager.release(s, false);
    return s;
  }

  /**
   * Hands the connection back after the client is gone: directly when clean, else settled first
   * (cancel, Sync, ROLLBACK, DISCARD ALL for a session that changed state).
   */
  returnAfterClient(clientId: number, pinned: boolean, openBatch: boolean): void {
    const s = this.detach();
    if (!s) return;
    const clean = s.pendingReplies === 0 && !openBatch && !s.inCopyIn && s.txStatus === TxStatus.Idle && !pinned;
    if (clean || s.state === "closed") {
      this.manager.release(s, s.state !== "closed");
      return;
    }
    log.debug("server_settle", { server: s.id, client: clientId, pending: s.pendingReplies });
    s.settle(openBatch, pinned, (reusable) => this.manager.release(s, reusable));
  }

  private poolFor(node: NodeTarget): ServerPool {
    const cached = this.pools?.get(node);
    if (cached && !cached.removed) return cached;
    const p = this.manager.pool(node, this.owner.user, this.owner.database);
    (this.pools ??= new Map()).set(node, p);
    return p;
  }
}
