// Opening one pooled server connection (or the LISTEN hub's): TCP (or TLS), startup as the pool's user and database,
// authentication with the credentials PgGate holds for that cluster, all within
// nodes.connect_timeout_ms; the primary gets retries with backoff. No pool bookkeeping here.
import type { ServerCredentials } from "../auth/credentials.ts";
import type { Config } from "../config/types.ts";
import { error, SqlState, type PgError } from "../errors/index.ts";
import { authenticateToServer, serverAuthPolicy } from "../server/server-auth.ts";
import { ServerConn, ServerError, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";
import type { ServerPool } from "./server-pool.ts";

/** What opening a connection reads from the gateway (on every use: it changes on reload). */
export interface ConnectDeps {
  readonly config: Config;
  credentialsFor(node: NodeTarget): ReadonlyMap<string, ServerCredentials>;
  isPrimary(node: NodeTarget): boolean;
  serverTls(node: NodeTarget): ServerTlsOptions;
}

/** Where a connection goes and as whom: a pool, or the LISTEN hub of a (cluster, database, user). */
export interface ConnectTarget {
  readonly node: NodeTarget;
  readonly user: string;
  readonly dbname: string;
}

/**
 * Opens and authenticates a connection for `pool`. The primary gets retry.connect_attempts
 * tries with exponential backoff and jitter; a replica gets one, since a read can go elsewhere
 * at once.
 */
export async function connectForPool(deps: ConnectDeps, pool: ServerPool): Promise<ServerConn> {
  return connectServer(deps, pool);
}

/** As connectForPool, for any target; `extra` startup parameters (application_name) go with it. */
export async function connectServer(deps: ConnectDeps, target: ConnectTarget, extra: ReadonlyMap<string, string> = new Map()): Promise<ServerConn> {
  const { connectAttempts, backoffMs } = deps.config.retry;
  const attempts = deps.isPrimary(target.node) ? connectAttempts : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(deps, target, extra);
    } catch (e) {
      // Authentication problems will not fix themselves; only retry what looks transient.
      if (attempt >= attempts || e instanceof ServerError) throw e;
      const delay = backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      await Bun.sleep(delay);
    }
  }
}

async function connectOnce(deps: ConnectDeps, pool: ConnectTarget, extra: ReadonlyMap<string, string>): Promise<ServerConn> {
  const creds: ServerCredentials | undefined = deps.credentialsFor(pool.node).get(pool.user);
  if (!creds) throw new Error(`PgGate holds no credentials for user "${pool.user}"`);
  const cfg = deps.config;
  const params = new Map([
    ["user", pool.user],
    ["database", pool.dbname],
    ...extra,
  ]);
  const started = Date.now();
  const conn = await ServerConn.connect(pool.node, params, deps.serverTls(pool.node), cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
  // nodes.connect_timeout_ms covers authentication too: a node that accepts TCP but never
  // answers its startup (a hung host) must not hold the slot and its waiter forever.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to the login within ${cfg.nodes.connectTimeoutMs} ms (nodes.connect_timeout_ms)`)), Math.max(1, cfg.nodes.connectTimeoutMs - (Date.now() - started)));
  });
  try {
    await Promise.race([authenticateToServer(conn, pool.user, creds, serverAuthPolicy(cfg)), deadline]);
  } catch (e) {
    conn.destroy();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return conn;
}

/** What the waiting clients get when a connection cannot be opened. */
export function connectError(pool: ServerPool, e: Error): PgError {
  // ERROR, not FATAL: the client's session survives; its next statement tries again.
  return error(
    SqlState.SqlclientUnableToEstablishSqlconnection,
    `PgGate could not open a connection to ${pool.node.name} (${pool.node.host}:${pool.node.port}) for user "${pool.user}": ${e.message}`,
  );
}
