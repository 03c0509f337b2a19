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

  get size(): number {
    return this.names.size;
  }
}

export const statementNames = new StatementNames();
