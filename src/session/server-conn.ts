// One connection from PgGate to a PostgreSQL node: connect, TLS, startup, then streaming frames
// to whichever client is attached. Owns the server-side FrameReader; never decides routing.
import {
  Backend,
  buildSSLRequest,
  buildStartupMessage,
  buildTerminate,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
  encodeFrame,
  ErrorField,
  FrameReader,
  type ErrorFields,
} from "../protocol/index.ts";
import { Inbox, type InboxFrame } from "../net/inbox.ts";
import { ForwardRun } from "../net/forward-run.ts";
import { Link, linkHandlers, type LinkData, type LinkOwner, type LinkSocket } from "../net/link.ts";
import type { ServerTlsMode } from "../config/types.ts";

export interface NodeTarget {
  /** "primary" or "replica<i>": used in logs, errors and metrics. */
  name: string;
  host: string;
  port: number;
}

export interface ServerTlsOptions {
  mode: ServerTlsMode;
  ca: string;
  serverName: string;
}

/** An ErrorResponse a server sent during startup; carries its fields so we can relay them. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  constructor(readonly fields: ErrorFields, readonly raw: Uint8Array) {
    super(fields.get(ErrorField.Message) ?? "server error");
  }
  get code(): string {
    return this.fields.get(ErrorField.Code) ?? "";
  }
}

/** Receives an attached server's traffic. */
export interface ServerConsumer {
  /** Where forwarded frames go. */
  readonly out: Link;
  /**
   * Called for ReadyForQuery, ErrorResponse, ParameterStatus, NotificationResponse and the COPY
   * start messages before they are forwarded. Return false to swallow the frame.
   */
  onServerMessage(type: number, buf: Uint8Array, start: number, end: number): boolean;
  onServerBackpressure(backlogged: boolean): void;
  onServerClose(conn: ServerConn, error: Error | undefined): void;
}

export type ServerState = "connecting" | "startup" | "idle" | "active" | "closed";

/** Message types the consumer must see; everything else is forwarded blind. */
const INSPECT = new Uint8Array(256);
for (const t of [
  Backend.ReadyForQuery,
  Backend.ErrorResponse,
  Backend.ParameterStatus,
  Backend.NotificationResponse,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
  Backend.CopyBothResponse,
]) {
  INSPECT[t] = 1;
}

let nextServerId = 1;

export class ServerConn implements LinkOwner {
  readonly id = nextServerId++;
  readonly node: NodeTarget;
  state: ServerState = "connecting";
  readonly params = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  /** Whether this connection runs over TLS (decides whether SCRAM channel binding is offered). */
  tlsActive = false;
  readonly createdAt = Date.now();
  link!: Link;
  private readonly reader: FrameReader;
  private inbox: Inbox | null = new Inbox();
  private consumer: ServerConsumer | null = null;
  /** Contiguous forwardable bytes of the current chunk, sent as one view. */
  private readonly run = new ForwardRun();
  private readonly sink = (type: number, buf: Uint8Array, start: number, end: number): void =>
    this.onFrame(type, buf, start, end);

  private constructor(node: NodeTarget, maxMessageSize: number) {
    this.node = node;
    this.reader = new FrameReader(maxMessageSize);
  }

  /**
   * Opens TCP (and TLS per `tls.mode`), sends the StartupMessage and returns; the caller then
   * drives authentication with `nextStartupFrame()` / `send()` and finishes with `completeStartup()`.
   */
  static async connect(
    node: NodeTarget,
    startupParams: ReadonlyMap<string, string>,
    tls: ServerTlsOptions,
    timeoutMs: number,
    maxMessageSize: number,
  ): Promise<ServerConn> {
    const conn = new ServerConn(node, maxMessageSize);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect timeout after ${timeoutMs} ms (nodes.connect_timeout_ms)`)), timeoutMs);
    });
    try {
      await Promise.race([conn.open(tls), timeout]);
    } catch (e) {
      conn.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    conn.state = "startup";
    conn.link.send(buildStartupMessage(startupParams));
    return conn;
  }

  private async open(tls: ServerTlsOptions): Promise<void> {
    const data: LinkData = { link: null, ignore: false };
    let socket: LinkSocket;
    try {
      socket = await Bun.connect<LinkData>({ hostname: this.node.host, port: this.node.port, socket: linkHandlers, data });
    } catch (e) {
      throw new Error(`connection to ${this.node.host}:${this.node.port} failed: ${(e as Error).message}`);
    }
    this.link = new Link(socket, this);
    socket.setNoDelay(true);
    if (tls.mode === "disable") return;
    // SSLRequest: the server answers one unframed byte, 'S' or 'N' ("SSL Session Encryption").
    const answer = new Promise<number>((resolve, reject) => {
      this.pendingByte = { resolve, reject };
    });
    this.link.send(buildSSLRequest());
    const byte = await answer;
    if (byte !== 0x53) {
      if (tls.mode === "prefer") return;
      throw new Error(`server does not support TLS but nodes.tls.mode is ${tls.mode}`);
    }
    await this.upgradeTls(socket, tls);
    this.tlsActive = true;
  }

  private pendingByte: { resolve: (b: number) => void; reject: (e: Error) => void } | null = null;

  private upgradeTls(raw: LinkSocket, tls: ServerTlsOptions): Promise<void> {
    const verify = tls.mode === "verify-full";
    return new Promise<void>((resolve, reject) => {
      const data: LinkData = {
        link: this.link,
        ignore: false,
        onOpen: (s) => {
          data.onOpen = undefined;
          // A failed certificate check surfaces only here (BUN-NOTES), so check it ourselves.
          if (verify && !s.authorized) {
            const why = s.getAuthorizationError()?.message ?? "certificate not trusted";
            reject(new Error(`TLS certificate of ${this.node.host}:${this.node.port} rejected: ${why}`));
            return;
          }
          resolve();
        },
      };
      const ca = tls.ca ? Bun.file(tls.ca) : undefined;
      const [, tlsSocket] = raw.upgradeTLS<LinkData>({
        data,
        tls: { ca, serverName: tls.serverName || this.node.host, rejectUnauthorized: verify },
        socket: linkHandlers,
      });
      raw.data.ignore = true;
      this.link.socket = tlsSocket;
      this.closeWaiter = reject;
    });
  }

  private closeWaiter: ((e: Error) => void) | null = null;

  /** Next frame of the startup phase (authentication requests, ParameterStatus, ...). */
  nextStartupFrame(): Promise<InboxFrame> {
    if (!this.inbox) throw new Error("startup already completed");
    return this.inbox.next();
  }

  send(buf: Uint8Array): void {
    this.link.send(buf);
  }

  /**
   * After AuthenticationOk: collects ParameterStatus and BackendKeyData up to ReadyForQuery.
   * A server ErrorResponse (e.g. unknown database) is thrown as ServerError.
   */
  async completeStartup(): Promise<void> {
    for (;;) {
      const f = await this.nextStartupFrame();
      switch (f.type) {
        case Backend.ParameterStatus: {
          const p = decodeParameterStatus(f.body, 0, f.body.length);
          this.params.set(p.name, p.value);
          break;
        }
        case Backend.BackendKeyData: {
          const k = decodeBackendKeyData(f.body, 0, f.body.length);
          this.processId = k.processId;
          this.secretKey = k.secretKey;
          break;
        }
        case Backend.ErrorResponse:
          throw this.serverError(f);
        case Backend.ReadyForQuery:
          this.inbox = null;
          this.state = "idle";
          return;
        default:
          // NoticeResponse and anything else informational during startup is not the client's.
          break;
      }
    }
  }

  serverError(f: InboxFrame): ServerError {
    return new ServerError(decodeErrorFields(f.body, 0, f.body.length), encodeFrame(Backend.ErrorResponse, f.body));
  }

  /**
   * Runs PgGate's own request on an idle connection (auth lookups, health checks, resets) and
   * returns every frame up to and including ReadyForQuery. Off the hot path by design.
   */
  async internalQuery(request: Uint8Array): Promise<InboxFrame[]> {
    if (this.state !== "idle" || this.consumer) throw new Error(`server connection ${this.id} is not idle`);
    this.inbox = new Inbox();
    this.link.send(request);
    const frames: InboxFrame[] = [];
    try {
      for (;;) {
        const f = await this.inbox.next();
        frames.push(f);
        if (f.type === Backend.ReadyForQuery) return frames;
      }
    } finally {
      this.inbox = null;
    }
  }

  /** Routes this connection's traffic to `consumer` until `detach()`. */
  attach(consumer: ServerConsumer): void {
    this.consumer = consumer;
    this.state = "active";
  }

  detach(): void {
    this.consumer = null;
    if (this.state === "active") this.state = "idle";
  }

  pause(): void {
    this.link.pause();
  }

  resume(): void {
    this.link.resume();
  }

  /** Polite close: Terminate, then close. */
  terminate(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.link.send(buildTerminate());
    this.link.close();
  }

  destroy(): void {
    this.state = "closed";
    this.link?.destroy();
  }

  // --- LinkOwner -------------------------------------------------------------------------

  onData(chunk: Uint8Array): void {
    if (this.pendingByte) {
      const p = this.pendingByte;
      this.pendingByte = null;
      p.resolve(chunk[0]);
      return;
    }
    try {
      this.reader.push(chunk, this.sink);
    } catch (e) {
      this.inbox?.fail(e as Error);
      this.destroy();
      this.consumer?.onServerClose(this, e as Error);
      return;
    }
    this.run.flush();
  }

  onBackpressure(backlogged: boolean): void {
    this.consumer?.onServerBackpressure(backlogged);
  }

  onClose(error: Error | undefined): void {
    this.state = "closed";
    const e = error ?? new Error(`server ${this.node.name} closed the connection`);
    this.pendingByte?.reject(e);
    this.pendingByte = null;
    this.closeWaiter?.(e);
    this.inbox?.fail(e);
    const c = this.consumer;
    this.consumer = null;
    c?.onServerClose(this, error);
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (this.inbox) {
      this.inbox.push({ type, body: buf.subarray(start + 5, end) });
      return;
    }
    const c = this.consumer;
    if (!c) {
      this.onUnattachedFrame(type, buf, start, end);
      return;
    }
    // The consumer may detach us in onServerMessage (ReadyForQuery ending a transaction): the
    // frame still belongs to it, so `c` is captured before the call.
    if (INSPECT[type] === 1 && !c.onServerMessage(type, buf, start, end)) {
      this.run.flush();
      return;
    }
    this.run.add(c.out, buf, start, end);
  }

  /** Idle in a pool: only a fatal error (e.g. admin shutdown) matters; it ends the connection. */
  private onUnattachedFrame(type: number, _buf: Uint8Array, _start: number, _end: number): void {
    if (type === Backend.ErrorResponse) this.destroy();
  }
}
