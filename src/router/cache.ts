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

export function createRouter(opts: RouterOptions): Router {
  const capacity = Math.max(0, Math.floor(opts.capacity ?? 10_000));
  const maxQueryLength = opts.maxQueryLength ?? 8_192;
  const ctx = opts.context;
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest entry first.
  const cache = new Map<string, Classification>();
  return {
    classify(sql: string): Classification {
      const hit = cache.get(sql);
      if (hit !== undefined) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const result = classify(sql, ctx);
      // Results waiting on a catalog lookup would be stale once the caller learns the volatility.
      if (capacity === 0 || result.unknownFunctions.length > 0 || sql.length > maxQueryLength) return result;
      if (cache.size >= capacity) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      Object.freeze(result.unknownFunctions);
      if (result.pggateSet !== null) Object.freeze(result.pggateSet);
      cache.set(sql, Object.freeze(result));
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
