// PAUSE / RESUME state: everything, or a set of database names. "Everything" is its own flag,
// never a magic database name, so a database called "*" pauses only itself.

export class PauseState {
  private all = false;
  private readonly databases = new Set<string>();

  /** `null` pauses every database. */
  pause(database: string | null): void {
    if (database === null) this.all = true;
    else this.databases.add(database);
  }

  /** `null` resumes everything (and forgets per-database pauses). */
  resume(database: string | null): void {
    if (database === null) {
      this.all = false;
      this.databases.clear();
    } else this.databases.delete(database);
  }

  isPaused(database: string): boolean {
    return this.all || (this.databases.size > 0 && this.databases.has(database));
  }

  /** Number of PAUSE entries in force (everything counts as one). */
  get size(): number {
    return (this.all ? 1 : 0) + this.databases.size;
  }

  /** For /status: `{ all, databases }`. */
  describe(): { all: boolean; databases: string[] } {
    return { all: this.all, databases: [...this.databases] };
  }
}
