// The life of one client connection, whatever it runs: its state machine (the single
// transition()), inbound bytes to frames, the end of the startup phase (greeting), the admin
// console hand-off, errors and closing. The query pump is the subclass (ClientSession); this
// file never routes a batch or touches a server connection.
import type { DatabaseEntry } from "./databases.ts";
import { buildAuthenticationOk, buildBackendKeyData, buildParameterStatus, buildReadyForQuery, FrameReader, ProtocolError, SESSION_FRONTEND_TYPES, StartupLengthError, TxStatus } from "../protocol/index.ts";
import { encodePgError, Errors, fatal, PgError, SqlState } from "../errors/index.ts";
import { Link, type LinkOwner, type LinkSocket } from "../net/link.ts";
import { LARGE_MESSAGE_BYTES } from "../net/memory-budget.ts";
import { log } from "../log/index.ts";
import { errorKind } from "../metrics/stats.ts";
import type { AdminSession, Cancellable, GatewayContext } from "./context.ts";
import { ClientStartup, MAX_PRE_AUTH_MESSAGE, type ClientIdentity, type StartupHost } from "./client-startup.ts";
import { IdSequence } from "../net/connection-ids.ts";

const AUTH_OK = buildAuthenticationOk();
const READY_IDLE = buildReadyForQuery(TxStatus.Idle);

/**
 * The ParameterStatus messages of a reported set, encoded once per set object: logins of one
 * pool are told the same set (the pool's, or a remembered startup parameter set's), so a
 * connection storm does not re-encode a dozen messages per login.
 */
const encodedStatus = new WeakMap<ReadonlyMap<string, string>, Uint8Array>();

function parameterStatusBlock(reported: ReadonlyMap<string, string>): Uint8Array {
  let block = encodedStatus.get(reported);
  if (!block) {
    const parts = [...reported].map(([name, value]) => buildParameterStatus(name, value));
    block = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      block.set(p, at);
      at += p.length;
    }
    encodedStatus.set(reported, block);
  }
  return block;
}

export type ClientState =
  /** Waiting for StartupMessage (possibly after SSLRequest / TLS handshake). */
  | "startup"
  /** Authenticating and opening the first server connection. */
  | "login"
  /** Logged in, nothing in flight. */
  | "idle"
  /** A batch is ready and waits for a pooled server connection. */
  | "waiting"
  /** A server connection is attached and owes replies, or holds an open transaction. */
  | "active"
  /** Logged into the admin console (database pggate): PgGate answers everything itself. */
  | "admin"
  | "closed";

/** Unsent client bytes above which we stop reading from the client (it waits in the kernel). */
export const QUEUE_HIGH_WATER = 1024 * 1024;
/** While waiting for a server connection, a client may queue this much before it is paused. */
export const WAIT_PAUSE_BYTES = 16 * 1024;

const clientIds = new IdSequence();

export abstract class SessionCore implements LinkOwner, StartupHost, Cancellable {
  readonly id = clientIds.next();
  state: ClientState = "startup";
  readonly out: Link;
  /**
   * A client of the Unix socket (listen.unix_socket_dir): never TLS, auth.hba local lines apply,
   * and it shows as address "unix" with the listen port, as PgBouncer shows it. All such clients
   * share that one address, so listen.max_pending_logins_per_source counts them together.
   */
  readonly local: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  readonly connectedAt = Date.now();
  processId = 0;
  secretKey = 0;
  user = "";
  database = "";
  /** The `databases:` entry serving this client: set at login, before any query (null for the admin console). */
  db: DatabaseEntry | null = null;
  waitStartedAt = 0;
  /** Transaction status the client last saw (from the server's ReadyForQuery). */
  txStatus: number = TxStatus.Idle;
  /** Last time the client sent anything (for the idle timeouts). */
  lastActivityAt = Date.now();
  readonly reader: FrameReader;
  /** Session parameters from the startup packet, applied on every server connection. */
  protected params = new Map<string, string>();
  protected sessionRoute: "auto" | "primary" | "replica" = "auto";
  protected readingPaused = false;
  private readonly startup: ClientStartup;
  private admin: AdminSession | null = null;
  private readonly sink = (type: number, buf: Uint8Array, start: number, end: number): void => this.onFrame(type, buf, start, end);

  constructor(socket: LinkSocket, protected readonly ctx: GatewayContext, unixPort: number | null = null) {
    this.out = new Link(socket, this);
    // Bun reports no address or ports for a Unix-domain socket (undefined at runtime).
    this.local = unixPort !== null;
    this.remoteAddress = unixPort === null ? socket.remoteAddress : "unix";
    this.remotePort = unixPort ?? socket.remotePort;
    this.localPort = unixPort ?? socket.localPort;
    // Until the client has authenticated, nothing it sends may be large: see MAX_PRE_AUTH_MESSAGE.
    this.reader = new FrameReader(MAX_PRE_AUTH_MESSAGE, true);
    this.startup = new ClientStartup(this, ctx);
  }

  // --- what the query pump provides -------------------------------------------------------

  /** A frame after login, outside the admin console. */
  protected abstract onSessionFrame(type: number, buf: Uint8Array, start: number, end: number): void;
  /** Routes whatever is queued (after input, after login). */
  protected abstract pumpQueued(): void;
  /** Sends what the last input produced for the servers (one write per server per event). */
  protected abstract flushOutput(): void;
  /** Bytes queued and not yet forwarded. */
  protected abstract get queuedBytes(): number;
  /** Bytes of this client's messages handed to its server connection and not yet written. */
  protected abstract get outboundBytes(): number;
  /** The client is gone: leave the registry, give back the server connection, stop waiting. */
  protected abstract releaseAll(): void;
  /** For the close log line. */
  protected abstract closeSummary(): { queries: number; pin?: string };
  /** Logged in as a normal client: session-mode pinning and the like. */
  protected abstract onLoggedIn(): void;
  abstract cancelRunningQuery(): void;
  abstract onBackpressure(backlogged: boolean): void;

  /** The single place where state changes, with everything that must change along with it. */
  protected transition(next: ClientState): void {
    const prev = this.state;
    if (prev === next || prev === "closed") return;
    this.state = next;
    if (next === "waiting") {
      this.waitStartedAt = Date.now();
      // A client waiting with a statement or two queued is simply not sent anything: it waits
      // for our answer. Pausing (two epoll changes per wait) pays off only when it keeps sending.
      if (this.queuedBytes > WAIT_PAUSE_BYTES) this.pauseReading(true);
    } else if (prev === "waiting") {
      this.waitStartedAt = 0;
      this.pauseReading(this.queuedBytes > QUEUE_HIGH_WATER);
    }
    if (next === "closed") this.onClosed(prev);
  }

  private onClosed(prev: ClientState): void {
    this.ctx.releaseKey(this);
    // Its input and statements are given back at once, and clients paused for want of room
    // resume: a client that left while holding bytes must not hold them for ever.
    this.ctx.memory.forget(this);
    this.charged = 0;
    this.startup.dispose();
    this.releaseAll();
    this.admin?.dispose();
    if (prev !== "startup") {
      log.info("client_close", {
        client: this.id,
        user: this.user,
        db: this.database,
        addr: this.remoteAddress,
        duration_ms: Date.now() - this.connectedAt,
        ...this.closeSummary(),
      });
    }
  }

  // --- inbound from the client ---------------------------------------------------------

  onData(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    this.lastActivityAt = Date.now();
    if (this.reader.reserved >= LARGE_MESSAGE_BYTES) this.ctx.memory.noteLargeInput(chunk.length);
    try {
      this.reader.push(chunk, this.sink);
      this.pumpQueued();
    } catch (e) {
      this.flushOutput();
      this.failWith(e);
      return;
    }
    this.flushOutput();
    this.chargeMemory();
  }

  /** Bytes this client's input holds in the process-wide budget (limits.max_buffered_bytes). */
  private charged = 0;
  /** Reading stopped because the budget is exhausted. */
  private budgetPaused = false;

  /** Charges what the client holds now (partial message, queued batches); pauses it past the budget. */
  protected chargeMemory(): void {
    // A closed client's share was given back in onClosed and must not come back.
    if (this.state === "closed") return;
    // A forwarded message stays in memory until the server took it: that counts too.
    const holds = this.reader.reserved + this.queuedBytes + this.outboundBytes;
    const delta = holds - this.charged;
    if (delta === 0) return;
    this.charged = holds;
    if (this.ctx.memory.charge(this, delta, holds) && !this.budgetPaused) {
      this.budgetPaused = true;
      this.out.pause();
    }
  }

  budgetResumed(): void {
    if (!this.budgetPaused || this.state === "closed") return;
    this.budgetPaused = false;
    // Other reasons to stay paused (a full queue, backpressure) keep their own pause.
    if (!this.readingPaused) this.out.resume();
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    switch (this.state) {
      case "idle":
      case "active":
      case "waiting":
        if (SESSION_FRONTEND_TYPES[type] === 0) {
          this.fail(Errors.invalidMessageType(type));
          return;
        }
        this.onSessionFrame(type, buf, start, end);
        return;
      case "startup":
        if (this.reader.expectUntyped) this.startup.onPacket(buf, start, end);
        return;
      case "login":
        this.startup.onLoginFrame(type, buf, start, end);
        return;
      case "admin":
        this.admin?.onFrame(type, buf, start, end);
        return;
      case "closed":
        return;
    }
  }

  send(buf: Uint8Array): void {
    this.out.send(buf);
  }

  onClose(_error: Error | undefined): void {
    this.transition("closed");
  }

  protected pauseReading(pause: boolean): void {
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.out.pause();
    else if (!this.budgetPaused) this.out.resume();
  }

  // --- StartupHost: the end of the startup phase ---------------------------------------------

  get applicationName(): string {
    return this.params.get("application_name") ?? "";
  }

  get tls(): boolean {
    return this.startup.tlsActive;
  }

  get loggingIn(): boolean {
    return this.state === "login";
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  beginLogin(id: ClientIdentity): void {
    this.user = id.user;
    this.database = id.database;
    this.db = id.db;
    this.params = id.params;
    this.sessionRoute = id.sessionRoute;
    this.transition("login");
  }

  loggedIn(reported: ReadonlyMap<string, string>, pending: readonly { type: number; frame: Uint8Array }[]): void {
    this.greet(reported, true);
    this.onLoggedIn();
    this.transition("idle");
    log.info("client_login", { client: this.id, user: this.user, db: this.database, addr: this.remoteAddress, tls: this.startup.tlsActive });
    for (const p of pending) this.onSessionFrame(p.type, p.frame, 0, p.frame.length);
    this.pumpQueued();
  }

  adminLoggedIn(reported: ReadonlyMap<string, string>): void {
    this.greet(reported, false);
    const open = this.ctx.openAdmin;
    if (!open) throw new Error("admin console not wired to a gateway");
    this.admin = open((b) => this.out.send(b), () => this.close(), this.user);
    this.transition("admin");
    log.info("admin_login", { client: this.id, user: this.user, addr: this.remoteAddress });
  }

  endSilently(): void {
    this.transition("closed");
    this.out.destroy();
  }

  /** AuthenticationOk, the ParameterStatus set, our BackendKeyData, ReadyForQuery. */
  private greet(reported: ReadonlyMap<string, string>, cancellable: boolean): void {
    const key = this.ctx.issueKey();
    this.processId = key.processId;
    this.secretKey = key.secretKey;
    if (cancellable) this.ctx.registerKey(this);
    this.out.send(AUTH_OK);
    this.out.send(parameterStatusBlock(reported));
    this.out.send(buildBackendKeyData(this.processId, this.secretKey));
    this.out.send(READY_IDLE);
    // Authenticated: from now on the configured limit applies, and a large message may be
    // allocated whole (held once) while the memory budget has room for it.
    this.reader.maxMessageSize = this.ctx.config.listen.maxMessageSize;
    this.reader.allocateWhole = this.ctx.memory.fitsFn;
  }

  // --- errors and closing ----------------------------------------------------------------

  failWith(e: unknown): void {
    if (e instanceof StartupLengthError) {
      // As PostgreSQL: logged, nothing sent (see StartupLengthError).
      log.info("startup_rejected", { client: this.id, addr: this.remoteAddress, reason: e.message });
      this.ctx.stats.error(errorKind(SqlState.ProtocolViolation));
      this.endSilently();
      return;
    }
    if (e instanceof PgError) this.fail(e);
    else if (e instanceof ProtocolError) this.fail(Errors.protocolViolation(e.message));
    else {
      log.error("client_internal_error", { client: this.id, error: (e as Error).message, stack: (e as Error).stack?.split("\n")[1]?.trim() });
      this.fail(fatal(SqlState.InternalError, `PgGate internal error: ${(e as Error).message}`));
    }
  }

  /** Sends an error; FATAL also closes the connection, ERROR is followed by ReadyForQuery. */
  fail(e: PgError): void {
    if (this.state === "closed") return;
    this.ctx.stats.error(errorKind(e.code));
    this.out.send(encodePgError(e));
    if (!e.isFatal) {
      this.out.send(buildReadyForQuery(this.txStatus));
      return;
    }
    this.close();
  }

  close(): void {
    if (this.state === "closed") return;
    this.transition("closed");
    this.out.close();
  }
}
