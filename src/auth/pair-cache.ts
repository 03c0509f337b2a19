// A cache keyed by (database, user) for things learnt about logins: entries expire, the whole
// cache is bounded (the names come from clients that have not authenticated, so it must not grow
// with every name tried; the oldest go first), and concurrent misses for one pair share a single
// fetch, which may skip its work once every caller has left. Nested maps, never a joined string:
// no choice of names can alias another pair.

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** A fetch in progress, and whether each of its callers has left. */
interface Flight<V> {
  promise: Promise<V>;
  gone: (() => boolean)[];
}

const NEVER_GONE = (): boolean => false;

export class PairCache<V> {
  private readonly entries = new Map<string, Map<string, Entry<V>>>();
  private count = 0;
  private readonly inflight = new Map<string, Map<string, Flight<V>>>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: () => number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The fresh entry for the pair, if any. */
  peek(database: string, user: string): V | undefined {
    const hit = this.entries.get(database)?.get(user);
    return hit && hit.expiresAt > Date.now() ? hit.value : undefined;
  }

  /**
   * The fresh entry for the pair, else `fetch()`'s result (remembered; shared by concurrent
   * callers). `gone` says whether this caller has left; `fetch` is handed `abandoned`, true once
   * every caller sharing it has left.
   */
  get(database: string, user: string, fetch: (abandoned: () => boolean) => Promise<V>, gone: () => boolean = NEVER_GONE): Promise<V> {
    const hit = this.entries.get(database)?.get(user);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.value);
    let running = this.inflight.get(database);
    const same = running?.get(user);
    if (same) {
      same.gone.push(gone);
      return same.promise;
    }
    if (!running) this.inflight.set(database, (running = new Map()));
    const flights = running;
    const callers = [gone];
    const promise = fetch(() => callers.every((g) => g())).finally(() => {
      flights.delete(user);
      if (flights.size === 0) this.inflight.delete(database);
    });
    flights.set(user, { promise, gone: callers });
    return promise;
  }

  set(database: string, user: string, value: V): void {
    this.delete(database, user);
    if (this.count >= this.maxEntries) {
      const [db, users] = this.entries.entries().next().value!;
      this.delete(db, users.keys().next().value!);
    }
    let users = this.entries.get(database);
    if (!users) this.entries.set(database, (users = new Map()));
    users.set(user, { value, expiresAt: Date.now() + this.ttlMs() });
    this.count++;
  }

  delete(database: string, user: string): void {
    const users = this.entries.get(database);
    if (!users?.delete(user)) return;
    this.count--;
    if (users.size === 0) this.entries.delete(database);
  }

  clear(): void {
    this.entries.clear();
    this.count = 0;
  }
}
