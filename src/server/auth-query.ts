// auth_query mode: fetch a user's verifier from the primary with PgGate's one credential, and
// cache it for auth.cache_ttl_ms. A failed login drops the entry so a changed password is seen.
// Rows that do not name exactly the requested user are a configuration error, never a login.
import { Backend, buildExtendedQuery, decodeDataRow } from "../protocol/index.ts";
import type { Config } from "../config/types.ts";
import { log } from "../log/index.ts";
import { ServerConn, type NodeTarget } from "./server-conn.ts";
import { verifierCensus } from "../auth/census.ts";
import { authenticateToServer, serverAuthPolicy } from "./server-auth.ts";
import { parseVerifier, verifierProblem, type Verifier } from "../auth/verifier.ts";

/** What auth_query's rows say about one login name. */
export type AuthQueryVerdict =
  /** A usable verifier, or null: no such role, or a role without a password (NULL secret). */
  | { verifier: Verifier | null; problem: null }
  /** The rows (or the verifier) cannot be trusted: the user cannot log in, and the operator is told why. */
  | { verifier: null; problem: string };

/**
 * Reads auth_query's rows for `user`: exactly one row whose first column is the login name
 * itself, its second column the secret. More rows (a query that matches loosely, say with ILIKE
 * or without a WHERE) or another name (a query on the wrong column) must not pick some other
 * role's password, so they yield no verifier and a problem to log; zero rows is simply an
 * unknown user. A SCRAM verifier above `maxIterations` is refused too: checking a password
 * against it would cost more PBKDF2 work than auth.max_scram_iterations allows. Pure.
 */
export function verifierFromRows(user: string, rows: readonly (readonly (string | null)[])[], maxIterations: number): AuthQueryVerdict {
  if (rows.length === 0) return { verifier: null, problem: null };
  if (rows.length > 1) return { verifier: null, problem: `auth.auth_query returned ${rows.length} rows; it must return at most one, for the user named by $1` };
  if (rows[0].length < 2) return { verifier: null, problem: "auth.auth_query must return two columns: the user name and its password secret" };
  const [name, secret] = rows[0];
  if (name !== user) {
    return { verifier: null, problem: "auth.auth_query returned a row for another user name than $1; its first column must be the user name" };
  }
  // A NULL password means the role exists but cannot log in with a password. An empty one is
  // treated the same: PostgreSQL never stores it (it stores NULL), and it would let "" log in.
  if (secret === null || secret === "") return { verifier: null, problem: null };
  const verifier = parseVerifier(secret);
  const problem = verifierProblem(verifier, maxIterations);
  return problem === null ? { verifier, problem: null } : { verifier: null, problem };
}

interface CacheEntry {
  verifier: Verifier | null;
  expiresAt: number;
}

/**
 * Cached answers at most: names are chosen by unauthenticated clients (unknown users are cached
 * too, as null), so the cache must not grow with every name tried. Oldest entries go first.
 */
export const MAX_CACHED_VERIFIERS = 10_000;

/** Runs a lookup's server connection under the login gate (it is opened before anyone authenticated). */
export type LookupGate = <T>(work: () => Promise<T>) => Promise<T>;

export class AuthQuery {
  private readonly cache = new Map<string, CacheEntry>();
  /** Lookups in flight, so a login storm for one user costs one query. */
  private readonly inflight = new Map<string, Promise<Verifier | null>>();

  constructor(
    private config: () => Config,
    private primary: () => NodeTarget,
    private readonly gate: LookupGate = (work) => work(),
  ) {}

  /** The user's verifier, or null when the user does not exist (or may not log in). */
  async lookup(user: string): Promise<Verifier | null> {
    const hit = this.cache.get(user);
    if (hit && hit.expiresAt > Date.now()) return hit.verifier;
    const running = this.inflight.get(user);
    if (running) return running;
    const p = this.gate(() => this.fetch(user)).finally(() => this.inflight.delete(user));
    this.inflight.set(user, p);
    return p;
  }

  /** Bounded insert: Map iteration order is insertion order, so the first key is the oldest. */
  private remember(user: string, entry: CacheEntry): void {
    this.cache.delete(user);
    if (this.cache.size >= MAX_CACHED_VERIFIERS) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(user, entry);
  }

  invalidate(user: string): void {
    this.cache.delete(user);
  }

  clear(): void {
    this.cache.clear();
  }

  private async fetch(user: string): Promise<Verifier | null> {
    const cfg = this.config();
    const { authUser, authPassword, authQuery, authDatabase } = cfg.auth;
    const params = new Map([
      ["user", authUser],
      ["database", authDatabase],
      ["application_name", "pggate_auth_query"],
    ]);
    const conn = await ServerConn.connect(this.primary(), params, cfg.nodes.tls, cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
    try {
      await authenticateToServer(conn, authUser, { kind: "password", password: authPassword }, serverAuthPolicy(cfg));
      const frames = await conn.internalQuery(buildExtendedQuery(authQuery, [user]));
      const rows: (string | null)[][] = [];
      for (const f of frames) {
        if (f.type === Backend.ErrorResponse) throw conn.serverError(f);
        if (f.type === Backend.DataRow) rows.push(decodeDataRow(f.body, 0, f.body.length));
      }
      const { verifier, problem } = verifierFromRows(user, rows, cfg.auth.maxScramIterations);
      // The user name is the one the client claimed; the operator needs it to find the role.
      if (problem !== null) log.warn("auth_query_unusable", { user, error: problem });
      verifierCensus.observe(user, verifier);
      this.remember(user, { verifier, expiresAt: Date.now() + cfg.auth.cacheTtlMs });
      return verifier;
    } finally {
      conn.terminate();
    }
  }
}
