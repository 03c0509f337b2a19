// What the real verifiers look like (their SCRAM iteration counts, how many are md5) so that the
// exchange PgGate stages for an unknown user looks like a real user's. Counts only: no secrets.
import { SCRAM_DEFAULT_ITERATIONS, type Verifier } from "./verifier.ts";

interface Seen {
  md5: boolean;
  /** The SCRAM iteration count, or null for md5 and plain verifiers. */
  iterations: number | null;
}

/** Users remembered from auth_query lookups; a userlist is always counted whole. */
const OBSERVED_LIMIT = 10_000;

export class VerifierCensus {
  private readonly users = new Map<string, Seen>();
  private md5Users = 0;
  private readonly iterationUsers = new Map<number, number>();

  constructor(private readonly observedLimit = OBSERVED_LIMIT) {}

  /** userlist mode: the census becomes exactly these users, so the md5 share is exact. */
  replaceAll(entries: Iterable<readonly [string, Verifier]>): void {
    this.users.clear();
    this.iterationUsers.clear();
    this.md5Users = 0;
    for (const [user, v] of entries) this.add(user, v);
  }

  /**
   * auth_query mode: what a lookup returned for `user`; null (no such role, no password, an
   * unusable verifier) forgets it. The oldest user is forgotten beyond the limit, so memory stays
   * bounded however many names are looked up.
   */
  observe(user: string, v: Verifier | null): void {
    this.remove(user);
    if (v === null) return;
    if (this.users.size >= this.observedLimit) {
      const oldest = this.users.keys().next();
      if (!oldest.done) this.remove(oldest.value);
    }
    this.add(user, v);
  }

  get size(): number {
    return this.users.size;
  }

  /**
   * The iteration count most users' SCRAM verifiers have (the first one seen wins a tie), or
   * PostgreSQL's default 4096 before any is seen: a mock verifier with another count than the
   * real ones would tell an unknown name from a known one.
   */
  mockIterations(): number {
    let best = SCRAM_DEFAULT_ITERATIONS;
    let bestUsers = 0;
    for (const [iterations, users] of this.iterationUsers) {
      if (users > bestUsers) {
        best = iterations;
        bestUsers = users;
      }
    }
    return best;
  }

  /** Share of known users whose verifier is md5, in [0, 1]; 0 before any user is seen. */
  md5Share(): number {
    return this.users.size === 0 ? 0 : this.md5Users / this.users.size;
  }

  private add(user: string, v: Verifier): void {
    const seen: Seen = { md5: v.kind === "md5", iterations: v.kind === "scram" ? v.iterations : null };
    this.users.set(user, seen);
    if (seen.md5) this.md5Users++;
    if (seen.iterations !== null) this.iterationUsers.set(seen.iterations, (this.iterationUsers.get(seen.iterations) ?? 0) + 1);
  }

  private remove(user: string): void {
    const seen = this.users.get(user);
    if (seen === undefined) return;
    this.users.delete(user);
    if (seen.md5) this.md5Users--;
    if (seen.iterations !== null) {
      const left = (this.iterationUsers.get(seen.iterations) ?? 1) - 1;
      if (left === 0) this.iterationUsers.delete(seen.iterations);
      else this.iterationUsers.set(seen.iterations, left);
    }
  }
}

/**
 * The process's census, fed by the userlist loader and by auth_query lookups, read when an
 * unknown user is challenged. One per process, like the verifiers it summarizes.
 */
export const verifierCensus = new VerifierCensus();
