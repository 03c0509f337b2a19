// One client connection: startup (SSL/GSS/cancel negotiation), login, then forwarding to its
// server connection. Every state change goes through transition(); the hot path is synchronous.
import {
  Backend,
  buildAuthenticationOk,
  buildBackendKeyData,
  buildNegotiateProtocolVersion,
  buildParameterStatus,
  buildReadyForQuery,
  decodeStartupPacket,
  FrameReader,
  Frontend,
  ProtocolError,
  TxStatus,
  UNTYPED,
  type StartupPacket,
} from "../protocol/index.ts";
import { encodePgError, Errors, fatal, PgError, SqlState } from "../errors/index.ts";
import { ForwardRun } from "../net/forward-run.ts";
import { Inbox } from "../net/inbox.ts";
import { Link, linkHandlers, type LinkData, type LinkOwner, type LinkSocket } from "../net/link.ts";
import { log } from "../log/index.ts";
import { sendCancel } from "./cancel.ts";
import type { Cancellable, ClientHandle, GatewayContext } from "./context.ts";
import { login, type StartupInfo } from "./login.ts";
import { ServerError, type ServerConn, type ServerConsumer } from "./server-conn.ts";

export type ClientState =
  /** Waiting for StartupMessage (possibly after SSLRequest / TLS handshake). */
  | "startup"
  /** Authenticating and opening the server connection. */
  | "login"
  /** Logged in, no reply owed by the server. */
  | "idle"
  /** At least one Query/Sync/FunctionCall awaits its ReadyForQuery. */
  | "active"
  | "closed";

const SSL_YES = new Uint8Array([0x53]);
const SSL_NO = new Uint8Array([0x4e]);

let nextClientId = 1;

export class ClientSession implements LinkOwner, ServerConsumer, Cancellable, ClientHandle {
  readonly id = nextClientId++;
  state: ClientState = "startup";
  readonly out: Link;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  processId = 0;
  secretKey = 0;
  user = "";
  database = "";
  queries = 0;
  /** Last ReadyForQuery status seen ('I', 'T' or 'E'). */
  txStatus: number = TxStatus.Idle;
  private readonly ctx: GatewayContext;
  private readonly reader: FrameReader;
  private inbox: Inbox | null = null;
  private server: ServerConn | null = null;
  /** ReadyForQuery messages the server still owes: one per Query, Sync and FunctionCall sent. */
  private pendingReplies = 0;
  private tlsActive = false;
  private handshakeTimer: ReturnType<typeof setTimeout> | null;
  private readonly run = new ForwardRun();
  private readonly sink = (type: number, buf: Uint8Array, start: number, end: number): void =>
    this.onFrame(type, buf, start, end);

  constructor(socket: LinkSocket, ctx: GatewayContext) {
    this.ctx = ctx;
    this.out = new Link(socket, this);
    this.remoteAddress = socket.remoteAddress;
    this.reader = new FrameReader(ctx.config.listen.maxMessageSize, true);
    ctx.clients.add(this);
    const ms = ctx.config.listen.handshakeTimeoutMs;
    this.handshakeTimer = setTimeout(() => this.fail(Errors.handshakeTimeout(ms)), ms);
  }

  /** The single place where state changes, with everything that must change along with it. */
  private transition(next: ClientState): void {
    const prev = this.state;
    if (prev === next || prev === "closed") return;
    this.state = next;
    if (prev === "startup" || prev === "login") {
      if (next !== "login" && this.handshakeTimer) {
        clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
      }
    }
    if (next === "closed") {
      if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
      this.ctx.clientCount--;
      this.ctx.clients.delete(this);
      this.ctx.releaseKey(this);
      this.inbox?.fail(new Error("client disconnected"));
      const s = this.server;
      this.server = null;
      if (s) {
        s.detach();
        s.terminate();
      }
      if (prev !== "startup") {
        log.info("client_close", {
          client: this.id,
          user: this.user,
          db: this.database,
          addr: this.remoteAddress,
          duration_ms: Date.now() - this.connectedAt,
          queries: this.queries,
        });
      }
    }
  }

  // --- inbound from the client ---------------------------------------------------------

  onData(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    try {
      this.reader.push(chunk, this.sink);
    } catch (e) {
      this.run.flush();
      if (e instanceof ProtocolError) this.fail(Errors.protocolViolation(e.message));
      else if (e instanceof PgError) this.fail(e);
      else this.fail(fatal(SqlState.InternalError, `internal error: ${(e as Error).message}`));
      return;
    }
    this.run.flush();
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    switch (this.state) {
      case "idle":
      case "active":
        this.forward(type, buf, start, end);
        return;
      case "startup":
        if (type === UNTYPED) this.onStartupPacket(decodeStartupPacket(buf, start, end), end < buf.length);
        return;
      case "login":
        this.inbox?.push({ type, body: buf.subarray(start + 5, end) });
        return;
      case "closed":
        return;
    }
  }

  /** Hot path: count the replies each message will produce, forward the bytes as they are. */
  private forward(type: number, buf: Uint8Array, start: number, end: number): void {
    const server = this.server;
    if (!server) return;
    switch (type) {
      case Frontend.Query:
      case Frontend.Sync:
      case Frontend.FunctionCall:
        this.pendingReplies++;
        this.queries++;
        this.transition("active");
        break;
      case Frontend.Terminate:
        this.run.flush();
        this.close();
        return;
    }
    this.run.add(server.link, buf, start, end);
  }

  private onStartupPacket(p: StartupPacket, moreBytesFollow: boolean): void {
    const tls = this.ctx.config.listen.tls;
    switch (p.kind) {
      case "ssl":
        if (tls.mode === "disable" || this.tlsActive) {
          this.out.send(SSL_NO);
          return;
        }
        // Bytes pipelined behind SSLRequest would be plaintext injected before the handshake.
        if (moreBytesFollow) throw new ProtocolError("data received after SSLRequest, before the TLS handshake");
        this.startTls();
        return;
      case "gssenc":
        this.out.send(SSL_NO);
        return;
      case "cancel":
        this.ctx.findByKey(p.processId, p.secretKey)?.cancelRunningQuery();
        this.transition("closed");
        this.out.destroy();
        return;
      case "startup":
        this.reader.expectUntyped = false;
        if (tls.mode === "require" && !this.tlsActive) {
          this.fail(
            fatal(
              SqlState.InvalidAuthorizationSpecification,
              "PgGate accepts only TLS connections (listen.tls.mode = require)",
              "Connect with sslmode=require.",
            ),
          );
          return;
        }
        if (p.params.has("replication")) {
          this.fail(fatal(SqlState.FeatureNotSupported, "replication connections are not supported through PgGate", "Connect to the server directly."));
          return;
        }
        if (p.minor > 0 || p.unknownOptions.length > 0) {
          this.out.send(buildNegotiateProtocolVersion(0, p.unknownOptions));
        }
        this.beginLogin(p.params);
        return;
    }
  }

  private startTls(): void {
    const { cert, key } = this.ctx.config.listen.tls;
    this.out.send(SSL_YES);
    this.out.flush();
    const raw = this.out.socket;
    const data: LinkData = { link: this.out, ignore: false };
    const [, tlsSocket] = raw.upgradeTLS<LinkData>({
      data,
      tls: { cert: Bun.file(cert), key: Bun.file(key) },
      socket: linkHandlers,
    });
    raw.data.ignore = true;
    this.out.socket = tlsSocket;
    this.tlsActive = true;
  }

  // --- login ---------------------------------------------------------------------------

  private beginLogin(params: Map<string, string>): void {
    this.user = params.get("user") ?? "";
    this.database = params.get("database") || this.user;
    params.set("database", this.database);
    this.inbox = new Inbox();
    this.transition("login");
    void this.runLogin({ user: this.user, database: this.database, params });
  }

  private async runLogin(startup: StartupInfo): Promise<void> {
    const inbox = this.inbox!;
    try {
      const { server } = await login(this.ctx, { send: (b) => this.out.send(b), next: () => inbox.next() }, startup);
      if (this.state !== "login") {
        server.terminate();
        return;
      }
      this.server = server;
      server.attach(this);
      const key = this.ctx.issueKey();
      this.processId = key.processId;
      this.secretKey = key.secretKey;
      this.ctx.registerKey(this);
      this.out.send(buildAuthenticationOk());
      for (const [name, value] of server.params) this.out.send(buildParameterStatus(name, value));
      this.out.send(buildBackendKeyData(this.processId, this.secretKey));
      this.out.send(buildReadyForQuery(TxStatus.Idle));
      this.inbox = null;
      this.transition("idle");
      log.info("client_login", { client: this.id, user: this.user, db: this.database, addr: this.remoteAddress, tls: this.tlsActive });
      // Anything the client pipelined behind its last auth message is ordinary traffic now.
      for (const f of inbox.drain()) this.forwardBody(f.type, f.body);
    } catch (e) {
      if (this.state === "closed") return;
      log.info("login_failed", { client: this.id, user: this.user, db: this.database, addr: this.remoteAddress, reason: (e as Error).message });
      if (e instanceof ServerError) {
        this.out.send(e.raw);
        this.close();
      } else if (e instanceof PgError) {
        this.fail(e);
      } else if (e instanceof ProtocolError) {
        this.fail(Errors.protocolViolation(e.message));
      } else {
        this.fail(fatal(SqlState.ConnectionFailure, (e as Error).message));
      }
    }
  }

  private forwardBody(type: number, body: Uint8Array): void {
    const frame = new Uint8Array(body.length + 5);
    frame[0] = type;
    new DataView(frame.buffer).setInt32(1, body.length + 4);
    frame.set(body, 5);
    this.forward(type, frame, 0, frame.length);
    this.run.flush();
  }

  // --- ServerConsumer --------------------------------------------------------------------

  onServerMessage(type: number, buf: Uint8Array, start: number, _end: number): boolean {
    if (type === Backend.ReadyForQuery) {
      this.txStatus = buf[start + 5];
      if (--this.pendingReplies <= 0) {
        this.pendingReplies = 0;
        this.transition("idle");
      }
    }
    return true;
  }

  onServerBackpressure(backlogged: boolean): void {
    // The server is not taking our writes fast enough: stop reading from the client.
    if (backlogged) this.out.pause();
    else this.out.resume();
  }

  onServerClose(_conn: ServerConn, error: Error | undefined): void {
    if (this.state === "closed") return;
    this.server = null;
    this.fail(
      fatal(
        SqlState.ConnectionFailure,
        `server connection to the ${this.ctx.primary.name} was lost${error ? `: ${error.message}` : ""}`,
        "Reconnect; PgGate will open a new server connection.",
      ),
    );
  }

  // --- LinkOwner (client socket) ---------------------------------------------------------

  onBackpressure(backlogged: boolean): void {
    // The client is not reading fast enough: stop reading from its server (bounded memory).
    if (backlogged) this.server?.pause();
    else this.server?.resume();
  }

  onClose(_error: Error | undefined): void {
    this.transition("closed");
  }

  // --- Cancellable -----------------------------------------------------------------------

  cancelRunningQuery(): void {
    const s = this.server;
    if (!s || this.pendingReplies === 0) return;
    sendCancel(s.node, s.processId, s.secretKey);
  }

  // --- closing ---------------------------------------------------------------------------

  /** Sends an error; FATAL also closes the connection, ERROR is followed by ReadyForQuery. */
  fail(e: PgError): void {
    if (this.state === "closed") return;
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
