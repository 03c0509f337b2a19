// The I/O shell around PoolCore: one pool per (node, user, database), opening server
// connections with the user's credentials, handing them to waiters, retiring idle and old ones,
// and failing waiters past pool.acquire_timeout_ms. One timer for all pools.
import type { ServerCredentials } from "../auth/credentials.ts";
import { error, SqlState, type PgError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { Config } from "../config/types.ts";
import type { Stats } from "../metrics/stats.ts";
import type { NodeTarget, ServerConn, ServerTlsOptions } from "../server/server-conn.ts";
import type { Waiter } from "./pool-core.ts";
import { GateAbandoned } from "./login-gate.ts";
import { poolSizeFor } from "./pool-settings.ts";
import { PoolIndex } from "./pool-index.ts";
import { ServerPool } from "./server-pool.ts";
import { connectError, connectForPool } from "./server-connect.ts";

export { ServerPool } from "./server-pool.ts";

export type Grant = (conn: ServerConn | null, err?: PgError) => void;

/** Room in a pool for a connection a login opens itself: adopt what it produced, or give it up. */
export interface LoginSlot {
  adopt(conn: ServerConn): void;
  release(): void;
}

/**
 * What the pools need from the gateway, declared here so this layer imports nothing above it.
 * Read on every use: `config` and `primary` change on reload and failover.
 */
export interface PoolDeps {
  readonly config: Config;
  readonly stats: Stats;
  readonly shuttingDown: boolean;
  /** What PgGate may use to open connections to `node`'s cluster, per user. */
  credentialsFor(node: NodeTarget): ReadonlyMap<string, ServerCredentials>;
  /** Whether `node` is its cluster's write target (configured or elected). */
  isPrimary(node: NodeTarget): boolean;
  /** Whether `node` is still configured (connections to removed nodes drain). */
  isCurrentNode(node: NodeTarget): boolean;
  /** The real database connections for clients of `database` open (its `databases:` entry's dbname). */
  serverDatabase(database: string): string;
  serverTls(node: NodeTarget): ServerTlsOptions;
}

/** A pool with no connections, waiters or use for this long is forgotten (memory stays bounded). */
const UNUSED_POOL_MS = 10 * 60_000;

const SWEEP_MS = 100;

export class PoolManager {
  /** Keyed by structure, never by a joined string: no choice of names can alias another's pool. */
  readonly pools = new PoolIndex<NodeTarget, ServerPool>();
  /** The pool each member connection belongs to (kept here: the server layer knows no pools). */
  private readonly owners = new Map<ServerConn, ServerPool>();
  private readonly timer: ReturnType<typeof setInterval>;
  private lastIdleSweep = 0;

  constructor(private readonly ctx: PoolDeps) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const p of this.pools.values()) for (const c of p.members) c.terminate();
  }

  pool(node: NodeTarget, user: string, database: string): ServerPool {
    let p = this.pools.get(node, user, database);
    if (!p) {
      p = new ServerPool(node, user, database, this.ctx.serverDatabase(database), poolSizeFor(this.ctx.config, user, database), (pool) => this.nodeHasRoom(pool));
      p.core.reserveSize = this.ctx.config.pool.reserveSize;
      this.pools.set(node, user, database, p);
    }
    return p;
  }

  /** The pool of (node, user, database) if one exists; never creates one. */
  /** Pools an authenticated client used (see ServerPool.vouched): what SHOW, /status and metrics list. */
  *visible(): IterableIterator<ServerPool> {
    for (const p of this.pools.values()) if (p.vouched) yield p;
  }

  find(node: NodeTarget, user: string, database: string): ServerPool | undefined {
    return this.pools.get(node, user, database);
  }

  /** Whether a connection for `user` to `node` can be had at all: one exists, or we can open one. */
  reachable(pool: ServerPool): boolean {
    return pool.members.size > 0 || this.ctx.credentialsFor(pool.node).has(pool.user);
  }

  /**
   * Gets a connection: synchronously when one is idle (returned), else later through `grant`
   * (returns null; keep the returned waiter to cancel). The connection comes back attached to nobody.
   */
  /** An idle connection right now, or null (then use acquire()). Allocates nothing. */
  tryAcquire(pool: ServerPool): ServerConn | null {
    const conn = pool.core.takeIdle();
    if (conn === undefined) return null;
    this.ctx.stats.poolWait.observe(0);
    pool.lastUsedAt = conn.lastUsedAt = Date.now();
    return conn;
  }

  acquire(pool: ServerPool, grant: Grant): { conn: ServerConn | null; waiter: Waiter<ServerConn> | null } {
    pool.vouched = true;
    const now = Date.now();
    pool.lastUsedAt = now;
    const waiter: Waiter<ServerConn> = {
      enqueuedAt: now,
      deadline: now + this.ctx.config.pool.acquireTimeoutMs,
      grant: (conn, err) => {
        const waited = Date.now() - now;
        pool.waits++;
        pool.totalWaitMs += waited;
        this.ctx.stats.poolWait.observe(waited / 1000);
        grant(conn, err as PgError | undefined);
      },
    };
    const r = pool.core.acquire(waiter);
    if (r.kind === "conn") {
      this.ctx.stats.poolWait.observe(0);
      r.conn.lastUsedAt = now;
      return { conn: r.conn, waiter: null };
    }
    if (r.kind === "open") void this.open(pool, waiter);
    return { conn: null, waiter };
  }

  cancel(pool: ServerPool, waiter: Waiter<ServerConn>): void {
    pool.core.cancel(waiter);
  }

  /** Returns a connection after use. Broken or retired ones are closed. */
  release(conn: ServerConn, reusable = true): void {
    const pool = this.owners.get(conn);
    if (!pool) {
      conn.terminate();
      return;
    }
    pool.lastUsedAt = conn.lastUsedAt = Date.now();
    if (reusable && conn.state === "idle" && conn.cancels.mayLand) {
      // A cancel sent for the client that just gave it back may still land: nobody gets it, not
      // even this pool's next waiter, until it cannot (CancelFence). It stays counted active.
      conn.cancels.whenSpent((safe) => this.release(conn, safe));
      return;
    }
    const keep = reusable && conn.state === "idle" && !conn.retired && !this.ctx.shuttingDown && this.ctx.isCurrentNode(pool.node) && !this.owedElsewhere(pool);
    const r = pool.core.release(conn, keep);
    if (r === "idle") return;
    if (r === "drop") {
      this.leave(pool, conn);
      conn.terminate();
      this.refill(pool);
      return;
    }
    r.grant(conn);
  }

  /** A login produced an authenticated connection: keep it in the pool when there is room. */
  adopt(pool: ServerPool, conn: ServerConn): void {
    if (!pool.core.canAdopt) {
      conn.terminate();
      return;
    }
    this.join(pool, conn);
    const w = pool.core.adopt(conn);
    w?.grant(conn);
  }

  private join(pool: ServerPool, conn: ServerConn): void {
    pool.vouched = true;
    this.owners.set(conn, pool);
    conn.stats = this.ctx.stats.node(pool.node.name);
    conn.poolStats = pool.counters;
    pool.members.add(conn);
    const lifetime = this.ctx.config.pool.maxLifetimeMs;
    // Jitter spreads reconnects so connections opened together do not all retire together.
    if (lifetime > 0) conn.retireAt = conn.createdAt + lifetime * (0.9 + Math.random() * 0.2);
    conn.onIdleClose = () => {
      pool.members.delete(conn);
      // Closed while idle in the pool: forget it here. Closed while lent out (settling, say):
      // the holder still returns it, and release() must then find its pool to free the slot.
      if (pool.core.removeIdle(conn)) {
        this.owners.delete(conn);
        this.refill(pool);
      }
    };
  }

  /**
   * Waits for room in `pool` for a connection a login opens itself (a passthrough relay, the
   * first login of a pair): pool.size bounds what each node sees in every phase. An idle
   * connection is closed to make room; otherwise the login queues FIFO with the pool's clients
   * and gets 53300 after pool.acquire_timeout_ms.
   */
  async loginSlot(pool: ServerPool, signal: AbortSignal): Promise<LoginSlot> {
    // Logins in progress may hold at most half the pool: in passthrough they are not yet
    // authenticated, and must not starve the pool's clients of connections for their queries.
    const cap = Math.max(1, Math.floor(pool.core.size / 2));
    if (pool.logins >= cap) await this.loginTurn(pool, signal);
    pool.logins++;
    try {
      return await this.reserveLoginSlot(pool, signal);
    } catch (e) {
      this.loginDone(pool);
      throw e;
    }
  }

  /**
   * Waits until fewer than half the pool's slots are logins; 53300 after pool.acquire_timeout_ms.
   * A client that leaves gives up its turn at once (it must not hold a place nobody will use).
   */
  private loginTurn(pool: ServerPool, signal: AbortSignal): Promise<void> {
    const ms = this.ctx.config.pool.acquireTimeoutMs;
    if (signal.aborted) return Promise.reject(new GateAbandoned("client left while waiting to log in"));
    return new Promise((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        const i = pool.loginTurns.indexOf(turn);
        if (i >= 0) pool.loginTurns.splice(i, 1);
      };
      const turn = {
        since: Date.now(),
        go: (): void => {
          leave();
          resolve();
        },
      };
      const onAbort = (): void => {
        leave();
        reject(new GateAbandoned("client left while waiting to log in"));
      };
      const timer = setTimeout(() => {
        leave();
        reject(error(SqlState.TooManyConnections, `timed out after ${ms} ms waiting for a login slot in pool ${pool.label} (pool.size = ${pool.core.size}; logins may hold half of it)`));
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
      pool.loginTurns.push(turn);
    });
  }

  private loginDone(pool: ServerPool): void {
    pool.logins--;
    pool.loginTurns.shift()?.go();
  }

  private reserveLoginSlot(pool: ServerPool, signal: AbortSignal): Promise<LoginSlot> {
    const slot = (): LoginSlot => {
      let done = false;
      return {
        adopt: (conn) => {
          if (done) return conn.terminate();
          done = true;
          this.loginDone(pool);
          this.join(pool, conn);
          pool.core.slotAdopt(conn)?.grant(conn);
        },
        release: () => {
          if (done) return;
          done = true;
          this.loginDone(pool);
          pool.core.slotRelease();
          this.refill(pool);
        },
      };
    };
    pool.lastUsedAt = Date.now();
    const r = pool.core.reserveSlot();
    if (r === "slot") return Promise.resolve(slot());
    if (r !== null) {
      this.leave(pool, r.evict);
      r.evict.terminate();
      return Promise.resolve(slot());
    }
    if (signal.aborted) return Promise.reject(new GateAbandoned("client left while waiting to log in"));
    return new Promise((resolve, reject) => {
      const now = Date.now();
      // A client that leaves gives up its place in the pool's queue at once.
      const onAbort = (): void => {
        if (pool.core.cancel(waiter)) reject(new GateAbandoned("client left while waiting to log in"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const waiter: Waiter<ServerConn> = {
        enqueuedAt: now,
        deadline: now + this.ctx.config.pool.acquireTimeoutMs,
        wantsSlot: true,
        grant: (conn, err) => {
          signal.removeEventListener("abort", onAbort);
          if (conn) {
            // Handed a connection that was given back: close it, its slot is ours.
            pool.core.slotFromActive();
            this.leave(pool, conn);
            conn.terminate();
            resolve(slot());
          } else if (err) reject(err);
          else resolve(slot());
        },
      };
      if (pool.core.acquire(waiter).kind !== "queued") throw new Error("reserveSlot found no room, but acquire did");
    });
  }

  /**
   * `node` stopped answering: its idle connections are closed (busy ones go as their clients drop
   * them), connections being opened to it give up, and clients queued for it hear at once — a
   * replica read then goes elsewhere instead of waiting for pool.acquire_timeout_ms.
   */
  drainNode(node: NodeTarget): void {
    const key = `${node.host}:${node.port}`;
    this.downSignals.get(key)?.(new Error(`${node.name} stopped answering (marked down by the health checks)`));
    this.downSignals.delete(key);
    for (const pool of this.poolsOf(node)) {
      // Destroyed, not terminated: nothing is written to a node that does not answer.
      this.closeIdle(pool, (conn) => conn.destroy());
      const err = connectError(pool, new Error("the node stopped answering (marked down by the health checks)"));
      for (const w of pool.core.expire(Number.POSITIVE_INFINITY)) w.grant(null, err);
    }
  }

  /** Per node: rejects the connects in progress when the node is marked down (see drainNode). */
  private readonly downSignals = new Map<string, (e: Error) => void>();
  private readonly downPromises = new Map<string, Promise<never>>();

  private downSignal(node: NodeTarget): Promise<never> {
    const key = `${node.host}:${node.port}`;
    let p = this.downPromises.get(key);
    if (!p || !this.downSignals.has(key)) {
      p = new Promise<never>((_, reject) => this.downSignals.set(key, reject));
      p.catch(() => {});
      this.downPromises.set(key, p);
    }
    return p;
  }

  /**
   * RECONNECT / KILL: the connections of `database`'s pools (all pools when null) retire — idle
   * ones close now, lent ones when given back. Returns how many were marked.
   */
  retire(database: string | null): number {
    let n = 0;
    for (const pool of this.pools.values()) if (database === null || pool.database === database) n += this.retirePool(pool);
    return n;
  }

  /**
   * A reload moved the databases of some pools (another cluster or real database): their
   * connections retire and the pools are forgotten, so the next client gets a pool opening the
   * right database. Their clients were closed already.
   */
  retireWhere(moved: (pool: ServerPool) => boolean): void {
    for (const pool of [...this.pools.values()]) {
      if (!moved(pool)) continue;
      this.retirePool(pool);
      this.forget(pool);
    }
  }

  /** Marks every connection of `pool` to close (idle ones now, lent ones when given back); returns how many. */
  private retirePool(pool: ServerPool): number {
    for (const conn of pool.members) conn.retireAt = 1;
    const n = pool.members.size;
    this.closeIdle(pool);
    return n;
  }

  /** Connections marked by retire() still open. */
  retiring(database: string | null): number {
    let n = 0;
    for (const pool of this.pools.values()) {
      if (database !== null && pool.database !== database) continue;
      for (const conn of pool.members) if (conn.retireAt === 1) n++;
    }
    return n;
  }

  // --- nodes.max_connections: one budget across the pools of a node ---------------------------

  /** The pools of `node` (by address: a reloaded config may hold another object for it). */
  /** Whether any connection of `node`'s pools received data after `since` (performance.now()). */
  heardFrom(node: NodeTarget, since: number): boolean {
    for (const p of this.poolsOf(node)) for (const c of p.members) if (c.lastDataAt > since && !c.isClosed) return true;
    return false;
  }

  private poolsOf(node: NodeTarget): ServerPool[] {
    const out: ServerPool[] = [];
    for (const p of this.pools.values()) if (p.node.host === node.host && p.node.port === node.port) out.push(p);
    return out;
  }

  /** The pools of `node` when nodes.max_connections is set and they use all of it, else null. */
  private nodeAtLimit(node: NodeTarget): ServerPool[] | null {
    const max = this.ctx.config.nodes.maxConnections;
    if (max === 0) return null;
    const pools = this.poolsOf(node);
    let total = 0;
    for (const p of pools) total += p.core.total;
    return total < max ? null : pools;
  }

  /**
   * Whether `pool` may count one more connection on its node: under nodes.max_connections, or
   * once an idle connection of another pool of the node was closed to make room.
   */
  private nodeHasRoom(pool: ServerPool): boolean {
    const pools = this.nodeAtLimit(pool.node);
    if (pools === null) return true;
    let coldest: { pool: ServerPool; conn: ServerConn } | null = null;
    for (const p of pools) {
      if (p === pool) continue;
      const c = p.core.idleConnections[0];
      if (c && (!coldest || c.lastUsedAt < coldest.conn.lastUsedAt)) coldest = { pool: p, conn: c };
    }
    if (!coldest) return false;
    this.closeIdleOne(coldest.pool, coldest.conn);
    return true;
  }

  /** With the node at nodes.max_connections: a client of another pool has waited longer than any of `pool`'s. */
  private owedElsewhere(pool: ServerPool): boolean {
    const pools = this.nodeAtLimit(pool.node);
    if (pools === null) return false;
    const mine = pool.core.oldestWaitingSince;
    return pools.some((p) => p !== pool && p.core.oldestWaitingSince < mine && p.core.total < p.core.size);
  }

  /**
   * Room was freed in `pool` (a connection closed, a login gave up its slot): without a node
   * budget its own head waiter gets it; with one, the longest-waiting client of any pool of the
   * node does (FIFO across pools).
   */
  private refill(pool: ServerPool): void {
    if (this.ctx.config.nodes.maxConnections === 0) {
      const w = pool.core.reserveForWaiter();
      if (w) void this.open(pool, w);
      return;
    }
    for (;;) {
      let next: ServerPool | null = null;
      for (const p of this.poolsOf(pool.node)) if (p.core.waiting > 0 && p.core.total < p.core.size && (!next || p.core.oldestWaitingSince < next.core.oldestWaitingSince)) next = p;
      const w = next?.core.reserveForWaiter();
      if (!next || !w) return;
      void this.open(next, w);
    }
  }

  /** A pool that a failed login created and nothing else uses is forgotten: no pool for a name nobody proved. */
  forgetIfUnused(pool: ServerPool): void {
    if (pool.removed || pool.logins > 0 || pool.members.size > 0 || pool.core.total > 0 || pool.core.waiting > 0 || pool.authCode !== null || pool.serverParams !== null) return;
    this.forget(pool);
  }

  /** Promise form of acquire() for code off the hot path (logins, lookups). */
  acquireAsync(pool: ServerPool): Promise<ServerConn> {
    pool.vouched = true;
    return new Promise((resolve, reject) => {
      const r = this.acquire(pool, (conn, err) => (conn ? resolve(conn) : reject(err ?? new Error("no connection"))));
      if (r.conn) resolve(r.conn);
    });
  }

  /** Opens a connection for a reserved slot and hands it to `waiter`. */
  private async open(pool: ServerPool, waiter: Waiter<ServerConn>): Promise<void> {
    // A login waiting for room opens its connection itself.
    if (waiter.wantsSlot) return waiter.grant(null);
    const connecting = connectForPool(this.ctx, pool);
    try {
      let conn: ServerConn;
      try {
        conn = await Promise.race([connecting, this.downSignal(pool.node)]);
      } catch (e) {
        // Given up (node down): a connection that still arrives later is closed, not leaked.
        connecting.then((late) => late.destroy(), () => {});
        throw e;
      }
      pool.core.opened();
      pool.serverParams ??= new Map(conn.params);
      this.join(pool, conn);
      waiter.grant(conn);
    } catch (e) {
      const err = connectError(pool, e as Error);
      log.warn("server_connect_failed", { node: pool.node.name, user: pool.user, db: pool.database, error: (e as Error).message });
      for (const w of [waiter, ...pool.core.openFailed()]) w.grant(null, err);
      // The slot is free again: under a node budget another pool's client may take it.
      if (this.ctx.config.nodes.maxConnections > 0) this.refill(pool);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const pool of this.pools.values()) {
      for (const w of pool.core.expire(now)) {
        const reserve = pool.core.reserveSize > 0 ? `, pool.reserve_size = ${pool.core.reserveSize}` : "";
        w.grant(
          null,
          error(
            SqlState.TooManyConnections,
            `timed out after ${this.ctx.config.pool.acquireTimeoutMs} ms waiting for a server connection in pool ${pool.label} (pool.size = ${pool.core.size}${reserve})`,
            "Raise pool.size or pool.acquire_timeout_ms, or shorten transactions.",
          ),
        );
      }
      if (pool.core.waiting > 0 && pool.core.reserveSize > 0) this.openReserve(pool, now);
    }
    if (now - this.lastIdleSweep < 1000) return;
    this.lastIdleSweep = now;
    const idleTimeout = this.ctx.config.pool.idleTimeoutMs;
    for (const pool of [...this.pools.values()]) {
      pool.core.size = poolSizeFor(this.ctx.config, pool.user, pool.database);
      pool.core.reserveSize = this.ctx.config.pool.reserveSize;
      if (!this.ctx.isCurrentNode(pool.node)) {
        // A node removed from the config drains: idle connections close, busy ones on return.
        this.closeIdle(pool);
        if (pool.members.size === 0 && pool.core.waiting === 0) this.forget(pool);
        continue;
      }
      for (const conn of [...pool.core.idleConnections]) {
        const tooOld = conn.retireAt > 0 && now >= conn.retireAt;
        const idleTooLong = idleTimeout > 0 && now - conn.lastUsedAt >= idleTimeout;
        const overSize = pool.core.total > pool.core.size;
        if (tooOld || idleTooLong || overSize) this.closeIdleOne(pool, conn);
      }
      this.refill(pool);
      this.fillMinIdle(pool);
      if (pool.members.size === 0 && pool.core.waiting === 0 && pool.core.connecting === 0 && now - pool.lastUsedAt >= UNUSED_POOL_MS) this.forget(pool);
    }
  }

  /**
   * pool.reserve_size: clients that waited pool.reserve_timeout_ms in a full pool get connections
   * beyond its size (checked every sweep, so up to SWEEP_MS late). Logged as PgBouncer logs
   * "taking connection from reserve_pool": a pool that needs its reserve is undersized.
   */
  private openReserve(pool: ServerPool, now: number): void {
    // A node removed from the config drains; it gets no new connections.
    if (this.ctx.shuttingDown || !this.ctx.isCurrentNode(pool.node)) return;
    const timeoutMs = this.ctx.config.pool.reserveTimeoutMs;
    for (let w = pool.core.reserveBeyondSize(now, timeoutMs); w; w = pool.core.reserveBeyondSize(now, timeoutMs)) {
      log.warn("pool_reserve_used", { node: pool.node.name, user: pool.user, db: pool.database, waited_ms: now - w.enqueuedAt, size: pool.core.size, reserve_in_use: pool.core.reserveInUse });
      void this.open(pool, w);
    }
  }

  /** Takes an idle connection out of its pool and closes it (politely unless `close` says otherwise). */
  private closeIdleOne(pool: ServerPool, conn: ServerConn, close: (c: ServerConn) => void = (c) => c.terminate()): void {
    pool.core.removeIdle(conn);
    this.leave(pool, conn);
    close(conn);
  }

  private closeIdle(pool: ServerPool, close?: (c: ServerConn) => void): void {
    for (const conn of [...pool.core.idleConnections]) this.closeIdleOne(pool, conn, close);
  }

  private leave(pool: ServerPool, conn: ServerConn): void {
    pool.members.delete(conn);
    this.owners.delete(conn);
  }

  private forget(pool: ServerPool): void {
    pool.removed = true;
    this.pools.delete(pool.node, pool.user, pool.database);
  }

  /** Keeps pool.min_idle connections warm, for users whose credentials PgGate holds. */
  private fillMinIdle(pool: ServerPool): void {
    const minIdle = this.ctx.config.pool.minIdle;
    if (minIdle === 0 || this.ctx.shuttingDown || !this.ctx.credentialsFor(pool.node).has(pool.user)) return;
    let missing = minIdle - pool.core.idleCount - pool.core.connecting;
    while (missing-- > 0 && pool.core.reserve()) {
      const now = Date.now();
      void this.open(pool, {
        enqueuedAt: now,
        deadline: Number.MAX_SAFE_INTEGER,
        grant: (conn) => {
          if (conn) this.release(conn);
        },
      });
    }
  }
}
