// Function volatility from the primary's catalog, looked up once per name off the hot path.
// Until a name is known the router sends its statement to the primary, which is always safe.
import { Backend, buildExtendedQuery, decodeDataRow } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { PoolManager } from "../pool/pools.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";

type Volatility = "v" | "s" | "i";

const LOOKUP =
  "SELECT p.proname::text, max(p.provolatile::text) FROM pg_catalog.pg_proc p WHERE p.proname = ANY($1::text[]) GROUP BY 1";

export class FunctionCatalog {
  private readonly known = new Map<string, Volatility>();
  private readonly inflight = new Set<string>();

  volatility(name: string): Volatility | undefined {
    return this.known.get(name);
  }

  clear(): void {
    this.known.clear();
  }

  /** Starts a lookup of `names` on a primary connection of (user, database); never throws. */
  learn(names: readonly string[], pools: PoolManager, primary: NodeTarget, user: string, database: string): void {
    const todo = names.filter((n) => !this.known.has(n) && !this.inflight.has(n));
    if (todo.length === 0) return;
    for (const n of todo) this.inflight.add(n);
    const pool = pools.pool(primary, user, database);
    const finish = (conn: ServerConn | null): void => {
      if (!conn) {
        for (const n of todo) this.inflight.delete(n);
        return;
      }
      this.query(conn, todo)
        .catch((e: Error) => log.warn("volatility_lookup_failed", { functions: todo.join(","), error: e.message }))
        .finally(() => {
          for (const n of todo) this.inflight.delete(n);
          pools.release(conn);
        });
    };
    const r = pools.acquire(pool, (conn) => finish(conn));
    if (r.conn) finish(r.conn);
  }

  private async query(conn: ServerConn, names: string[]): Promise<void> {
    const literal = `{${names.map((n) => `"${n.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
    const frames = await conn.internalQuery(buildExtendedQuery(LOOKUP, [literal]));
    const found = new Set<string>();
    for (const f of frames) {
      if (f.type !== Backend.DataRow) continue;
      const [name, vol] = decodeDataRow(f.body, 0, f.body.length);
      if (name && (vol === "v" || vol === "s" || vol === "i")) {
        this.known.set(name, vol);
        found.add(name);
      }
    }
    // A name the catalog does not know cannot be proven read-only: treat it as volatile.
    for (const n of names) if (!found.has(n)) this.known.set(n, "v");
  }
}
