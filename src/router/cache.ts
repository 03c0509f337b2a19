// createRouter(): classify() behind a bounded cache keyed by (query text, database).
// Owns only the cache; a hit returns the stored (frozen) Classification without lexing.

import { awaitsCatalog, classify, type CatalogLookup, type Classification, type ClassifyContext } from "./classify.ts";

export interface RouterOptions {
  /** Lower-case names from config routing.write_functions. */
  writeFunctions: ReadonlySet<string>;
  /** Lower-case names from config routing.read_functions. */
  readFunctions: ReadonlySet<string>;
  /** The primary's catalog facts (function volatility, relation kinds), per database. */
  catalog: CatalogLookup;
  /** Maximum cached query strings; 0 disables caching. Default 10,000. */
  capacity?: number;
  /** Longer query strings are classified but not cached (one-off literals). Default 8,192. */
  maxQueryLength?: number;
}

export interface Router {
  /**
   * Classification of `sql` sent to `database`, whose catalog facts it is judged by; cached
   * results are frozen and shared, so treat them as read-only.
   */
  classify(sql: string, database: string): Classification;
  /** Drop every cached entry: call when write/read function config or catalog facts change. */
  clear(): void;
  /** Cached (query text, database) entries. */
  readonly size: number;
}

/**
 * The cache key of a statement: its text with standalone numeric literals replaced by 0, so
 * `... WHERE id = 41` and `... WHERE id = 42` share one entry — a number's value never changes
 * where a statement may run. Digits inside identifiers (t1), parameters ($1) or names are kept.
 * Text mentioning pggate is used verbatim: SET pggate.min_lsn carries its value in the result.
 */
export function cacheKey(sql: string): string {
  let out = "";
  let last = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c >= 48 && c <= 57 && (i === 0 || !isWordChar(sql.charCodeAt(i - 1)))) {
      let j = i + 1;
      while (j < n && isNumberChar(sql.charCodeAt(j))) j++;
      if (j - i > 1 || c !== 48) {
        if (last === 0 && out === "" && sql.includes("pggate")) return sql;
        out += sql.slice(last, i) + "0";
        last = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  return last === 0 ? sql : out + sql.slice(last);
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}

function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46;
}

export function createRouter(opts: RouterOptions): Router {
  const capacity = Math.max(0, Math.floor(opts.capacity ?? 10_000));
  const maxQueryLength = opts.maxQueryLength ?? 8_192;
  const { writeFunctions, readFunctions, catalog } = opts;
  // Query key -> database -> result, as nested maps (names are never joined into one string).
  // Keyed by database because a verdict may rest on catalog facts (a function's volatility, a
  // relation being a sequence) that hold only in the database they were learnt in; nearly every
  // query reads a table, so caching only catalog-free verdicts across databases would save little.
  // A Map iterates in insertion order: the first key is the oldest.
  const cache = new Map<string, Map<string, Classification>>();
  let entries = 0;
  // Built on a miss only (a miss lexes the whole query anyway).
  const contextFor = (database: string): ClassifyContext => ({
    writeFunctions,
    readFunctions,
    volatility: (name) => catalog.volatility(database, name),
    relationKind: (name) => catalog.relationKind(database, name),
  });
  return {
    classify(sql: string, database: string): Classification {
      const key = cacheKey(sql);
      const byDatabase = cache.get(key);
      const hit = byDatabase?.get(database);
      // No LRU reordering on a hit (two more hash operations per query): eviction is FIFO, and
      // a hot statement evicted by a flood of new ones is simply classified again.
      if (hit !== undefined) return hit;
      const result = classify(sql, contextFor(database));
      // Results waiting on a catalog lookup would be stale once the caller learns the answer.
      if (capacity === 0 || awaitsCatalog(result) || sql.length > maxQueryLength) return result;
      if (entries >= capacity) {
        // The oldest query text goes, with its entries for every database.
        const oldest = cache.entries().next();
        if (oldest.done !== true) {
          cache.delete(oldest.value[0]);
          entries -= oldest.value[1].size;
        }
      }
      let slot = cache.get(key);
      if (slot === undefined) cache.set(key, (slot = new Map()));
      Object.freeze(result.unknownFunctions);
      Object.freeze(result.unknownRelations);
      if (result.pggateSet !== null) Object.freeze(result.pggateSet);
      slot.set(database, Object.freeze(result));
      entries++;
      return result;
    },
    clear(): void {
      cache.clear();
      entries = 0;
    },
    get size(): number {
      return entries;
    },
  };
}
