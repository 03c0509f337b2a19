// The bookkeeping of one pool — idle connections, counts, FIFO waiters with deadlines — with no
// I/O and no timers of its own, so it can be tested without sockets. The shell decides when to
// open or close connections from what these methods return.

/** Someone waiting for a connection. `grant` is called exactly once, with a connection or an error. */
export interface Waiter<C> {
  readonly enqueuedAt: number;
  readonly deadline: number;
  /**
   * A login that opens its own connection wants room, not a connection: granted null without an
   * error once a slot is reserved for it (see reserveSlot), or handed a connection to close.
   */
  readonly wantsSlot?: boolean;
  grant(conn: C | null, error?: Error): void;
}

export type AcquireResult<C> =
  /** An idle connection, now counted active. */
  | { kind: "conn"; conn: C }
  /** Room to grow: a slot is reserved (counted as connecting); open one and call opened()/openFailed(). */
  | { kind: "open" }
  /** Pool full: the waiter was queued. */
  | { kind: "queued" };

export class PoolCore<C> {
  /** Idle connections, most recently used last (reuse the warmest; retire the coldest). */
  private readonly idle: C[] = [];
  private readonly waiters: Waiter<C>[] = [];
  active = 0;
  connecting = 0;
  size: number;
  /**
   * PgBouncer's reserve_pool_size: slots beyond `size` for a head waiter that has waited the
   * reserve timeout (see reserveBeyondSize). A connection beyond `size` is not kept idle: given
   * back with nobody waiting, it is closed, so the pool returns to `size` once the burst is over.
   */
  reserveSize = 0;
  /** Reserve slots handed out since the pool was created (a counter for metrics). */
  reserveUsedTotal = 0;

  /**
   * `canGrow()` is asked before any new connection is counted: room beyond this pool's own size
   * (nodes.max_connections across the node's pools). It may make room, by closing an idle
   * connection of another pool.
   */
  constructor(size: number, private readonly canGrow: () => boolean = () => true) {
    this.size = size;
  }

  /** Whether one more connection may be counted: this pool's size, then the caller's budget. */
  private roomToGrow(): boolean {
    return this.total < this.size && this.canGrow();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** When the head waiter queued, or Infinity when nobody waits (FIFO across pools). */
  get oldestWaitingSince(): number {
    return this.waiters.length > 0 ? this.waiters[0].enqueuedAt : Number.POSITIVE_INFINITY;
  }

  get total(): number {
    return this.idle.length + this.active + this.connecting;
  }

  /** Connections (open or opening) beyond `size`: the reserve in use, or a pool that shrank on reload. */
  get reserveInUse(): number {
    return Math.max(0, this.total - this.size);
  }

  /** Idle connections, coldest first (for sweeps). The array must not be modified. */
  get idleConnections(): readonly C[] {
    return this.idle;
  }

  /** The hot path: an idle connection when one is free and nobody queues ahead; no allocation. */
  takeIdle(): C | undefined {
    if (this.waiters.length > 0) return undefined;
    const conn = this.idle.pop();
    if (conn !== undefined) this.active++;
    return conn;
  }

  acquire(waiter: Waiter<C>): AcquireResult<C> {
    // FIFO fairness: nobody overtakes clients already queued.
    if (this.waiters.length === 0) {
      const conn = this.idle.pop();
      if (conn !== undefined) {
        this.active++;
        return { kind: "conn", conn };
      }
      if (this.roomToGrow()) {
        this.connecting++;
        return { kind: "open" };
      }
    }
    this.waiters.push(waiter);
    return { kind: "queued" };
  }

  /** A reserved slot produced a connection: it is active and belongs to the reserving caller. */
  opened(): void {
    this.connecting--;
    this.active++;
  }

  /**
   * A reserved slot failed to connect. Returns the waiters to fail with the same error: while
   * nothing could be opened, queued clients would otherwise wait for their full timeout.
   */
  openFailed(): Waiter<C>[] {
    this.connecting--;
    if (this.active > 0 || this.idle.length > 0) return [];
    return this.waiters.splice(0);
  }

  /**
   * An active connection comes back: handed to the head waiter (still counted active), kept
   * idle, or to be closed ("drop": not reusable, the pool shrank on reload, or a reserve
   * connection nobody waits for). After a drop
   * the caller should call reserveForWaiter() so a queued client is not stranded.
   */
  release(conn: C, reusable: boolean): Waiter<C> | "idle" | "drop" {
    this.active--;
    if (!reusable) return "drop";
    // Beyond `size`: a reserve connection serves whoever still waits, and is never kept idle.
    if (this.total >= this.size && (this.waiters.length === 0 || this.total >= this.size + this.reserveSize)) return "drop";
    const w = this.waiters.shift();
    if (w) {
      this.active++;
      return w;
    }
    this.idle.push(conn);
    return "idle";
  }

  /** After a release or a size increase: reserves a slot for the head waiter if there is room. */
  reserveForWaiter(): Waiter<C> | null {
    if (this.waiters.length === 0 || !this.roomToGrow()) return null;
    this.connecting++;
    return this.waiters.shift() ?? null;
  }

  /**
   * PgBouncer's reserve pool: the pool is full and its head waiter has waited `timeoutMs` since
   * `now`: a slot beyond `size` (up to size + reserveSize, and still within canGrow()) is reserved
   * for it, counted connecting, and it is returned to be served (call again for the next one).
   * `timeoutMs` 0 disables the reserve, as PgBouncer's reserve_pool_timeout = 0 does.
   */
  reserveBeyondSize(now: number, timeoutMs: number): Waiter<C> | null {
    const head = this.waiters[0];
    if (head === undefined || this.reserveSize === 0 || timeoutMs === 0 || now - head.enqueuedAt < timeoutMs) return null;
    const total = this.total;
    if (total < this.size || total >= this.size + this.reserveSize || !this.canGrow()) return null;
    this.connecting++;
    this.reserveUsedTotal++;
    return this.waiters.shift() ?? null;
  }

  /**
   * Room for a connection a login opens itself: a free slot (counted connecting), else the
   * coldest idle connection taken out to make room (the caller closes it), else null (queue a
   * wantsSlot waiter with acquire()). Nobody queued is overtaken.
   */
  reserveSlot(): "slot" | { evict: C } | null {
    if (this.waiters.length > 0) return null;
    if (this.roomToGrow()) {
      this.connecting++;
      return "slot";
    }
    const conn = this.idle.shift();
    if (conn === undefined) return null;
    this.connecting++;
    return { evict: conn };
  }

  /** A wantsSlot waiter was handed an active connection: it closes it and keeps its slot. */
  slotFromActive(): void {
    this.active--;
    this.connecting++;
  }

  /** A login's slot produced an authenticated connection: to the head waiter, or idle. */
  slotAdopt(conn: C): Waiter<C> | null {
    this.connecting--;
    return this.adopt(conn);
  }

  /** A login's slot is given up (the login failed); call reserveForWaiter() next. */
  slotRelease(): void {
    this.connecting--;
  }

  /** Reserves a slot to open a connection nobody waits for yet (pool.min_idle). */
  reserve(): boolean {
    if (!this.roomToGrow()) return false;
    this.connecting++;
    return true;
  }

  /** An idle connection closed or was retired. */
  removeIdle(conn: C): boolean {
    const i = this.idle.indexOf(conn);
    if (i < 0) return false;
    this.idle.splice(i, 1);
    return true;
  }

  /**
   * Adds a connection opened outside acquire() (the one a login produced). Precondition:
   * canAdopt. Returns the waiter it was handed to, or null when it went idle.
   */
  adopt(conn: C): Waiter<C> | null {
    const w = this.waiters.shift();
    if (w) {
      this.active++;
      return w;
    }
    this.idle.push(conn);
    return null;
  }

  /** Whether adopt() may keep a connection without exceeding the size. */
  get canAdopt(): boolean {
    return this.total < this.size;
  }

  /** Waiters whose deadline passed, removed from the queue. */
  expire(now: number): Waiter<C>[] {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].deadline <= now) n++;
    // Deadlines are enqueue time + one timeout, so the queue is sorted by deadline... unless the
    // timeout changed on reload; fall back to a full scan then.
    const expired = this.waiters.splice(0, n);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].deadline <= now) expired.push(...this.waiters.splice(i, 1));
    }
    return expired;
  }

  /** Removes a waiter that gave up (client disconnected). */
  cancel(waiter: Waiter<C>): boolean {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }
}
