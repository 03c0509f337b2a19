// Server-side names for prepared statements, process-wide: one PgGate name per distinct
// (query, parameter types), so pooled connections can share a statement prepared once.
// Knows nothing of clients; the session layer maps client names onto these.

/**
 * Names kept at most; past it the map starts afresh. Keys are fixed-size digests of the text
 * (see statementKey in session/statements.ts), so an entry costs about 180 bytes whatever the
 * statement's size (measured: 44-character key, name, map entry): 18 MB at most.
 */
const MAX_NAMES = 100_000;

/** Retired names remembered at most (see retire); past it the names map starts afresh too. */
const MAX_RETIRED = 10_000;

/** Process-wide: one server-side name per distinct statement, so connections share them. */
export class StatementNames {
  /** Digest of (query, parameter types) → server name. */
  private readonly names = new Map<string, string>();
  private next = 1;
  /** Sessions with DDL sent and not yet over (see beginSchemaChange). */
  private changing = 0;
  /** Names whose copies a server found outdated (see retire). */
  private readonly retired = new Set<string>();
  /** Bumped at each retire(): a connection rescans its copies only when it changed. */
  retiredGen = 0;

  /** The server name for the statement whose digest is `key` (never the text itself: see MAX_NAMES). */
  nameFor(key: string): string {
    // While DDL is in flight nobody knows which schema a Parse sees: its copy is its own.
    if (this.changing > 0) return `pggate_${(this.next++).toString(36)}`;
    let n = this.names.get(key);
    if (!n || this.retired.has(n)) {
      n = `pggate_${(this.next++).toString(36)}`;
      // Bounded: past the cap, start afresh. Old names stay valid on the connections that have
      // them (they simply stop being reused), so correctness never depends on this map.
      if (this.names.size >= MAX_NAMES) {
        this.names.clear();
      }
      this.names.set(key, n);
    }
    return n;
  }

  /**
   * Schema changed (DDL passed through PgGate): statements prepared from now on get new names,
   * so a client's fresh Parse never lands on a server copy parsed against the old schema (the
   * server would fail it with 0A000, or with the old parameter types, where a dedicated
   * connection parses afresh). Copies under the old names stay with the clients that hold them.
   */
  invalidate(): void {
    this.names.clear();
  }

  /**
   * A session sent DDL: until it ends (endSchemaChange), statements get names of their own, not
   * shared — a Parse racing the DDL (before its lock, or after its commit but before PgGate saw
   * the ReadyForQuery) may see either schema, and must not hand that copy to anyone else.
   */
  beginSchemaChange(): void {
    this.changing++;
    this.invalidate();
  }

  endSchemaChange(): void {
    if (this.changing > 0) this.changing--;
    this.invalidate();
  }

  /**
   * A server answered "cached plan must not change result type" for a copy of `name`: the
   * table under it changed out of band (DDL run directly on the primary, which PgGate never
   * sees). Every copy of it, on every connection, was parsed against the old schema, so the name
   * is never handed out again: the next Parse of its text gets a fresh one, clients holding it
   * move to that one (isRetired), and connections DEALLOCATE their copies (ServerConn).
   */
  retire(name: string): void {
    if (this.retired.has(name)) return;
    // Bounded: forgetting a retired name would let nameFor hand it out again, so the names
    // start afresh with it. Copies left behind are only wasted, never used by a fresh Parse.
    if (this.retired.size >= MAX_RETIRED) {
      this.retired.clear();
      this.names.clear();
    }
    this.retired.add(name);
    this.retiredGen++;
  }

  isRetired(name: string): boolean {
    return this.retired.size > 0 && this.retired.has(name);
  }

  get size(): number {
    return this.names.size;
  }
}

export const statementNames = new StatementNames();
