// How the primary authenticates each (database, user) — the AuthCode of its first request — as
// learnt by a probe connection, kept for auth.cache_ttl_ms. Looked up for every login, known
// user or not (so both take the same steps), one probe at a time per pair, bounded.
import { PairCache } from "../auth/pair-cache.ts";

/** Pairs remembered at most; the oldest go first. */
export const MAX_AUTH_METHODS = 10_000;

export class AuthMethods {
  private readonly cache: PairCache<number>;

  constructor(ttlMs: () => number) {
    this.cache = new PairCache(MAX_AUTH_METHODS, ttlMs);
  }

  /** The cached code for the pair, else `probe()`'s (shared by concurrent callers). */
  get(database: string, user: string, probe: () => Promise<number>): Promise<number> {
    return this.cache.get(database, user, async () => {
      const code = await probe();
      this.cache.set(database, user, code);
      return code;
    });
  }

  clear(): void {
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
