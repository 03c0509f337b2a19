// Server-side names for prepared statements, process-wide: one PgGate name per distinct
// (query, parameter types), so pooled connections can share a statement prepared once.
// Knows nothing of clients; the session layer maps client names onto these.

/** Process-wide: one server-side name per distinct statement, so connections share them. */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private next = 1;

  nameFor(key: string): string {
    let n = this.names.get(key);
    if (!n) {
      n = `pggate_${(this.next++).toString(36)}`;
      // Bounded: past the cap, start afresh. Old names stay valid on the connections that have
      // them (they simply stop being reused), so correctness never depends on this map.
      if (this.names.size >= 100_000) {
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

  get size(): number {
    return this.names.size;
  }
}

export const statementNames = new StatementNames();
