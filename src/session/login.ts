// The login phase of a client, per auth.mode: authenticate the client (or relay its exchange),
// and open the primary connection that will serve it. Async by design; the hot path starts after.
import { authenticateClient, chooseMockMethod, type ClientMethod } from "../auth/client-auth.ts";
import type { ClientChannel } from "../auth/client-channel.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import { relayAuthentication } from "../server/passthrough.ts";
import { authenticateToServer, nextAuthRequest, ServerAuthError, serverAuthPolicy } from "../server/server-auth.ts";
import { credentialsFromRelay, type RelayTranscript } from "../auth/relayed-credentials.ts";
import type { HbaMethod } from "../auth/hba.ts";
import type { LoginSlot } from "../pool/pools.ts";
import { log } from "../log/index.ts";
import type { Verifier } from "../auth/verifier.ts";
import { Errors, fatal, PgError, SqlState } from "../errors/index.ts";
import type { GatewayContext } from "./context.ts";
import { ServerConn } from "../server/server-conn.ts";
import { LookupAbandoned } from "../server/auth-query.ts";
import { AuthCode, Backend, buildQuery } from "../protocol/index.ts";
import { paramsKey, syncSql } from "./params.ts";
import type { Cluster } from "./cluster.ts";

export interface StartupInfo {
  user: string;
  /** The name the client asked for (pools and caches are per client-visible name). */
  database: string;
  /** The cluster serving it, and the real database there. */
  cluster: Cluster;
  serverDatabase: string;
  /** Every startup parameter the client sent (user and database included). */
  params: Map<string, string>;
}

export interface LoginResult {
  /** A fresh authenticated primary connection, or null when the pool already vouches for the server. */
  server: ServerConn | null;
  /** The pool slot `server` occupies (it joins the pool through it). */
  slot: LoginSlot | null;
  creds: ServerCredentials;
}

/** The client logging in, as the waits on its behalf need it. */
export interface LoginClient {
  /** Aborted when the client leaves: its waits end at once and its queue places are given up. */
  readonly signal: AbortSignal;
  /** Its address (unix sockets: ""), the key of listen.max_pending_logins_per_source. */
  readonly address: string;
  /** Whether it talks to PgGate over TLS. */
  readonly tls: boolean;
}

/** How an auth.hba rule (if any) says this client must authenticate. */
export type HbaVerdict = HbaMethod | null;

/**
 * Authenticates the client per auth.mode. The only server connection opened before the client
 * has proven who it is, the passthrough relay, goes through ctx.loginGate, so clients that never
 * finish logging in cannot take the primary's connection slots; when the client leaves, its
 * places in every queue are given up at once. Every connection a login keeps counts against
 * pool.size (LoginSlot).
 */
export async function login(ctx: GatewayContext, ch: ClientChannel, startup: StartupInfo, client: LoginClient, hba: HbaVerdict = null): Promise<LoginResult> {
  const mode = ctx.config.auth.mode;
  if (mode === "passthrough") return (await vouchedLogin(ctx, ch, startup, client, hba)) ?? relayLogin(ctx, ch, startup, client);

  // No server connection before the client has proven who it is: known and unknown users take
  // the same steps (a lookup, an exchange), and a flood of made-up names costs the primary nothing.
  const verifier = await findVerifier(ctx, startup, () => client.signal.aborted);
  let creds: ServerCredentials;
  try {
    if (hba === "trust") creds = trustedCredentials(verifier);
    else if (!verifier) {
      // Unknown user: a complete exchange against a mock verifier, failing like a wrong password,
      // so probing for user names learns nothing (PostgreSQL behaves the same).
      await authenticateClient(ch, startup.user, null, hba === "password" ? "cleartext" : chooseMockMethod(startup.user));
      throw Errors.passwordFailed(startup.user);
    } else creds = await authenticateClient(ch, startup.user, verifier, clientMethodFor(hba, verifier));
  } catch (e) {
    ctx.authQueryFor(startup.cluster)?.invalidate(startup.user, startup.serverDatabase);
    throw e;
  }
  // Once a pool knows how its server authenticates and what it reports, later logins need no
  // server connection at all, so a connection storm does not become one on the primary.
  const known = (): boolean => {
    const pool = ctx.pools.find(startup.cluster.primary, startup.user, startup.database);
    return pool !== undefined && pool.authCode !== null && pool.serverParams !== null;
  };
  if (known()) return { server: null, slot: null, creds };
  // First login of the pair: the client is authenticated now, so a connection is opened for it,
  // in a slot of its pool (a storm of first logins waits for room instead of flooding the node).
  const pool = ctx.pools.pool(startup.cluster.primary, startup.user, startup.database);
  const slot = await ctx.pools.loginSlot(pool, client.signal);
  if (known()) {
    slot.release();
    return { server: null, slot: null, creds };
  }
  let server: ServerConn;
  let actual: number | null = null;
  try {
    server = await openPrimary(ctx, startup);
    try {
      const first = await nextAuthRequest(server);
      actual = first.code;
      await authenticateToServer(server, startup.user, creds, serverAuthPolicy(ctx.config), first);
    } catch (e) {
      server.destroy();
      throw e;
    }
  } catch (e) {
    slot.release();
    if (e instanceof ServerAuthError) {
      ctx.authQueryFor(startup.cluster)?.invalidate(startup.user, startup.serverDatabase);
      // The client proved its password; the server refusing PgGate is configuration, for the log.
      // What the server asks for never changes how clients are challenged (see clientMethodFor).
      const hint =
        actual === AuthCode.CleartextPassword && hba !== "password"
          ? "; the server asks for a cleartext password: if that is its pg_hba, give the role an auth.hba `password` line"
          : "";
      log.error("server_login_failed", { user: startup.user, db: startup.database, cluster: startup.cluster.label, node: startup.cluster.primary.name, error: e.message + hint });
      throw loginUnavailable(startup.user);
    }
    throw e;
  }
  pool.authCode = actual!;
  pool.serverParams ??= new Map(server.params);
  return { server, slot, creds };
}

/** What PgGate uses toward the server for a client an hba `trust` line lets in unchallenged. */
function trustedCredentials(verifier: Verifier | null): ServerCredentials {
  if (verifier?.kind === "plain") return { kind: "password", password: verifier.password };
  if (verifier?.kind === "md5") return { kind: "md5", hash: verifier.hash };
  // A SCRAM verifier cannot answer a server's challenge: only a server that trusts PgGate will do.
  return { kind: "none" };
}

/**
 * The challenge for a known user: what an hba line names, else what the verifier was made for.
 * Only an auth.hba `password` line makes PgGate ask for a cleartext password: a server asking for
 * one (or for MD5 where the role has a SCRAM verifier) is either misconfigured or not the server,
 * and what it asks must never move a client to a weaker exchange. A plain userlist password
 * answers any server itself, so its clients need nothing weaker than SCRAM either.
 */
function clientMethodFor(hba: HbaVerdict, verifier: Verifier): ClientMethod {
  if (hba === "password") return "cleartext";
  // As in PostgreSQL, md5 with a SCRAM verifier means SCRAM.
  if (verifier.kind === "md5" || (hba === "md5" && verifier.kind === "plain")) return "md5";
  return "scram";
}

/** The generic refusal for logins that failed for reasons of configuration or infrastructure. */
function loginUnavailable(user: string): PgError {
  return fatal(SqlState.InvalidAuthorizationSpecification, `PgGate could not log in user "${user}" (the reason is in the PgGate log)`);
}

/**
 * passthrough: relays the client's exchange to a primary connection opened for it (in a slot of
 * its pool: the relay is a connection the primary sees). With an auth_user, what the exchange
 * showed plus the role's verifier give credentials for more connections, to replicas too.
 *
 * A relay holds a primary connection while it waits for an unauthenticated client, so three
 * bounds keep slow or silent logins from denying everyone else's: each client address has at most
 * listen.max_pending_logins_per_source relays in progress (the rest of its logins queue behind
 * them, not in front of other addresses'), each answer is due within listen.auth_step_timeout_ms,
 * and a client that leaves gives up its places in every queue at once.
 */
async function relayLogin(ctx: GatewayContext, ch: ClientChannel, startup: StartupInfo, client: LoginClient): Promise<LoginResult> {
  const releaseSource = await ctx.sourceGate.acquire(client.address, client.signal);
  const pool = ctx.pools.pool(startup.cluster.primary, startup.user, startup.database);
  let slot: LoginSlot | null = null;
  try {
    slot = await ctx.pools.loginSlot(pool, client.signal);
    const { server, transcript } = await ctx.loginGate.run(startup.cluster.primary, client.signal, async () => {
      const conn = await openPrimary(ctx, startup);
      try {
        // Only for a client that itself came without TLS: one that uses TLS never has its
        // password exchange moved onto a server connection without it.
        const serverTls = ctx.serverTls(startup.cluster.primary).mode;
        const openPlain = !client.tls && serverTls === "prefer" ? () => openPrimary(ctx, startup, false) : null;
        const noPlainBecause = client.tls ? "the client's own connection uses TLS" : `nodes.tls.mode is ${serverTls}`;
        return await relayAuthentication(withStepDeadline(ch, ctx.config.listen.authStepTimeoutMs), conn, openPlain, noPlainBecause);
      } catch (e) {
        conn.destroy();
        if (e instanceof ServerAuthError) throw fatal(SqlState.InvalidAuthorizationSpecification, e.message);
        throw e;
      }
    });
    pool.serverParams ??= new Map(server.params);
    // What the server asked, for vouchedLogin (a trusted login, Ok, never lets PgGate vouch).
    pool.authCode = relayedAuthCode(transcript);
    if (transcript.kind === "none") noteTrustedRole(startup);
    return { server, slot, creds: await relayedCredentials(ctx, startup, transcript, () => client.signal.aborted) };
  } catch (e) {
    slot?.release();
    ctx.pools.forgetIfUnused(pool);
    throw e;
  } finally {
    releaseSource();
  }
}

/**
 * passthrough with an auth_user, a pair the primary already authenticated through a relay: PgGate
 * knows how the server asks (the pool's authCode) and can look up the role's verifier, so it
 * checks the password itself, the way auth_query does, and the login costs the primary no
 * backend. Null when it cannot (no auth_user, a first login, no verifier, a method the verifier
 * cannot answer, trust): the exchange is relayed as usual, and the server stays the authority
 * for everything PgGate cannot check.
 */
async function vouchedLogin(ctx: GatewayContext, ch: ClientChannel, startup: StartupInfo, client: LoginClient, hba: HbaVerdict): Promise<LoginResult | null> {
  const authQuery = ctx.authQueryFor(startup.cluster);
  const pool = ctx.pools.find(startup.cluster.primary, startup.user, startup.database);
  if (!authQuery || !pool || pool.authCode === null || pool.serverParams === null) return null;
  let verifier: Verifier | null;
  try {
    verifier = await authQuery.lookup(startup.user, startup.serverDatabase, () => client.signal.aborted);
  } catch {
    return null;
  }
  if (!verifier) return null;
  const method = vouchedMethod(hba, pool.authCode, verifier);
  if (method === null) return null;
  try {
    return { server: null, slot: null, creds: await authenticateClient(ch, startup.user, verifier, method) };
  } catch (e) {
    // A wrong password, or a password changed since the verifier was cached: looked up afresh next time.
    authQuery.invalidate(startup.user, startup.serverDatabase);
    throw e;
  }
}

/** How to challenge a client of a pair whose server asks `serverCode`, or null to relay instead. */
function vouchedMethod(hba: HbaVerdict, serverCode: number, verifier: Verifier): ClientMethod | null {
  if (hba === "password" || serverCode === AuthCode.CleartextPassword) return "cleartext";
  if (hba === "trust") return null;
  if (serverCode === AuthCode.SASL && verifier.kind === "scram") return "scram";
  if (serverCode === AuthCode.MD5Password && verifier.kind === "md5") return "md5";
  return null;
}

/** Pairs already reported by noteTrustedRole (bounded: names come from clients). */
const reportedTrusted = new Set<string>();

/**
 * A role the primary lets in without a password (pg_hba trust) gives PgGate nothing to log into
 * replicas with: its reads stay on the primary. Said once per (database, user), at warn, since
 * "all my reads hit the primary" is otherwise a mystery.
 */
function noteTrustedRole(startup: StartupInfo): void {
  if (startup.cluster.balancer.targets.length === 0) return;
  const key = JSON.stringify([startup.database, startup.user]);
  if (reportedTrusted.has(key)) return;
  if (reportedTrusted.size >= 10_000) reportedTrusted.clear();
  reportedTrusted.add(key);
  log.warn("passthrough_reads_on_primary", {
    user: startup.user,
    db: startup.database,
    reason: "the primary let this role in without a password (pg_hba trust): PgGate has no credential for the replicas, so its reads stay on the primary; give it a password, or use auth_query / userlist",
  });
}

/** The AuthCode of what a relayed exchange showed the server asking. */
function relayedAuthCode(transcript: RelayTranscript): number {
  if (transcript.kind === "scram") return AuthCode.SASL;
  if (transcript.kind === "md5") return AuthCode.MD5Password;
  if (transcript.kind === "password") return AuthCode.CleartextPassword;
  return AuthCode.Ok;
}

/**
 * The client's channel with a deadline on each answer: a relay waits for the client while it
 * holds a primary connection, so a client that does not answer in time loses its login.
 */
function withStepDeadline(ch: ClientChannel, ms: number): ClientChannel {
  return {
    send: (b) => ch.send(b),
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(Errors.authStepTimeout(ms)), ms);
        ch.next().then(
          (f) => {
            clearTimeout(timer);
            resolve(f);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      }),
  };
}

/** Credentials from a relayed exchange (see credentialsFromRelay); none when there is no auth_user. */
async function relayedCredentials(ctx: GatewayContext, startup: StartupInfo, transcript: RelayTranscript, gone: () => boolean): Promise<ServerCredentials> {
  if (transcript.kind === "password") return { kind: "password", password: transcript.password };
  const authQuery = ctx.authQueryFor(startup.cluster);
  if (!authQuery || transcript.kind === "none") return { kind: "none" };
  for (let attempt = 0; attempt < 2; attempt++) {
    let verifier: Verifier | null;
    try {
      verifier = await authQuery.lookup(startup.user, startup.serverDatabase, gone);
    } catch (e) {
      if (e instanceof LookupAbandoned) return { kind: "none" };
      log.warn("passthrough_replicas_unavailable", { user: startup.user, db: startup.database, error: (e as Error).message });
      return { kind: "none" };
    }
    const r = credentialsFromRelay(transcript, verifier);
    if ("creds" in r) return r.creds;
    // A cached verifier may predate a password change the server already knows: look again once.
    if (attempt === 0 && verifier !== null) {
      authQuery.invalidate(startup.user, startup.serverDatabase);
      continue;
    }
    log.warn("passthrough_replicas_unavailable", { user: startup.user, db: startup.database, error: r.why });
  }
  return { kind: "none" };
}


async function findVerifier(ctx: GatewayContext, startup: StartupInfo, gone: () => boolean): Promise<Verifier | null> {
  const user = startup.user;
  if (ctx.config.auth.mode === "userlist") return ctx.userlist?.get(user) ?? null;
  const authQuery = ctx.authQueryFor(startup.cluster);
  if (!authQuery) throw new Error("auth_query mode without an AuthQuery");
  try {
    return await authQuery.lookup(user, startup.serverDatabase, gone);
  } catch (e) {
    // A full lookup line (53300) is for the client; a client that left hears nothing.
    if (e instanceof PgError || e instanceof LookupAbandoned) throw e;
    // Details are for the operator; an unauthenticated client learns only that it cannot log in.
    log.error("auth_lookup_failed", { user, db: startup.database, error: (e as Error).message });
    throw loginUnavailable(user);
  }
}

/**
 * Opens the login connection with only user and database, like every pooled connection, so it
 * can join the pool; the client's session parameters are applied with SET afterwards.
 */
async function openPrimary(ctx: GatewayContext, startup: StartupInfo, tls = true): Promise<ServerConn> {
  const node = startup.cluster.primary;
  const cfg = ctx.config;
  const tlsOptions = tls ? ctx.serverTls(node) : { ...ctx.serverTls(node), mode: "disable" as const };
  const params = new Map([
    ["user", startup.user],
    ["database", startup.serverDatabase],
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
  client: LoginClient,
  hba: HbaVerdict = null,
): Promise<ReadonlyMap<string, string>> {
  const { server, slot, creds } = await login(ctx, ch, startup, client, hba);
  if (creds.kind !== "none") startup.cluster.credentials.set(startup.user, creds);
  const pool = ctx.pools.pool(startup.cluster.primary, startup.user, startup.database);
  if (server) {
    try {
      if (params.size > 0) await applyStartupParams(server, params);
    } catch (e) {
      slot?.release();
      throw e;
    }
    const reported = new Map(server.params);
    // The login's connection joins the pool only if the pool needs it: with an idle connection
    // there already, keeping it would leave a backend per login idling (PgBouncer keeps one). Only
    // where PgGate can open another itself: a relayed SCRAM or MD5 login without auth.auth_user
    // leaves it no credentials, and its relay connections are all the pool can ever have.
    if (creds.kind !== "none" && pool.core.idleCount > 0 && pool.core.idleCount >= ctx.config.pool.minIdle) {
      slot?.release();
      server.terminate();
    } else if (slot) slot.adopt(server);
    else ctx.pools.adopt(pool, server);
    return reported;
  }
  if (params.size === 0) return pool.serverParams ?? new Map();
  const key = paramsKey(params);
  const known = pool.acceptedParams.get(key);
  if (known && Date.now() - known.at < ACCEPTED_PARAMS_TTL_MS) return known.reported;
  // Validate and report the parameters on a pooled connection, as the server would at startup.
  const conn = await ctx.pools.acquireAsync(pool);
  try {
    await applyStartupParams(conn, params);
    const reported = new Map(conn.params);
    if (pool.acceptedParams.size >= MAX_ACCEPTED_PARAM_SETS) pool.acceptedParams.delete(pool.acceptedParams.keys().next().value!);
    pool.acceptedParams.set(key, { reported, at: Date.now() });
    return reported;
  } finally {
    ctx.pools.release(conn, conn.state === "idle");
  }
}

/** How long a validated startup parameter set is trusted without asking a server again. */
const ACCEPTED_PARAMS_TTL_MS = 60_000;
/** Distinct startup parameter sets remembered per pool (the oldest goes first). */
const MAX_ACCEPTED_PARAM_SETS = 32;

/**
 * The admin console's login: only admin.users and admin.stats_users. With admin.password, PgGate
 * checks it itself for admin.users (SCRAM), in every mode and with no server involved — the way in
 * for a superuser without a password of its own. Else (and always for admin.stats_users)
 * authenticated like any user (in passthrough against the primary), in auth.auth_database or
 * "postgres". What a stats user may run is decided per command (src/admin/access.ts). Returns the
 * ParameterStatus set to report.
 */
export async function loginAdmin(
  ctx: GatewayContext,
  ch: ClientChannel,
  user: string,
  startupParams: Map<string, string>,
  applicationName: string,
  client: LoginClient,
): Promise<ReadonlyMap<string, string>> {
  // Who is an admin is told only to someone who proved a password: before that, a name outside
  // admin.users is answered exactly like a wrong password (or, below, after the exchange).
  const isAdmin = ctx.config.admin.users.includes(user);
  // A read-only (stats) user never shares admin.password: knowing it would open every admin name.
  // It authenticates like any user, so a monitoring credential grants nothing more.
  const isStatsUser = !isAdmin && ctx.config.admin.statsUsers.includes(user);
  const adminPassword = ctx.config.admin.password;
  if (adminPassword !== "" && !isStatsUser) {
    await authenticateClient(ch, user, isAdmin ? { kind: "plain", password: adminPassword } : null, isAdmin ? "scram" : chooseMockMethod(user));
    if (!isAdmin) throw Errors.passwordFailed(user);
    return new Map([...ADMIN_PARAMS, ["application_name", applicationName]]);
  }
  // Checked on the cluster serving that database name, else the top-level (or first) cluster.
  const database = ctx.config.auth.authDatabase || "postgres";
  const cluster = ctx.resolveDatabase(database)?.cluster ?? ctx.databases.firstCluster;
  const { server, slot } = await login(ctx, ch, { user, database, cluster, serverDatabase: database, params: startupParams }, client);
  if (!isAdmin && !isStatsUser) {
    slot?.release();
    server?.terminate();
    throw fatal(SqlState.InvalidAuthorizationSpecification, `user "${user}" may not use the PgGate admin console`, "Admin users are listed in admin.users (read-only ones in admin.stats_users).");
  }
  const reported = new Map(server?.params ?? ctx.pools.find(cluster.primary, user, database)?.serverParams ?? []);
  slot?.release();
  server?.terminate();
  reported.set("application_name", applicationName);
  return reported;
}

/** What the admin console reports at login when no server was asked. */
const ADMIN_PARAMS: readonly [string, string][] = [
  ["server_version", "15.0 (PgGate admin console)"],
  ["server_encoding", "UTF8"],
  ["client_encoding", "UTF8"],
  ["DateStyle", "ISO, MDY"],
  ["integer_datetimes", "on"],
  ["standard_conforming_strings", "on"],
  ["TimeZone", "UTC"],
];

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
