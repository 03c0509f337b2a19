// A client's startup phase: SSLRequest / GSSENCRequest / CancelRequest negotiation, STARTTLS,
// the StartupMessage, and the login per auth.mode — up to the point where the session greets
// the client. Owns the pre-authentication limits; never touches pools or the query pump.
import type { DatabaseEntry } from "./databases.ts";
import { buildNegotiateProtocolVersion, decodeStartupPacket, encodeFrame, ProtocolError, truncateName, type FrameReader, type StartupPacket } from "../protocol/index.ts";
import { fatal, SqlState } from "../errors/index.ts";
import { Inbox } from "../net/inbox.ts";
import { linkHandlers, type Link, type LinkData } from "../net/link.ts";
import { log } from "../log/index.ts";
import type { ClientChannel } from "../auth/client-channel.ts";
import { ServerError } from "../server/server-conn.ts";
import { errorKind } from "../metrics/stats.ts";
import type { GatewayContext } from "./context.ts";
import { loginAdmin, loginClient, type HbaVerdict, type LoginClient } from "./login.ts";
import { matchHba, noEntryMessage, rejectMessage } from "../auth/hba.ts";
import { sessionParams } from "./params.ts";

/** The database name that reaches the admin console instead of a server. */
export const ADMIN_DATABASE = "pggate";
/** PgBouncer's console name, answered too so its tooling (pgbouncer_exporter, scripts) works unchanged. */
export const PGBOUNCER_ADMIN_DATABASE = "pgbouncer";
/**
 * Largest message accepted before authentication completes (password, SASL messages). SCRAM
 * messages are a few hundred bytes; PostgreSQL bounds these too (PG_MAX_AUTH_TOKEN_LENGTH).
 */
export const MAX_PRE_AUTH_MESSAGE = 8 * 1024;
/** Bytes a not-yet-authenticated client may have queued unread; beyond it the client is cut off. */
export const MAX_PRE_AUTH_BUFFERED = 16 * 1024;

const SSL_YES = new Uint8Array([0x53]);
const SSL_NO = new Uint8Array([0x4e]);

/** Who the client says it is, from its StartupMessage. */
export interface ClientIdentity {
  user: string;
  database: string;
  /** The entry serving `database` (null for the admin console). */
  db: DatabaseEntry | null;
  /** Session parameters to apply on every server connection (pggate.* removed). */
  params: Map<string, string>;
  sessionRoute: "auto" | "primary" | "replica";
}

/** What the startup phase needs from its session (ClientSession implements it). */
export interface StartupHost {
  readonly id: number;
  /** On the Unix socket: SSLRequest is answered N and TLS is never required, as PostgreSQL does. */
  readonly local: boolean;
  readonly remoteAddress: string;
  readonly out: Link;
  readonly reader: FrameReader;
  /** Whether the session is still in the login state (it may have been closed or timed out). */
  readonly loggingIn: boolean;
  readonly closed: boolean;
  /** The StartupMessage arrived: the session records who the client is and enters "login". */
  beginLogin(identity: ClientIdentity): void;
  /** Authenticated: greet the client, then carry on with frames it already sent. */
  loggedIn(reported: ReadonlyMap<string, string>, pending: readonly { type: number; frame: Uint8Array }[]): void;
  /** An admin user authenticated for the console. */
  adminLoggedIn(reported: ReadonlyMap<string, string>): void;
  /** A CancelRequest: the connection ends without a reply. */
  endSilently(): void;
  failWith(e: unknown): void;
  close(): void;
}

export class ClientStartup {
  tlsActive = false;
  private inbox: Inbox | null = null;

  constructor(
    private readonly host: StartupHost,
    private readonly ctx: GatewayContext,
  ) {}

  /** An untyped startup-phase packet (the reader is in startup mode). */
  onPacket(buf: Uint8Array, start: number, end: number): void {
    const packet = decodeStartupPacket(buf, start, end);
    this.handle(packet, buf.subarray(start, end));
  }

  /** A typed frame while logging in: queued for the login's `await next()`, within bounds. */
  onLoginFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (!this.inbox) return;
    if (this.inbox.bufferedBytes + (end - start) > MAX_PRE_AUTH_BUFFERED) {
      throw new ProtocolError(`more than ${MAX_PRE_AUTH_BUFFERED} bytes sent before authentication completed`);
    }
    this.inbox.push({ type, body: buf.subarray(start + 5, end) });
  }

  /** The client went away: a login waiting on its next message or in a queue gives up. */
  dispose(): void {
    this.inbox?.fail(new Error("client disconnected"));
    this.inbox = null;
    this.leaving?.abort();
  }

  /** Aborted by dispose(); made by the login that needs it. */
  private leaving: AbortController | null = null;

  private handle(p: StartupPacket, raw: Uint8Array): void {
    const tls = this.ctx.config.listen.tls;
    const host = this.host;
    switch (p.kind) {
      case "ssl":
        // A Unix-socket client is answered N, as PostgreSQL answers it (its bytes never leave the machine).
        if (tls.mode === "disable" || this.tlsActive || host.local) {
          host.out.send(SSL_NO);
          return;
        }
        // Bytes behind SSLRequest would be plaintext injected before the handshake (the
        // CVE-2021-23214 class). `trailing` counts them however the packets were split: the
        // request may have been completed from a later chunk that carries more.
        if (host.reader.trailing > 0) throw new ProtocolError("data received after SSLRequest, before the TLS handshake");
        this.startTls();
        return;
      case "gssenc":
        host.out.send(SSL_NO);
        return;
      case "cancel":
        // `raw` may be passed to the worker that issued the key.
        this.ctx.cancel(p.processId, p.secretKey, raw);
        host.endSilently();
        return;
      case "startup":
        host.reader.expectUntyped = false;
        if (tls.mode === "require" && !this.tlsActive && !host.local) {
          throw fatal(SqlState.InvalidAuthorizationSpecification, "PgGate accepts only TLS connections (listen.tls.mode = require)", "Connect with sslmode=require.");
        }
        if (p.params.has("replication")) {
          throw fatal(SqlState.FeatureNotSupported, "replication connections are not supported through PgGate", "Connect to the server directly.");
        }
        if (p.minor > 0 || p.unknownOptions.length > 0) host.out.send(buildNegotiateProtocolVersion(0, p.unknownOptions));
        this.beginLogin(p.params);
        return;
    }
  }

  private startTls(): void {
    const pair = this.ctx.listenTls;
    if (!pair) throw new Error("TLS requested but listen.tls has no certificate loaded");
    const out = this.host.out;
    out.send(SSL_YES);
    out.flush();
    const raw = out.socket;
    const data: LinkData = { link: out, ignore: false };
    const [, tlsSocket] = raw.upgradeTLS<LinkData>({ data, tls: { cert: pair.cert, key: pair.key }, socket: linkHandlers });
    raw.data.ignore = true;
    out.socket = tlsSocket;
    this.tlsActive = true;
  }

  private beginLogin(startupParams: Map<string, string>): void {
    // Cut to 63 bytes here, once, as PostgreSQL's ProcessStartupPacket does, so everything after
    // (auth.hba, the admin check, databases:, auth lookups, pools, the server's StartupMessage)
    // sees the name of the role the server will log in: a longer name is that same role, and
    // auth.hba matching the uncut name let it past a reject line written for the role.
    const user = truncateName(startupParams.get("user") ?? "");
    const database = truncateName(startupParams.get("database") || user);
    startupParams.set("user", user);
    startupParams.set("database", database);
    const { params, pggate } = sessionParams(startupParams);
    const route = pggate.get("route");
    const admin = database === ADMIN_DATABASE || database === PGBOUNCER_ADMIN_DATABASE;
    const db = admin ? null : this.ctx.resolveDatabase(database);
    if (!admin && db === null) {
      // Refused before authentication, as PgBouncer does: there is no cluster to authenticate against.
      throw fatal(SqlState.InvalidCatalogName, `no such database: "${database}" (PgGate's databases: section does not list it)`);
    }
    const sessionRoute = route === "primary" || route === "replica" || route === "auto" ? route : (db?.routing.defaultRoute ?? "auto");
    this.inbox = new Inbox();
    const identity = { user, database, db, params, sessionRoute };
    this.host.beginLogin(identity);
    if (db === null) void this.runAdminLogin(identity, startupParams);
    else void this.runLogin(identity, db, startupParams);
  }

  /**
   * auth.hba: the first rule matching this client decides, as pg_hba.conf does on a server; no
   * rule, or `reject`, refuses it before anything else happens. Returns the rule's method.
   */
  private checkHba(id: ClientIdentity): HbaVerdict {
    const rules = this.ctx.hba;
    if (rules === null) return null;
    const client = { local: this.host.local, address: this.host.remoteAddress, ssl: this.tlsActive, database: id.database, user: id.user };
    const rule = matchHba(rules, client);
    if (rule === null) throw fatal(SqlState.InvalidAuthorizationSpecification, noEntryMessage(client));
    if (rule.method === "reject") throw fatal(SqlState.InvalidAuthorizationSpecification, rejectMessage(client));
    return rule.method;
  }

  /** The admin console: only admin.users; then PgGate answers every query itself. */
  private async runAdminLogin(id: ClientIdentity, startupParams: Map<string, string>): Promise<void> {
    try {
      this.checkHba(id);
      const reported = await loginAdmin(this.ctx, this.channel(), id.user, startupParams, id.params.get("application_name") ?? "", this.loginClient());
      if (!this.host.loggingIn) return;
      this.inbox = null;
      this.host.adminLoggedIn(reported);
    } catch (e) {
      this.loginFailed(id, e);
    }
  }

  private async runLogin(id: ClientIdentity, db: DatabaseEntry, startupParams: Map<string, string>): Promise<void> {
    try {
      const hba = this.checkHba(id);
      if (this.ctx.disabled.has(id.database)) {
        throw fatal(SqlState.CannotConnectNow, `database "${id.database}" is disabled (admin DISABLE); new connections are refused until ENABLE`);
      }
      const reported = await loginClient(this.ctx, this.channel(), { user: id.user, database: id.database, cluster: db.cluster, serverDatabase: db.serverDatabase(id.database), params: startupParams }, id.params, this.loginClient(), hba);
      if (!this.host.loggingIn) return;
      // Anything the client sent behind its last authentication message is ordinary traffic.
      const pending = (this.inbox?.drain() ?? []).map((f) => ({ type: f.type, frame: encodeFrame(f.type, f.body) }));
      this.inbox = null;
      this.host.loggedIn(reported, pending);
    } catch (e) {
      this.loginFailed(id, e);
    }
  }

  /** What the login's waits need of the client: a signal that it left, and its address. */
  private loginClient(): LoginClient {
    this.leaving ??= new AbortController();
    if (this.host.closed) this.leaving.abort();
    return { signal: this.leaving.signal, address: this.host.remoteAddress, tls: this.tlsActive };
  }

  private channel(): ClientChannel {
    const inbox = this.inbox!;
    return { send: (b) => this.host.out.send(b), next: () => inbox.next() };
  }

  private loginFailed(id: ClientIdentity, e: unknown): void {
    const host = this.host;
    if (host.closed) return;
    log.info("login_failed", { client: host.id, user: id.user, db: id.database, addr: host.remoteAddress, reason: (e as Error).message });
    if (e instanceof ServerError) {
      // The server's own verdict (wrong password, unknown database, ...) reaches the client as sent.
      this.ctx.stats.error(errorKind(e.code));
      host.out.send(e.raw);
      host.close();
    } else {
      host.failWith(e);
    }
  }
}
