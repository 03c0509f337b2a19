// The login phase of a client, per auth.mode: authenticate the client (or relay its exchange),
// and open the primary connection that will serve it. Async by design; the hot path starts after.
import { authenticateClient, chooseClientMethod, chooseMockMethod } from "../auth/client-auth.ts";
import type { ClientChannel } from "../auth/client-channel.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import { relayAuthentication } from "../server/passthrough.ts";
import { authenticateToServer, nextAuthRequest, ServerAuthError, serverAuthPolicy } from "../server/server-auth.ts";
import type { Verifier } from "../auth/verifier.ts";
import { Errors, fatal, PgError, SqlState } from "../errors/index.ts";
import type { GatewayContext } from "./context.ts";
import { ServerConn } from "../server/server-conn.ts";
import { Backend, buildQuery } from "../protocol/index.ts";
import { syncSql } from "./params.ts";

export interface StartupInfo {
  user: string;
  database: string;
  /** Every startup parameter the client sent (user and database included). */
  params: Map<string, string>;
}

export interface LoginResult {
  /** A fresh authenticated primary connection, or null when the pool already vouches for the server. */
  server: ServerConn | null;
  creds: ServerCredentials;
}

/**
 * Authenticates the client per auth.mode. Server connections opened before the client has
 * proven who it is (the passthrough relay, the auth-method probe) go through ctx.loginGate, so
 * clients that never finish logging in cannot take the primary's connection slots; `gone` says
 * whether the client has left (its turn at the gate is then skipped).
 */
export async function login(ctx: GatewayContext, ch: ClientChannel, startup: StartupInfo, gone: () => boolean): Promise<LoginResult> {
  const mode = ctx.config.auth.mode;
  if (mode === "passthrough") return ctx.loginGate.run(ctx.primary, gone, () => relayLogin(ctx, ch, startup));

  const verifier = await findVerifier(ctx, startup.user);
  if (!verifier) {
    // Unknown user: a complete exchange against a mock verifier, failing like a wrong password,
    // so probing for user names learns nothing (PostgreSQL behaves the same).
    await authenticateClient(ch, startup.user, null, chooseMockMethod(startup.user));
    throw Errors.passwordFailed(startup.user);
  }
  // How the server authenticates this (user, database) decides what to ask the client for.
  // Known once some client of the pair logged in; otherwise asked of the server by a probe that
  // is closed at once, before the client is challenged: an unauthenticated client never holds a
  // server connection while it thinks (or never answers).
  const pool = ctx.pools.find(ctx.primary, startup.user, startup.database);
  const known = pool !== undefined && pool.authCode !== null && pool.serverParams !== null;
  const serverCode = known ? pool.authCode! : await ctx.loginGate.run(ctx.primary, gone, () => probeAuthMethod(ctx, startup));
  let creds: ServerCredentials;
  try {
    creds = await authenticateClient(ch, startup.user, verifier, chooseClientMethod(serverCode, verifier));
  } catch (e) {
    ctx.authQuery?.invalidate(startup.user);
    throw e;
  }
  // Once a pool knows how its server authenticates and what it reports, later logins need no
  // server connection at all, so a connection storm does not become one on the primary.
  if (known) return { server: null, creds };
  // First login of the pair: the client is authenticated now, so this connection is its own.
  const server = await openPrimary(ctx, startup);
  try {
    await authenticateToServer(server, startup.user, creds, serverAuthPolicy(ctx.config));
  } catch (e) {
    server.destroy();
    if (e instanceof ServerAuthError) {
      ctx.authQuery?.invalidate(startup.user);
      throw fatal(SqlState.InvalidAuthorizationSpecification, e.message);
    }
    throw e;
  }
  const learnt = ctx.pools.pool(ctx.primary, startup.user, startup.database);
  learnt.authCode = serverCode;
  learnt.serverParams ??= new Map(server.params);
  return { server, creds };
}

/** passthrough: relays the client's exchange to a primary connection opened for it. */
async function relayLogin(ctx: GatewayContext, ch: ClientChannel, startup: StartupInfo): Promise<LoginResult> {
  const server = await openPrimary(ctx, startup);
  try {
    return await relayAuthentication(ch, server);
  } catch (e) {
    server.destroy();
    if (e instanceof ServerAuthError) throw fatal(SqlState.InvalidAuthorizationSpecification, e.message);
    throw e;
  }
}

/**
 * The server's first authentication request for (user, database), from a connection closed as
 * soon as it is read. A server ErrorResponse (pg_hba reject, too many clients) is thrown as is.
 */
async function probeAuthMethod(ctx: GatewayContext, startup: StartupInfo): Promise<number> {
  const conn = await openPrimary(ctx, startup);
  try {
    return (await nextAuthRequest(conn)).code;
  } finally {
    conn.destroy();
  }
}

async function findVerifier(ctx: GatewayContext, user: string): Promise<Verifier | null> {
  if (ctx.config.auth.mode === "userlist") return ctx.userlist?.get(user) ?? null;
  if (!ctx.authQuery) throw new Error("auth_query mode without an AuthQuery");
  try {
    return await ctx.authQuery.lookup(user);
  } catch (e) {
    if (e instanceof PgError) throw e;
    throw fatal(
      SqlState.InvalidAuthorizationSpecification,
      `PgGate could not look up user "${user}" with auth.auth_query: ${(e as Error).message}`,
      "Check auth.auth_user, auth.auth_password and auth.auth_query in the PgGate config.",
    );
  }
}

/**
 * Opens the login connection with only user and database, like every pooled connection, so it
 * can join the pool; the client's session parameters are applied with SET afterwards.
 */
async function openPrimary(ctx: GatewayContext, startup: StartupInfo): Promise<ServerConn> {
  const node = ctx.primary;
  const cfg = ctx.config;
  const tlsOptions = ctx.serverTls(node);
  const params = new Map([
    ["user", startup.user],
    ["database", startup.database],
  ]);
  try {
    return await ServerConn.connect(node, params, tlsOptions, cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
  } catch (e) {
    throw Errors.nodeUnreachable(`the primary (${node.host}:${node.port})`, (e as Error).message);
  }
}

/**
 * A client's whole login: authentication (per auth.mode), its startup parameters validated and
 * applied with SET (a bad value is FATAL, as PostgreSQL does at startup), the login connection
 * handed to the pool. Returns the ParameterStatus set to report.
 */
export async function loginClient(
  ctx: GatewayContext,
  ch: ClientChannel,
  startup: StartupInfo,
  params: ReadonlyMap<string, string>,
  gone: () => boolean,
): Promise<ReadonlyMap<string, string>> {
  const { server, creds } = await login(ctx, ch, startup, gone);
  if (creds.kind !== "none") ctx.credentials.set(startup.user, creds);
  const pool = ctx.pools.pool(ctx.primary, startup.user, startup.database);
  if (server) {
    if (params.size > 0) await applyStartupParams(server, params);
    const reported = new Map(server.params);
    ctx.pools.adopt(pool, server);
    return reported;
  }
  if (params.size === 0) return pool.serverParams ?? new Map();
  // Validate and report the parameters on a pooled connection, as the server would at startup.
  const conn = await ctx.pools.acquireAsync(pool);
  try {
    await applyStartupParams(conn, params);
    return new Map(conn.params);
  } finally {
    ctx.pools.release(conn, conn.state === "idle");
  }
}

/**
 * The admin console's login: only admin.users, authenticated like any user (in passthrough
 * against auth.auth_database on the primary). Returns the ParameterStatus set to report.
 */
export async function loginAdmin(
  ctx: GatewayContext,
  ch: ClientChannel,
  user: string,
  startupParams: Map<string, string>,
  applicationName: string,
  gone: () => boolean,
): Promise<ReadonlyMap<string, string>> {
  if (!ctx.config.admin.users.includes(user)) {
    throw fatal(SqlState.InvalidAuthorizationSpecification, `user "${user}" may not use the PgGate admin console`, "Admin users are listed in admin.users.");
  }
  const database = ctx.config.auth.authDatabase;
  const { server } = await login(ctx, ch, { user, database, params: startupParams }, gone);
  const reported = new Map(server?.params ?? ctx.pools.find(ctx.primary, user, database)?.serverParams ?? []);
  server?.terminate();
  reported.set("application_name", applicationName);
  return reported;
}

/** Applies session parameters with SET on a connection; a bad value is FATAL, as in PostgreSQL. */
async function applyStartupParams(server: ServerConn, params: ReadonlyMap<string, string>): Promise<void> {
  const frames = await server.internalQuery(buildQuery(syncSql(server.applied, params)));
  for (const f of frames) {
    if (f.type === Backend.ErrorResponse) {
      server.destroy();
      const e = server.serverError(f);
      throw new PgError("FATAL", e.code || SqlState.InvalidParameterValue, e.message);
    }
  }
  server.applied.clear();
  for (const [k, v] of params) server.applied.set(k, v);
}
