// auth_query (and passthrough with an auth_user): fetch a user's verifier from the primary with
// PgGate's one credential, and cache it for auth.cache_ttl_ms. A failed login drops the entry so
// a changed password is seen. Lookups wait in a bounded line (LookupQueue); names of databases
// the primary does not have are answered from its catalog, never with a connection attempt each.
// Rows that do not name exactly the requested user are a configuration error, never a login.
import { Backend, buildExtendedQuery, decodeDataRow, TxStatus } from "../protocol/index.ts";
import type { Config } from "../config/types.ts";
import { log } from "../log/index.ts";
import { ServerConn, ServerError, type NodeTarget } from "./server-conn.ts";
import { verifierCensus } from "../auth/census.ts";
import { authenticateToServer, serverAuthPolicy } from "./server-auth.ts";
import { parseVerifier, verifierProblem, type Verifier } from "../auth/verifier.ts";
import { PairCache } from "../auth/pair-cache.ts";
import { fatal, SqlState } from "../errors/index.ts";
import { LookupAbandoned, LookupQueue, LookupQueueFull } from "./lookup-queue.ts";

export { LookupAbandoned };

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
 * unknown user, and so is one row of NULLs (a lookup function with OUT parameters returns that
 * when its SELECT finds nothing). A SCRAM verifier above `maxIterations` is refused too: checking a password
 * against it would cost more PBKDF2 work than auth.max_scram_iterations allows. Pure.
 */
export function verifierFromRows(user: string, rows: readonly (readonly (string | null)[])[], maxIterations: number): AuthQueryVerdict {
  if (rows.length === 0) return { verifier: null, problem: null };
  if (rows.length > 1) return { verifier: null, problem: `auth.auth_query returned ${rows.length} rows; it must return at most one, for the user named by $1` };
  if (rows[0].length < 2) return { verifier: null, problem: "auth.auth_query must return two columns: the user name and its password secret" };
  const [name, secret] = rows[0];
  if (name === null && secret === null) return { verifier: null, problem: null };
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

/**
 * Cached answers at most: names are chosen by unauthenticated clients (unknown users are cached
 * too, as null), so the cache must not grow with every name tried. Oldest entries go first.
 */
export const MAX_CACHED_VERIFIERS = 10_000;

/** A kept lookup connection closes after this long unused. */
const LOOKUP_IDLE_MS = 60_000;

/**
 * Where lookups for a client of a database the primary does not have run (pg_shadow is the same
 * in every database), and where the catalog of databases is read.
 */
const FALLBACK_DATABASE = "postgres";

/**
 * A name missing from a catalog read this recently is taken as missing: a flood of made-up names
 * costs the primary one catalog read a second, and a database just created is seen within it.
 */
const CATALOG_REFRESH_MS = 1000;

/** A full lookup line is logged at most this often (the refusals between are counted). */
const QUEUE_FULL_LOG_MS = 10_000;

const NEVER_GONE = (): boolean => false;

/** Where a lookup failed, for the operator (the client is told only that it could not log in). */
export class LookupError extends Error {
  override readonly name = "LookupError";
  constructor(
    readonly database: string,
    message: string,
    /** The server's SQLSTATE when it refused the lookup connection. */
    readonly code = "",
  ) {
    super(`auth_query in database "${database}" failed: ${message}`);
  }
}

/**
 * Looks up verifiers with auth.auth_query as auth.auth_user, in auth.auth_database or, when that
 * is empty, the client's own database (postgres when the primary's catalog lacks it). At most
 * auth.max_concurrent_lookups run at once, each on a kept connection (one per database, reused for
 * the next lookup), so a login storm costs the primary a few connections, not one per login; at
 * most auth.max_queued_lookups wait behind them.
 */
export class AuthQuery {
  /** Verifiers by (database, user); null = no such user. Concurrent lookups of one pair share a query. */
  private readonly cache = new PairCache<Verifier | null>(MAX_CACHED_VERIFIERS, () => this.config().auth.cacheTtlMs);
  /** Idle lookup connections by database, with the timer that closes each. */
  private readonly idle = new Map<string, { conn: ServerConn; timer: ReturnType<typeof setTimeout> }[]>();
  private readonly queue = new LookupQueue(
    () => this.config().auth.maxConcurrentLookups,
    () => this.config().auth.maxQueuedLookups,
  );
  /** The primary's databases as last read (names null: the read failed), and the read in progress. */
  private catalog: { names: Set<string> | null; at: number } | null = null;
  private catalogRead: Promise<{ names: Set<string> | null; at: number }> | null = null;
  private catalogProblem = "";
  private refusedSinceLog = 0;
  private lastFullLog = 0;

  constructor(
    private config: () => Config,
    private primary: () => NodeTarget,
  ) {}

  /** The database auth_query runs in for a client of `database` (if the primary has it; see lookup()). */
  databaseFor(database: string): string {
    return this.config().auth.authDatabase || database;
  }

  /**
   * The user's verifier, or null when the user does not exist (or may not log in). `gone` says
   * whether the client has left: a lookup nobody waits for any more is dropped before it runs.
   * Throws LookupError, LookupAbandoned, or a PgError (53300) when too many lookups wait.
   */
  async lookup(user: string, clientDatabase: string, gone: () => boolean = NEVER_GONE): Promise<Verifier | null> {
    let db = this.databaseFor(clientDatabase);
    if (db === clientDatabase && db !== FALLBACK_DATABASE && (await this.knownMissing(db))) db = FALLBACK_DATABASE;
    try {
      return await this.cached(user, db, gone);
    } catch (e) {
      // The client's own database does not exist (the catalog was older, or unreadable): pg_shadow
      // is the same everywhere, so ask in postgres; the client then hears 3D000 from the server
      // after authenticating, as from PostgreSQL itself.
      if (e instanceof LookupError && e.code === "3D000" && db === clientDatabase && db !== FALLBACK_DATABASE) {
        this.catalog?.names?.delete(db);
        return this.cached(user, FALLBACK_DATABASE, gone);
      }
      throw e;
    }
  }

  /** Drops the user's entry (a failed login: a changed password is seen at the next attempt). */
  invalidate(user: string, clientDatabase: string): void {
    this.cache.delete(this.databaseFor(clientDatabase), user);
    // The client's database may have been missing, its lookup answered in postgres.
    if (this.config().auth.authDatabase === "") this.cache.delete(FALLBACK_DATABASE, user);
  }

  private async cached(user: string, db: string, gone: () => boolean): Promise<Verifier | null> {
    for (;;) {
      try {
        return await this.cache.get(db, user, (abandoned) => this.limited(abandoned, () => this.fetch(user, db)), gone);
      } catch (e) {
        // Joined a lookup that its other callers abandoned just before: this client still waits.
        if (e instanceof LookupAbandoned && !gone()) continue;
        throw e;
      }
    }
  }

  /**
   * Whether the primary has no database `db`, by its catalog (pg_database), read again when `db`
   * is not in it and the read is older than CATALOG_REFRESH_MS. False when the catalog cannot be
   * read: the lookup then tries `db` itself.
   */
  private async knownMissing(db: string): Promise<boolean> {
    let c = this.catalog;
    if (c?.names?.has(db)) return false;
    if (!c || Date.now() - c.at >= CATALOG_REFRESH_MS) c = await (this.catalogRead ??= this.readCatalog().finally(() => (this.catalogRead = null)));
    return c.names !== null && !c.names.has(db);
  }

  private async readCatalog(): Promise<{ names: Set<string> | null; at: number }> {
    let names: Set<string> | null = null;
    try {
      const rows = await this.limited(NEVER_GONE, () => this.query(FALLBACK_DATABASE, "SELECT datname FROM pg_catalog.pg_database", []));
      names = new Set(rows.map((r) => r[0] ?? ""));
      this.catalogProblem = "";
    } catch (e) {
      // A full lookup line is no news about the catalog: the caller is refused (53300).
      if (!(e instanceof LookupError)) throw e;
      const problem = e.message;
      if (problem !== this.catalogProblem) log.warn("auth_query_catalog_unreadable", { db: FALLBACK_DATABASE, error: problem });
      this.catalogProblem = problem;
    }
    this.catalog = { names, at: Date.now() };
    return this.catalog;
  }

  /** Forgets every entry and closes the kept connections (reload: the query or role may have changed). */
  clear(): void {
    this.cache.clear();
    this.catalog = null;
    for (const list of this.idle.values()) {
      for (const { conn, timer } of list) {
        clearTimeout(timer);
        conn.terminate();
      }
    }
    this.idle.clear();
  }

  /** Runs `work` in the lookup line; a full line refuses the login (53300) and tells the operator. */
  private async limited<T>(abandoned: () => boolean, work: () => Promise<T>): Promise<T> {
    try {
      return await this.queue.run(abandoned, work);
    } catch (e) {
      if (!(e instanceof LookupQueueFull)) throw e;
      this.refusedSinceLog++;
      const now = Date.now();
      if (now - this.lastFullLog >= QUEUE_FULL_LOG_MS) {
        log.warn("auth_lookups_refused", { refused: this.refusedSinceLog, waiting: this.queue.waiting, error: e.message });
        this.lastFullLog = now;
        this.refusedSinceLog = 0;
      }
      throw fatal(SqlState.TooManyConnections, "too many logins are waiting for a password lookup", "Raise auth.max_queued_lookups or auth.max_concurrent_lookups, or try again.");
    }
  }

  private async fetch(user: string, db: string): Promise<Verifier | null> {
    const cfg = this.config();
    const rows = await this.query(db, cfg.auth.authQuery, [user]);
    const { verifier, problem } = verifierFromRows(user, rows, cfg.auth.maxScramIterations);
    // The user name is the one the client claimed; the operator needs it to find the role.
    if (problem !== null) log.warn("auth_query_unusable", { user, db, error: problem });
    verifierCensus.observe(user, verifier);
    this.cache.set(db, user, verifier);
    return verifier;
  }

  /** Runs `sql` in `db` as auth_user on a kept connection; its rows. Throws LookupError. */
  private async query(db: string, sql: string, params: string[]): Promise<(string | null)[][]> {
    const conn = await this.connection(db);
    let reusable = false;
    try {
      const frames = await conn.internalQuery(buildExtendedQuery(sql, params));
      const rows: (string | null)[][] = [];
      for (const f of frames) {
        if (f.type === Backend.ErrorResponse) throw new LookupError(db, conn.serverError(f).message);
        if (f.type === Backend.DataRow) rows.push(decodeDataRow(f.body, 0, f.body.length));
      }
      reusable = conn.txStatus === TxStatus.Idle;
      return rows;
    } catch (e) {
      if (e instanceof LookupError) {
        // A query error leaves the connection usable; only the connection failing is fatal to it.
        reusable = conn.state === "idle";
        throw e;
      }
      throw new LookupError(db, (e as Error).message);
    } finally {
      if (reusable) this.keep(db, conn);
      else conn.terminate();
    }
  }

  /** A kept connection for `db`, or a new one authenticated as auth_user. */
  private async connection(db: string): Promise<ServerConn> {
    const list = this.idle.get(db);
    while (list && list.length > 0) {
      const { conn, timer } = list.pop()!;
      clearTimeout(timer);
      if (list.length === 0) this.idle.delete(db);
      if (conn.state === "idle") return conn;
      conn.destroy();
    }
    const cfg = this.config();
    const params = new Map([
      ["user", cfg.auth.authUser],
      ["database", db],
      ["application_name", "pggate_auth_query"],
    ]);
    let conn: ServerConn;
    try {
      conn = await ServerConn.connect(this.primary(), params, cfg.nodes.tls, cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
    } catch (e) {
      throw new LookupError(db, (e as Error).message);
    }
    try {
      await authenticateToServer(conn, cfg.auth.authUser, { kind: "password", password: cfg.auth.authPassword }, serverAuthPolicy(cfg));
    } catch (e) {
      conn.destroy();
      throw new LookupError(db, `logging in as auth.auth_user "${cfg.auth.authUser}": ${(e as Error).message}`, e instanceof ServerError ? e.code : "");
    }
    return conn;
  }

  private keep(db: string, conn: ServerConn): void {
    let list = this.idle.get(db);
    if (!list) this.idle.set(db, (list = []));
    const entry = {
      conn,
      timer: setTimeout(() => {
        const l = this.idle.get(db);
        const i = l?.indexOf(entry) ?? -1;
        if (i >= 0) l!.splice(i, 1);
        if (l && l.length === 0) this.idle.delete(db);
        conn.terminate();
      }, LOOKUP_IDLE_MS),
    };
    entry.timer.unref?.();
    list.push(entry);
  }
}
