// createRouter(): classify() behind a bounded LRU keyed by the exact query text.
// Owns only the cache; a hit returns the stored (frozen) Classification without lexing.

import { classify, type Classification, type ClassifyContext } from "./classify.ts";

export interface RouterOptions {
  context: ClassifyContext;
  /** Maximum cached query strings; 0 disables caching. Default 10,000. */
  capacity?: number;
  /** Longer query strings are classified but not cached (one-off literals). Default 8,192. */
  maxQueryLength?: number;
}

export interface Router {
  /** Classification of `sql`; cached results are frozen and shared, so treat them as read-only. */
  classify(sql: string): Classification;
  /** Drop every cached entry: call when write/read function config or catalog volatility changes. */
  clear(): void;
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
  const ctx = opts.context;
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest entry first.
  const cache = new Map<string, Classification>();
  return {
    classify(sql: string): Classification {
      const key = cacheKey(sql);
      const hit = cache.get(key);
      // No LRU reordering on a hit (two more hash operations per query): eviction is FIFO, and
      // a hot statement evicted by a flood of new ones is simply classified again.
      if (hit !== undefined) return hit;
      const result = classify(sql, ctx);
      // Results waiting on a catalog lookup would be stale once the caller learns the volatility.
      if (capacity === 0 || result.unknownFunctions.length > 0 || sql.length > maxQueryLength) return result;
      if (cache.size >= capacity) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      Object.freeze(result.unknownFunctions);
      if (result.pggateSet !== null) Object.freeze(result.pggateSet);
      cache.set(key, Object.freeze(result));
      return result;
    },
    clear(): void {
      cache.clear();
    },
    get size(): number {
      return cache.size;
    },
  };
}
