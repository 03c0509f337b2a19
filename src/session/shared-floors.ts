// Read-your-writes floors shared between clients: routing.read_your_writes `user` keeps one WAL
// floor per (user, database), `global` one for the whole process, so a write on one connection
// is seen by reads on any other (a pool handing requests different connections, `\c -`).
// Pure bookkeeping: positions only ever rise; callers drop what every replica has replayed.

export type SharedScope = "user" | "global";

/**
 * A floor nobody knows: a write committed but its WAL position could not be read (the primary
 * stopped answering). Above every real position, so no replica qualifies until a position read
 * from the primary after that moment replaces it.
 */
export const UNKNOWN_FLOOR = 0xffff_ffff_ffff_ffffn;

export class SharedFloors {
  private global: bigint | null = null;
  /** database -> user -> floor; nested so no pair of names can alias another. */
  private readonly byUser = new Map<string, Map<string, bigint>>();
  private entries = 0;
  /** Pairs remembered at most; the oldest database's entries go first beyond it. */
  constructor(private readonly maxEntries = 100_000) {}

  /** When each unknown floor was set (performance.now()); see markUnknown. */
  private globalUnknownAt = 0;
  private readonly unknownAt = new Map<string, Map<string, number>>();

  /**
   * A write in the scope committed with its position unknown: the scope's floor is UNKNOWN_FLOOR
   * until a position read after `at` (which covers that write) is raised.
   */
  markUnknown(scope: SharedScope, user: string, database: string, at: number): void {
    if (scope === "global") this.globalUnknownAt = at;
    else {
      let users = this.unknownAt.get(database);
      if (!users) this.unknownAt.set(database, (users = new Map()));
      users.set(user, at);
    }
    this.raise(scope, user, database, UNKNOWN_FLOOR);
  }

  /**
   * Raises the scope's floor to `lsn`, read from the primary at `readAt` (performance.now() when
   * the read was sent). It replaces an unknown floor only when read after the unknown write.
   */
  raise(scope: SharedScope, user: string, database: string, lsn: bigint, readAt = 0): void {
    if (scope === "global") {
      if (this.global === UNKNOWN_FLOOR && lsn !== UNKNOWN_FLOOR) {
        if (readAt < this.globalUnknownAt) return;
        this.global = lsn;
        return;
      }
      if (this.global === null || lsn > this.global) this.global = lsn;
      return;
    }
    if (lsn !== UNKNOWN_FLOOR) {
      const since = this.unknownAt.get(database)?.get(user);
      if (since !== undefined) {
        if (readAt < since) return;
        this.unknownAt.get(database)!.delete(user);
        if (this.unknownAt.get(database)!.size === 0) this.unknownAt.delete(database);
        const users = this.byUser.get(database);
        if (users?.get(user) === UNKNOWN_FLOOR) users.set(user, lsn);
        return;
      }
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
