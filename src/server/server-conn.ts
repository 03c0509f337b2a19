// One connection from PgGate to a PostgreSQL node: connect, TLS, startup, then streaming frames
// to whichever client is attached. Owns the server-side FrameReader; never decides routing.
import {
  Backend,
  buildQuery,
  buildSSLRequest,
  buildStartupMessage,
  buildTerminate,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
  encodeFrame,
  ErrorField,
  FrameReader,
  TxStatus,
} from "../protocol/index.ts";
import type { NodeStats, PoolCounters } from "../metrics/stats.ts";
import { Settle, type Settleable } from "./settle.ts";
import type { StatementShape } from "./statement-shape.ts";
import { StatementReplies, type PlanChanged } from "./statement-replies.ts";
import { statementNames } from "./statement-names.ts";
import { InternalQueries } from "./internal-queries.ts";
import { CancelFence, unwatchCancels, watchCancels } from "./cancel.ts";
import type { NodeTarget } from "./node-target.ts";
import { Inbox, type InboxFrame } from "../net/inbox.ts";
import { ForwardRun } from "../net/forward-run.ts";
import { Link, linkHandlers, type LinkData, type LinkOwner, type LinkSocket } from "../net/link.ts";
import { IdSequence } from "../net/connection-ids.ts";

export type { NodeTarget } from "./node-target.ts";

export { ServerError, type HeldFailure, type ServerConsumer, type ServerState, type ServerTlsOptions } from "./server-types.ts";
import { COMMITS, INSPECT, replayableFailure, ServerError, type HeldFailure, type ServerConsumer, type ServerState, type ServerTlsOptions } from "./server-types.ts";

const serverIds = new IdSequence();

/** TCP keepalive for new server connections (nodes.tcp_keepalive*), set from the config. */
const keepalive = { enabled: true, idleMs: 30_000 };

export function setServerKeepalive(enabled: boolean, idleMs: number): void {
  keepalive.enabled = enabled;
  keepalive.idleMs = idleMs;
}

/**
 * Rows of a held replica batch kept back before it counts as seen by the client: small results
 * (most reads) are replayable until their CommandComplete; larger ones stream as before.
 */
const MAX_HELD_ROW_BYTES = 64 * 1024;

export class ServerConn implements LinkOwner, Settleable {
  readonly id = serverIds.next();
  readonly node: NodeTarget;
  state: ServerState = "connecting";
  readonly params = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  /** Whether this connection runs over TLS (decides whether SCRAM channel binding is offered). */
  tlsActive = false;
  readonly createdAt = Date.now();
  link!: Link;
  // Pool bookkeeping (which pool it belongs to is kept by src/pool).
  /** Traffic counters of this connection's node (set when it joins a pool). */
  stats: NodeStats | null = null;
  /** The same for its pool (per-pool metrics). */
  poolStats: PoolCounters | null = null;
  lastUsedAt = Date.now();
  /** When the server last sent anything (performance.now()): proof of life for the health checks. */
  lastDataAt = 0;
  /** When max lifetime (with jitter) retires this connection; 0 = never. */
  retireAt = 0;
  /** Called when the connection closes while not attached to a client. */
  onIdleClose: (() => void) | null = null;
  /**
   * Takes every NotificationResponse, whatever else is in flight (a LISTEN hub's connection: they
   * arrive between its own queries' replies too). The frame is a view valid during the call.
   */
  onNotification: ((buf: Uint8Array, start: number, end: number) => void) | null = null;
  /** Cancels aimed at this backend: the pool lends the connection again only once they are spent. */
  readonly cancels = new CancelFence(this);
  // Reply accounting: what the server still owes, learnt from the messages we sent.
  /** ReadyForQuery messages owed for client traffic (one per Query, Sync, FunctionCall). */
  pendingReplies = 0;
  /** Transaction status of the last ReadyForQuery. */
  txStatus: number = TxStatus.Idle;
  /** Between CopyInResponse and the next ReadyForQuery: the server waits for CopyData. */
  inCopyIn = false;
  /** Our own queries (parameter sync, resets) whose replies are swallowed. */
  /** PgGate's own queries outstanding on this connection. */
  private readonly internal: InternalQueries;
  /** Session parameters PgGate applied with SET, to compute the next client's minimal diff. */
  readonly applied = new Map<string, string>();
  /**
   * Server-side prepared statement names, least recently used first, with their shape once a
   * Describe of them passed (null until then).
   */
  readonly prepared = new Map<string, StatementShape | null>();
  /** The client (and statement text) whose unnamed statement this connection holds. */
  unnamedOwner: object | null = null;
  /**
   * PgGate's statements a "cached plan must not change result type" error invalidated: dropped
   * (by name, so a pinned client's own SQL-PREPARE'd statements survive) before the next message.
   */
  private stale: string[] = [];
  /** statementNames.retiredGen when this connection last looked for retired copies among its own. */
  private retiredSeen = statementNames.retiredGen;
  /**
   * A replica batch's replies are held back until its first result (its command completing, or
   * more than MAX_HELD_ROW_BYTES of rows), so a 25006 or a replica dying can still be replayed
   * elsewhere. Within one received chunk they simply wait in the unflushed run;
   * only a hold that spans chunks copies ranges into `held`.
   */
  private holding = false;
  private readonly held: { buf: Uint8Array; start: number; end: number }[] = [];
  /** Discarding a failed held batch's replies up to its ReadyForQuery (and why it failed). */
  private discarding: HeldFailure | null = null;
  /** What the server still owes for statement messages (ParseComplete, Describe answers, forced errors). */
  private readonly replies = new StatementReplies(this.prepared);
  private seqSent = 0;
  private seqDone = 0;
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
    this.internal = new InternalQueries(this);
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
    // So the kernel notices a peer that vanished without a FIN (Bun exposes no TCP_USER_TIMEOUT).
    if (keepalive.enabled) socket.setKeepAlive(true, keepalive.idleMs);
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
          if (this.processId !== 0) watchCancels(this.node, this.processId, this.cancels);
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
        if (f.type === Backend.ParameterStatus) {
          const p = decodeParameterStatus(f.body, 0, f.body.length);
          this.params.set(p.name, p.value);
        }
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
    this.holding = false;
    this.held.length = 0;
    this.discarding = null;
    if (this.state === "active") this.state = "idle";
  }

  get isAttached(): boolean {
    return this.consumer !== null;
  }

  get retired(): boolean {
    return this.retireAt > 0 && Date.now() >= this.retireAt;
  }

  /**
   * Holds the replies of the batch about to be sent until it produces a result: if it fails with
   * 25006 (read-only transaction) before that, the client never sees it and may replay it.
   */
  holdReplies(): void {
    // This may run inside the handling of the previous client's ReadyForQuery (the connection
    // was handed over synchronously): the hold belongs to the client attached now, and frames
    // still pending for the previous one are never held.
    this.holding = true;
    this.holder = this.consumer;
    this.held.length = 0;
    this.heldBytes = 0;
  }

  /** DataRow bytes of the held batch so far (see MAX_HELD_ROW_BYTES). */
  private heldBytes = 0;

  /** The client whose batch's replies are held. */
  private holder: ServerConsumer | null = null;

  /** Ends the pending run (before a skipped frame, or at chunk end): kept back if it is the holder's, else sent. */
  private readonly cutRunFn = (): void => this.cutRun();

  private cutRun(): void {
    if (this.holding && this.holder !== null && this.run.isFor(this.holder.out)) this.run.spillInto(this.held);
    else this.run.flush();
  }

  /** The client sent a message that ends in ReadyForQuery (Query, Sync, FunctionCall). */
  expectReply(): void {
    this.pendingReplies++;
    this.seqSent++;
  }

  /**
   * We are sending a Parse; its ParseComplete is forwarded or, if injected by us, swallowed.
   * `answered` is told whether the server created the statement: true at the ParseComplete,
   * false when the Parse failed or was skipped after an earlier error of its batch.
   */
  expectParse(serverName: string | null, swallow: boolean, answered: ((accepted: boolean) => void) | null = null): void {
    this.replies.expectParse(this.seqSent, serverName, swallow, answered);
    if (serverName) this.touchPrepared(serverName);
  }

  /** We are sending a Bind of PgGate's `serverName` (null: any other); `changed` hears of a 0A000. */
  expectBind(serverName: string | null, changed: PlanChanged | null): void {
    this.replies.expectBind(this.seqSent, serverName, changed);
  }

  /** We are sending a Close: the client's (answer forwarded) or, with `serverName`, our own (swallowed). */
  expectClose(serverName: string | null): void {
    this.replies.expectClose(this.seqSent, serverName);
    if (serverName !== null) this.prepared.delete(serverName);
  }

  touchPrepared(serverName: string): void {
    const shape = this.prepared.get(serverName) ?? null;
    this.prepared.delete(serverName);
    this.prepared.set(serverName, shape);
  }

  /**
   * We are sending a Describe of a statement ('S'); its ParameterDescription and RowDescription
   * or NoData are forwarded or, if `swallow`, kept from the client. `done` gets the shape (also
   * recorded for `serverName`), or null when the server skipped the Describe.
   */
  expectDescribe(serverName: string | null, swallow: boolean, done: ((shape: StatementShape | null, conn: ServerConn) => void) | null): void {
    this.replies.expectDescribe(this.seqSent, serverName, swallow, done ? (shape) => done(shape, this) : null);
  }

  /**
   * We are sending a message that fails with "prepared statement <marker> does not exist": the
   * client sees `substitute` instead. It makes the server fail the batch (abort the transaction,
   * skip to Sync) exactly where the client's own message would have failed on a dedicated
   * connection. If an earlier error already made the server skip it, nothing is replaced.
   */
  expectForcedError(marker: string, substitute: Uint8Array): void {
    this.replies.expectForcedError(this.seqSent, marker, substitute);
  }

  /**
   * The next ErrorResponse with SQLSTATE `code` (before the connection owes nothing more) reaches
   * the client as `substitute`: the 57014 a query-timeout cancel provokes says why.
   */
  replaceNextError(code: string, substitute: Uint8Array): void {
    this.replies.replaceNextError(code, substitute);
  }

  /** An error arrived in the batch being sent: the server ignores everything up to its Sync. */
  get skippingToSync(): boolean {
    return this.replies.skipping(this.seqSent);
  }

  /**
   * Sends a simple Query of PgGate's own ahead of the client's next message. Its replies are
   * swallowed; `onRow` sees its rows (text values), `done` runs at its ReadyForQuery.
   */
  sendInternal(sql: string, onRow?: (values: (string | null)[]) => void, done?: (ok: boolean) => void, expectedCode?: string): void {
    this.internal.add(this.seqSent, onRow, done, expectedCode);
    this.link.send(buildQuery(sql));
  }

  /**
   * Like sendInternal, for settings PgGate sets back on the client's behalf (its startup values
   * after RESET or SET ... TO DEFAULT): the server's ParameterStatus reports of them reach the
   * client, in order, so a driver's idea of client_encoding, DateStyle or TimeZone is the
   * server's again — on a dedicated connection the statement itself would have reported them.
   */
  sendInternalReported(sql: string): void {
    this.internal.add(this.seqSent, undefined, undefined, undefined, true);
    this.link.send(buildQuery(sql));
  }

  /**
   * Brings a connection whose client is gone back to a clean state (see Settle). Calls
   * `done(true)` when it may return to the pool, `done(false)` when it was closed instead.
   */
  settle(openBatch: boolean, resetSession: boolean, done: (reusable: boolean) => void): void {
    this.consumer = null;
    this.settling = new Settle(this, openBatch, resetSession, done);
  }

  private settling: Settle | null = null;

  get isClosed(): boolean {
    return this.state === "closed";
  }

  get internalBusy(): boolean {
    return this.internal.pending > 0;
  }

  whenInternalIdle(fn: () => void): void {
    this.internal.whenIdle(fn);
  }

  /**
   * Drops the invalidated statements ahead of whatever is sent next, whoever holds the connection
   * (transaction pooling: at attach; session mode and pins: before the client's next message).
   */
  get hasStaleStatements(): boolean {
    this.collectRetired();
    return this.stale.length > 0;
  }

  dropStaleStatements(): void {
    this.collectRetired();
    if (this.stale.length === 0) return;
    const sql = this.stale.map((n) => `DEALLOCATE "${n}"`).join("; ");
    this.stale = [];
    this.sendInternal(sql);
  }

  /** Copies of names retired since the last look (statementNames.retire) are dropped here too. */
  private collectRetired(): void {
    if (this.retiredSeen === statementNames.retiredGen) return;
    this.retiredSeen = statementNames.retiredGen;
    for (const name of this.prepared.keys()) if (statementNames.isRetired(name)) this.stale.push(name);
    for (const name of this.stale) this.prepared.delete(name);
  }

  /** The server dropped every prepared statement (DEALLOCATE ALL): they are prepared again on use. */
  forgetPrepared(): void {
    this.stale = [];
    this.replies.forgetDescribes();
    this.prepared.clear();
    this.unnamedOwner = null;
  }

  forgetSessionState(): void {
    this.stale = [];
    this.replies.forgetDescribes();
    this.applied.clear();
    this.prepared.clear();
    this.unnamedOwner = null;
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
    unwatchCancels(this.node, this.processId, this.cancels);
    this.link.send(buildTerminate());
    this.link.close();
    this.internal.failAll();
  }

  destroy(): void {
    this.state = "closed";
    unwatchCancels(this.node, this.processId, this.cancels);
    this.link?.destroy();
    this.internal.failAll();
  }

  // --- LinkOwner -------------------------------------------------------------------------

  onData(chunk: Uint8Array): void {
    this.lastDataAt = performance.now();
    if (this.stats) this.stats.bytesIn += chunk.length;
    if (this.poolStats) this.poolStats.bytesIn += chunk.length;
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
    this.cutRun();
  }

  onBackpressure(backlogged: boolean): void {
    this.consumer?.onServerBackpressure(backlogged);
  }

  onClose(error: Error | undefined): void {
    this.state = "closed";
    unwatchCancels(this.node, this.processId, this.cancels);
    this.internal.failAll();
    this.settling?.finish(false);
    this.cancels.connectionClosed();
    if (!this.consumer) this.onIdleClose?.();
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
    if (type === Backend.NotificationResponse && this.onNotification !== null) {
      this.onNotification(buf, start, end);
      return;
    }
    // Our own queries are answered in the order they were sent among the client's batches.
    if (this.internal.pending > 0 && this.internal.headSeq === this.seqDone) {
      this.onInternalFrame(type, buf, start, end);
      return;
    }
    let errorCode: string | null = null;
    switch (type) {
      case Backend.ReadyForQuery:
        this.txStatus = buf[start + 5];
        this.pendingReplies--;
        this.seqDone++;
        this.inCopyIn = false;
        this.replies.onReadyForQuery(this.seqDone, this.pendingReplies === 0);
        break;
      case Backend.ParameterDescription:
        if (this.replies.onParameterDescription(buf, start, end)) {
          this.cutRun();
          return;
        }
        break;
      case Backend.RowDescription:
      case Backend.NoData:
        if (this.replies.onRowDescription(type, buf, start, end, this.cutRunFn)) return;
        break;
      case Backend.ParseComplete:
        if (this.replies.onParseComplete()) {
          this.cutRun();
          return;
        }
        break;
      case Backend.BindComplete:
        this.replies.onBindComplete();
        break;
      case Backend.CloseComplete:
        if (this.replies.onCloseComplete()) {
          this.cutRun();
          return;
        }
        break;
      case Backend.ErrorResponse: {
        const fields = decodeErrorFields(buf, start + 5, end);
        errorCode = fields.get(ErrorField.Code) ?? "";
        if (errorCode === "0A000" && (fields.get(ErrorField.Message) ?? "").startsWith("cached plan must not change result type")) {
          // A table changed under the copy this batch used (DDL PgGate never saw): every copy of
          // it, everywhere, is as old; this one goes at once, the others as connections notice.
          const name = this.replies.planChanged(this.seqDone);
          if (name !== null) {
            statementNames.retire(name);
            this.collectRetired();
          }
        }
        const substitute = this.replies.onError(fields, this.seqDone);
        if (substitute !== null) {
          buf = substitute;
          start = 0;
          end = substitute.length;
        }
        break;
      }
      case Backend.CopyInResponse:
        this.inCopyIn = true;
        break;
      case Backend.ParameterStatus:
        this.noteParameterStatus(buf, start, end);
        break;
    }
    const c = this.consumer;
    if (!c) {
      this.onUnattachedFrame(type);
      return;
    }
    if (this.discarding) {
      if (type === Backend.ReadyForQuery) {
        const kind = this.discarding;
        this.discarding = null;
        c.onHeldBatchFailed(kind);
      }
      return;
    }
    if (this.holding && c === this.holder) {
      const failure = errorCode === null ? null : replayableFailure(errorCode);
      if (failure) {
        // Nothing of this batch reaches the client: drop what was held.
        this.holding = false;
        this.held.length = 0;
        if (this.run.isFor(c.out)) this.run.discard();
        else this.run.flush();
        this.discarding = failure;
        return;
      }
      // Rows are held too while they are few: a replica killed mid-result (SIGQUIT flushes the
      // rows it has, then FATAL 57P01) costs the client nothing, the read runs elsewhere.
      const holdRow = type === Backend.DataRow && (this.heldBytes += end - start) <= MAX_HELD_ROW_BYTES;
      if (type !== Backend.ErrorResponse && (COMMITS[type] !== 1 || holdRow)) {
        // Held in the (unflushed) run while within this chunk; spilled only across chunks.
        if (this.held.length > 0) this.held.push({ buf, start, end });
        else this.run.add(c.out, buf, start, end);
        return;
      }
      this.holding = false;
      for (const h of this.held) c.out.sendRange(h.buf, h.start, h.end);
      this.held.length = 0;
      c.onRepliesCommitted();
    }
    // The consumer may detach us in onServerMessage (ReadyForQuery ending a transaction): the
    // frame still belongs to it, so `c` is captured before the call.
    if (INSPECT[type] === 1 && !c.onServerMessage(type, buf, start, end)) {
      this.cutRun();
      return;
    }
    this.run.add(c.out, buf, start, end);
  }

  /**
   * What the server reports is what this connection's session now has: kept whatever caused it
   * (the client's own traffic, or PgGate applying a client's startup values), since the next
   * login served by this connection is told these values.
   */
  private noteParameterStatus(buf: Uint8Array, start: number, end: number): void {
    const p = decodeParameterStatus(buf, start + 5, end);
    this.params.set(p.name, p.value);
  }

  private onInternalFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    // The status is read before any callback runs: a done() may send the next internal query.
    if (type === Backend.ReadyForQuery) this.txStatus = buf[start + 5];
    else if (type === Backend.ParameterStatus) {
      this.noteParameterStatus(buf, start, end);
      // A re-applied startup value (RESET, SET … TO DEFAULT) is news the client must hear.
      if (this.consumer !== null && this.internal.headReportsStatus) {
        this.run.add(this.consumer.out, buf, start, end);
        return;
      }
    }
    this.internal.onFrame(type, buf, start, end);
  }

  /** Settling after a vanished client, or idle in a pool (where only a FATAL can arrive). */
  private onUnattachedFrame(type: number): void {
    if (this.settling?.active) {
      if (type === Backend.ReadyForQuery) this.settling.continue();
      return;
    }
    if (type === Backend.ErrorResponse) this.destroy();
  }
}
