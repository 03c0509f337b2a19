// The line in front of auth_query's lookups: at most `limit()` run at once, at most `maxQueued()`
// wait behind them (FIFO), and work whose clients have all left is dropped before it runs.
// Pure bookkeeping; no I/O, no timers.

/** The line is full: the lookup is refused rather than queued. */
export class LookupQueueFull extends Error {
  override readonly name = "LookupQueueFull";
}

/** Every client that wanted the lookup left before its turn came. */
export class LookupAbandoned extends Error {
  override readonly name = "LookupAbandoned";
}

interface Waiter {
  start: () => void;
  reject: (e: Error) => void;
  abandoned: () => boolean;
}

export class LookupQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  /** Both limits are read on every decision, so a reload takes effect at once. */
  constructor(
    private readonly limit: () => number,
    private readonly maxQueued: () => number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Runs `work` when fewer than limit() run. Rejects with LookupQueueFull when maxQueued() wait
   * already (after dropping those whose clients left), with LookupAbandoned when `abandoned()`
   * holds before `work` starts.
   */
  async run<T>(abandoned: () => boolean, work: () => Promise<T>): Promise<T> {
    await this.acquire(abandoned);
    try {
      return await work();
    } finally {
      this.running--;
      this.handOn();
    }
  }

  private acquire(abandoned: () => boolean): Promise<void> {
    if (abandoned()) return Promise.reject(new LookupAbandoned("the client left before its lookup started"));
    if (this.waiters.length === 0 && this.running < this.limit()) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.maxQueued()) this.dropAbandoned();
    if (this.waiters.length >= this.maxQueued()) return Promise.reject(new LookupQueueFull(`${this.waiters.length} lookups are waiting already`));
    return new Promise((start, reject) => this.waiters.push({ start, reject, abandoned }));
  }

  private handOn(): void {
    while (this.waiters.length > 0 && this.running < this.limit()) {
      const w = this.waiters.shift()!;
      if (w.abandoned()) {
        w.reject(new LookupAbandoned("the client left while its lookup waited"));
        continue;
      }
      this.running++;
      w.start();
    }
  }

  private dropAbandoned(): void {
    let kept = 0;
    for (const w of this.waiters) {
      if (w.abandoned()) w.reject(new LookupAbandoned("the client left while its lookup waited"));
      else this.waiters[kept++] = w;
    }
    this.waiters.length = kept;
  }
}
