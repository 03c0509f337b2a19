// Read-your-writes floors shared between clients: routing.read_your_writes `user` keeps one WAL
// floor per (user, database), `global` one for the whole process, so a write on one connection
// is seen by reads on any other (a pool handing requests different connections, `\c -`).
// Pure bookkeeping: positions only ever rise; callers drop what every replica has replayed.

export type SharedScope = "user" | "global";

export class SharedFloors {
  private global: bigint | null = null;
  /** database -> user -> floor; nested so no pair of names can alias another. */
  private readonly byUser = new Map<string, Map<string, bigint>>();
  private entries = 0;
  /** Pairs remembered at most; the oldest database's entries go first beyond it. */
  constructor(private readonly maxEntries = 100_000) {}

  raise(scope: SharedScope, user: string, database: string, lsn: bigint): void {
    if (scope === "global") {
      if (this.global === null || lsn > this.global) this.global = lsn;
      return;
    }
    let users = this.byUser.get(database);
    if (!users) {
      if (this.entries >= this.maxEntries) this.evictOldest();
      this.byUser.set(database, (users = new Map()));
    }
    const cur = users.get(user);
    if (cur === undefined) this.entries++;
    if (cur === undefined || lsn > cur) users.set(user, lsn);
  }

  get(scope: SharedScope, user: string, database: string): bigint | null {
    if (scope === "global") return this.global;
    return this.byUser.get(database)?.get(user) ?? null;
  }

  /** Forgets a floor every replica has replayed (it no longer constrains any read). */
  forget(scope: SharedScope, user: string, database: string, upTo: bigint): void {
    if (scope === "global") {
      if (this.global !== null && this.global <= upTo) this.global = null;
      return;
    }
    const users = this.byUser.get(database);
    const cur = users?.get(user);
    if (users && cur !== undefined && cur <= upTo) {
      users.delete(user);
      this.entries--;
      if (users.size === 0) this.byUser.delete(database);
    }
  }

  private evictOldest(): void {
    const oldest = this.byUser.keys().next();
    if (oldest.done) return;
    this.entries -= this.byUser.get(oldest.value)!.size;
    this.byUser.delete(oldest.value);
  }
}
