// Bounds the server connections opened on behalf of clients that have not authenticated yet
// (passthrough relays): at most `limit()` per node at once, the rest wait FIFO. Without it, clients that never finish their login could take every
// connection slot of the primary. Pure bookkeeping; no I/O, no timers.

/** Gives the slot back; calling it more than once is harmless. */
export type GateRelease = () => void;

interface GateWaiter {
  /** When it queued (Date.now()). */
  since: number;
  grant: (release: GateRelease) => void;
  /** A waiter whose client is gone is skipped instead of granted. */
  abandoned: () => boolean;
  reject: (e: Error) => void;
}

interface NodeGate {
  inUse: number;
  queue: GateWaiter[];
}

export class GateAbandoned extends Error {
  override readonly name = "GateAbandoned";
}

export class LoginGate<N> {
  private readonly nodes = new Map<N, NodeGate>();

  /** `limit` is read on every decision, so a reload takes effect at once. */
  constructor(private readonly limit: () => number) {}

  /** Slots in use toward `node` (for SHOW / tests). */
  inUse(node: N): number {
    return this.nodes.get(node)?.inUse ?? 0;
  }

  waiting(node: N): number {
    return this.nodes.get(node)?.queue.length ?? 0;
  }

  /**
   * A slot toward `node`: at once when one is free, else when an earlier holder releases.
   * Rejects with GateAbandoned when `abandoned()` is true by the time its turn comes.
   */
  acquire(node: N, abandoned: () => boolean): Promise<GateRelease> {
    const g = this.gate(node);
    if (g.queue.length === 0 && g.inUse < this.limit()) return Promise.resolve(this.take(node, g));
    return new Promise((grant, reject) => g.queue.push({ since: Date.now(), grant, reject, abandoned }));
  }

  /** When the longest-waiting login still present queued for any node; Infinity when none waits. */
  oldestWaitingSince(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const g of this.nodes.values()) {
      const w = g.queue.find((q) => !q.abandoned());
      if (w && w.since < oldest) oldest = w.since;
    }
    return oldest;
  }

  /** Runs `fn` holding a slot toward `node`. */
  async run<T>(node: N, abandoned: () => boolean, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(node, abandoned);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private gate(node: N): NodeGate {
    let g = this.nodes.get(node);
    if (!g) this.nodes.set(node, (g = { inUse: 0, queue: [] }));
    return g;
  }

  private take(node: N, g: NodeGate): GateRelease {
    g.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      g.inUse--;
      this.handOn(node, g);
    };
  }

  private handOn(node: N, g: NodeGate): void {
    while (g.queue.length > 0 && g.inUse < this.limit()) {
      const w = g.queue.shift()!;
      if (w.abandoned()) {
        w.reject(new GateAbandoned("client left while waiting to log in"));
        continue;
      }
      w.grant(this.take(node, g));
    }
    if (g.inUse === 0 && g.queue.length === 0) this.nodes.delete(node);
  }
}
