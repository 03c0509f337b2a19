// auth_query mode: fetch a user's verifier from the primary with PgGate's one credential, and
// cache it for auth.cache_ttl_ms. A failed login drops the entry so a changed password is seen.
import { Backend, buildExtendedQuery, decodeDataRow } from "../protocol/index.ts";
import type { Config } from "../config/types.ts";
import { ServerConn, type NodeTarget } from "../session/server-conn.ts";
import { authenticateToServer } from "./server-auth.ts";
import { parseVerifier, type Verifier } from "./verifier.ts";

interface CacheEntry {
  verifier: Verifier | null;
  expiresAt: number;
}

export class AuthQuery {
  private readonly cache = new Map<string, CacheEntry>();
  /** Lookups in flight, so a login storm for one user costs one query. */
  private readonly inflight = new Map<string, Promise<Verifier | null>>();

  constructor(private config: () => Config, private primary: () => NodeTarget) {}

  /** The user's verifier, or null when the user does not exist (or may not log in). */
  async lookup(user: string): Promise<Verifier | null> {
    const hit = this.cache.get(user);
    if (hit && hit.expiresAt > Date.now()) return hit.verifier;
    const running = this.inflight.get(user);
    if (running) return running;
    const p = this.fetch(user).finally(() => this.inflight.delete(user));
    this.inflight.set(user, p);
    return p;
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
      await authenticateToServer(conn, authUser, { kind: "password", password: authPassword });
      const frames = await conn.internalQuery(buildExtendedQuery(authQuery, [user]));
      let verifier: Verifier | null = null;
      for (const f of frames) {
        if (f.type === Backend.ErrorResponse) throw conn.serverError(f);
        if (f.type === Backend.DataRow) {
          const row = decodeDataRow(f.body, 0, f.body.length);
          const secret = row[1];
          // A NULL password means the role exists but cannot log in with a password.
          verifier = secret ? parseVerifier(secret) : null;
        }
      }
      this.cache.set(user, { verifier, expiresAt: Date.now() + cfg.auth.cacheTtlMs });
      return verifier;
    } finally {
      conn.terminate();
    }
  }
}
