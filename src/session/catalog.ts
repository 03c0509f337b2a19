// The primary's catalog facts routing rests on, per database: function volatility (pg_proc) and
// relation kinds (pg_class: sequences, unlogged tables), looked up once per name off the hot path.
// Until a name is known the router sends its statement to the primary, which is always safe.
import { Backend, buildExtendedQuery, decodeDataRow } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { CatalogLookup, RelationKind, Volatility } from "../router/index.ts";
import type { PoolManager } from "../pool/pools.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";

// One round trip for both lists. Every schema counts (the most volatile function, the most
// node-local relation of each name), so the answer cannot depend on a user's search_path: that
// is why the facts are keyed by database only, not (user, database). Relation kinds: 2 = a
// sequence, 1 = an unlogged table, 0 = anything else that FROM can name.
const LOOKUP =
  "SELECT 'f'::text, p.proname::text, max(p.provolatile::text) FROM pg_catalog.pg_proc p " +
  "WHERE p.proname = ANY($1::text[]) GROUP BY 2 " +
  "UNION ALL " +
  "SELECT 'r'::text, c.relname::text, max(CASE WHEN c.relkind = 'S' THEN '2' " +
  "WHEN c.relpersistence = 'u' THEN '1' ELSE '0' END) FROM pg_catalog.pg_class c " +
  "WHERE c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') GROUP BY 2";

const KINDS: Record<string, RelationKind> = { "2": "sequence", "1": "unlogged", "0": "other" };

/** Names of one database: what is known, and what is being looked up. */
class DatabaseFacts {
  readonly functions = new Map<string, Volatility>();
  readonly relations = new Map<string, RelationKind>();
  readonly functionsInFlight = new Set<string>();
  readonly relationsInFlight = new Set<string>();
}

export class Catalog implements CatalogLookup {
  /** By database name; a function or sequence named x in database A is not the one in B. */
  private readonly databases = new Map<string, DatabaseFacts>();

  volatility(database: string, name: string): Volatility | undefined {
    return this.databases.get(database)?.functions.get(name);
  }

  relationKind(database: string, name: string): RelationKind | undefined {
    return this.databases.get(database)?.relations.get(name);
  }

  clear(): void {
    this.databases.clear();
  }

  /**
   * Starts a lookup of the names not known or in flight yet, in `database`, on a primary
   * connection of (user, database); never throws.
   */
  learn(functions: readonly string[], relations: readonly string[], pools: PoolManager, primary: NodeTarget, user: string, database: string): void {
    let db = this.databases.get(database);
    if (!db) this.databases.set(database, (db = new DatabaseFacts()));
    const facts = db;
    const fns = functions.filter((n) => !facts.functions.has(n) && !facts.functionsInFlight.has(n));
    const rels = relations.filter((n) => !facts.relations.has(n) && !facts.relationsInFlight.has(n));
    if (fns.length === 0 && rels.length === 0) return;
    for (const n of fns) facts.functionsInFlight.add(n);
    for (const n of rels) facts.relationsInFlight.add(n);
    const done = (): void => {
      for (const n of fns) facts.functionsInFlight.delete(n);
      for (const n of rels) facts.relationsInFlight.delete(n);
    };
    const pool = pools.pool(primary, user, database);
    const finish = (conn: ServerConn | null): void => {
      if (!conn) {
        done();
        return;
      }
      this.query(conn, facts, fns, rels)
        .catch((e: Error) => log.warn("catalog_lookup_failed", { database, functions: fns.join(","), relations: rels.join(","), error: e.message }))
        .finally(() => {
          done();
          pools.release(conn);
        });
    };
    const r = pools.acquire(pool, (conn) => finish(conn));
    if (r.conn) finish(r.conn);
  }

  private async query(conn: ServerConn, facts: DatabaseFacts, fns: string[], rels: string[]): Promise<void> {
    const frames = await conn.internalQuery(buildExtendedQuery(LOOKUP, [arrayLiteral(fns), arrayLiteral(rels)]));
    const found = new Set<string>();
    for (const f of frames) {
      if (f.type !== Backend.DataRow) continue;
      const [what, name, value] = decodeDataRow(f.body, 0, f.body.length);
      if (!name || !value) continue;
      if (what === "f" && (value === "v" || value === "s" || value === "i")) {
        facts.functions.set(name, value);
        found.add(name);
      } else if (what === "r" && KINDS[value] !== undefined) {
        facts.relations.set(name, KINDS[value]);
      }
    }
    // A function the catalog does not know cannot be proven read-only: treat it as volatile.
    for (const n of fns) if (!found.has(n)) facts.functions.set(n, "v");
    // A relation name the catalog does not know is a CTE's, or wrong (the query fails anywhere).
    // Known limit, as for volatility: a sequence created later under such a name is taken for an
    // ordinary relation until the catalog is cleared (config reload).
    for (const n of rels) if (!facts.relations.has(n)) facts.relations.set(n, "other");
  }
}

/** A text[] literal of `names`, each double-quoted. */
function arrayLiteral(names: readonly string[]): string {
  return `{${names.map((n) => `"${n.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
}
