// Bounds work done on behalf of clients that have not authenticated yet: at most `limit()` holders
// per key at once, the rest wait FIFO. Keyed by node, it bounds the passthrough relays' server
// connections (clients that never finish logging in cannot take every slot of the primary); keyed
// by source address, it keeps one source's slow logins from delaying everyone else's. Pure
// bookkeeping; no I/O, no timers.

/** Gives the slot back; calling it more than once is harmless. */
export type GateRelease = () => void;

interface GateWaiter {
  /** When it queued (Date.now()). */
  since: number;
  grant: (release: GateRelease) => void;
  reject: (e: Error) => void;
  /** Removes the abort listener once the waiter is granted. */
  unlisten: () => void;
}

interface KeyGate {
  inUse: number;
  queue: GateWaiter[];
}

export class GateAbandoned extends Error {
  override readonly name = "GateAbandoned";
}

export class LoginGate<K> {
  private readonly gates = new Map<K, KeyGate>();

  /** `limit` is read on every decision, so a reload takes effect at once. */
  constructor(private readonly limit: () => number) {}

  /** Slots in use for `key` (for SHOW / tests). */
  inUse(key: K): number {
    return this.gates.get(key)?.inUse ?? 0;
  }

  waiting(key: K): number {
    return this.gates.get(key)?.queue.length ?? 0;
  }

  /** Keys with holders or waiters (bounded by the clients connected). */
  get size(): number {
    return this.gates.size;
  }

  /**
   * A slot for `key`: at once when one is free, else when an earlier holder releases. When
   * `signal` aborts (the client left) while waiting, the waiter leaves the queue at once — it
   * neither counts nor is granted later — and the promise rejects with GateAbandoned.
   */
  acquire(key: K, signal: AbortSignal): Promise<GateRelease> {
    if (signal.aborted) return Promise.reject(new GateAbandoned("client left while waiting to log in"));
    const g = this.gate(key);
    if (g.queue.length === 0 && g.inUse < this.limit()) return Promise.resolve(this.take(key, g));
    return new Promise((grant, reject) => {
      const onAbort = (): void => {
        const i = g.queue.indexOf(waiter);
        if (i >= 0) g.queue.splice(i, 1);
        this.tidy(key, g);
        reject(new GateAbandoned("client left while waiting to log in"));
      };
      const waiter: GateWaiter = { since: Date.now(), grant, reject, unlisten: () => signal.removeEventListener("abort", onAbort) };
      signal.addEventListener("abort", onAbort, { once: true });
      g.queue.push(waiter);
    });
  }

  /** When the longest-waiting login still queued for any key arrived (Date.now()); Infinity when none waits. */
  oldestWaitingSince(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const g of this.gates.values()) {
      const w = g.queue[0];
      if (w && w.since < oldest) oldest = w.since;
    }
    return oldest;
  }

  /** Runs `fn` holding a slot for `key`. */
  async run<T>(key: K, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key, signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private gate(key: K): KeyGate {
    let g = this.gates.get(key);
    if (!g) this.gates.set(key, (g = { inUse: 0, queue: [] }));
    return g;
  }

  private take(key: K, g: KeyGate): GateRelease {
    g.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      g.inUse--;
      this.handOn(key, g);
    };
  }

  private handOn(key: K, g: KeyGate): void {
    while (g.queue.length > 0 && g.inUse < this.limit()) {
      const w = g.queue.shift()!;
      w.unlisten();
      w.grant(this.take(key, g));
    }
    this.tidy(key, g);
  }

  private tidy(key: K, g: KeyGate): void {
    if (g.inUse === 0 && g.queue.length === 0 && this.gates.get(key) === g) this.gates.delete(key);
  }
}
