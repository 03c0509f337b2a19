// One client connection: startup (SSL/GSS/cancel negotiation), login, then routing each batch
// to a pooled server connection and streaming the replies back. Every state change goes through
// transition(); the hot path is synchronous and event-driven.
import {
  Backend,
  buildAuthenticationOk,
  buildBackendKeyData,
  buildCommandComplete,
  buildNegotiateProtocolVersion,
  buildParameterStatus,
  buildReadyForQuery,
  decodeErrorFields,
  decodeStartupPacket,
  encodeFrame,
  ErrorField,
  FrameReader,
  Frontend,
  ProtocolError,
  TxStatus,
  type StartupPacket,
} from "../protocol/index.ts";
import { encodePgError, error, Errors, fatal, PgError, SqlState } from "../errors/index.ts";
import { ForwardRun } from "../net/forward-run.ts";
import { Inbox } from "../net/inbox.ts";
import { Link, linkHandlers, type LinkData, type LinkOwner, type LinkSocket } from "../net/link.ts";
import { log } from "../log/index.ts";
import type { ServerPool } from "../pool/pools.ts";
import type { Waiter } from "../pool/pool-core.ts";
import type { Classification, Target } from "../router/index.ts";
import { nextAction, wantsReplica, type BatchSituation } from "./next-action.ts";
import { sendCancel } from "../server/cancel.ts";
import type { AdminSession, Cancellable, ClientHandle, GatewayContext } from "./context.ts";
import { loginAdmin, loginClient, type StartupInfo } from "./login.ts";
import type { ClientChannel } from "../auth/client-channel.ts";
import { paramsMatch, sessionParams, syncSql } from "./params.ts";
import { ServerError, type HeldFailure, type NodeTarget, type ServerConn, type ServerConsumer } from "../server/server-conn.ts";
import { ClientStatements } from "./statements.ts";
import { errorKind } from "../metrics/stats.ts";
import { parseLsn } from "../health/lsn.ts";
import { mayWrite, WriteFloor, type FloorHost } from "./write-floor.ts";
import { acceptPrepareOnly, batchLength, classifyBatch, endsBatch, type QueuedFrame } from "./batch.ts";

/** The database name that reaches the admin console instead of a server. */
const ADMIN_DATABASE = "pggate";

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

const PARSE_COMPLETE = new Uint8Array([0x31, 0, 0, 0, 4]);
const SSL_YES = new Uint8Array([0x53]);
const SSL_NO = new Uint8Array([0x4e]);
/** Unsent client bytes above which we stop reading from the client (it waits in the kernel). */
const QUEUE_HIGH_WATER = 1024 * 1024;
/** While waiting for a server connection, a client may queue this much before it is paused. */
const WAIT_PAUSE_BYTES = 16 * 1024;
/**
 * Largest message accepted before authentication completes (password, SASL messages). SCRAM
 * messages are a few hundred bytes; PostgreSQL bounds these too (PG_MAX_AUTH_TOKEN_LENGTH).
 */
export const MAX_PRE_AUTH_MESSAGE = 8 * 1024;
/** Bytes a not-yet-authenticated client may have queued unread; beyond it the client is cut off. */
export const MAX_PRE_AUTH_BUFFERED = 16 * 1024;

let nextClientId = 1;

export class ClientSession implements LinkOwner, ServerConsumer, Cancellable, ClientHandle, FloorHost {
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
  /** Why this client holds its primary connection for life (SET, LISTEN, session mode, ...). */
  pinReason: string | null = null;
  /** Route and reason of the last batch, for SHOW CLIENTS and metrics. */
  lastRoute: Target | null = null;
  lastReason = "";
  /** Transaction status the client last saw. */
  txStatus: number = TxStatus.Idle;
  waitStartedAt = 0;
  private readonly ctx: GatewayContext;
  private readonly reader: FrameReader;
  private inbox: Inbox | null = null;
  private server: ServerConn | null = null;
  private serverTarget: Target | null = null;
  /** An extended-protocol batch was started on the server and its Sync not yet sent. */
  private openBatch = false;
  private queue: QueuedFrame[] = [];
  private queueBytes = 0;
  private readingPaused = false;
  private waiting: { pool: ServerPool; waiter: Waiter<ServerConn> } | null = null;
  private readonly pools = new Map<NodeTarget, ServerPool>();
  /** A replica batch whose replies are held: replayed on the primary if the replica says 25006. */
  private replay: QueuedFrame[] | null = null;
  /** The next batch goes to the primary: a replayed 25006 batch. */
  private retryOnPrimary = false;
  private admin: AdminSession | null = null;
  /** The raw startup-phase packet being handled (a CancelRequest may be passed to another worker). */
  private lastStartupPacket: Uint8Array | null = null;
  /** Deadline for writes held while no primary is reachable; 0 when not waiting. */
  private primaryWaitUntil = 0;
  /** Last time the client sent anything (for the idle timeouts). */
  lastActivityAt = Date.now();
  /** Whether read-your-writes floors are kept for this client (not for pinned sessions: they never read replicas). */
  private get rywTracking(): boolean {
    const r = this.ctx.config.routing;
    return r.readYourWrites && r.readWriteSplit && this.pinReason === null;
  }

  /** Read-your-writes: what this client wrote and how fresh its reads must be. */
  readonly floor: WriteFloor;
  /** Waiting because of PAUSE (not for a pool). */
  private pausedWait = false;
  private params = new Map<string, string>();
  private sessionRoute: "auto" | "primary" | "replica" = "auto";
  private readonly statements: ClientStatements;
  /** Route reason of the batch being transmitted; null inside transactions and pinned sessions. */
  private batchReason: string | null = null;
  private pinnedLabel = "";
  /** When the oldest reply still owed was requested (performance.now()), 0 when none. */
  private inflightSince = 0;
  private tlsActive = false;
  private readonly run = new ForwardRun();
  private readonly sink = (type: number, buf: Uint8Array, start: number, end: number): void =>
    this.onFrame(type, buf, start, end);
  private readonly transmitOut = (buf: Uint8Array, start: number, end: number): void => {
    this.run.add(this.server!.link, buf, start, end);
  };

  constructor(socket: LinkSocket, ctx: GatewayContext) {
    this.ctx = ctx;
    this.statements = new ClientStatements(ctx.stats);
    this.floor = new WriteFloor(ctx, this);
    this.out = new Link(socket, this);
    this.remoteAddress = socket.remoteAddress;
    // Until the client has authenticated, nothing it sends may be large: see MAX_PRE_AUTH_MESSAGE.
    this.reader = new FrameReader(MAX_PRE_AUTH_MESSAGE, true);
    // The handshake timeout is enforced by the gateway's client sweep: no timer per connection.
    ctx.clients.add(this);
  }

  /** The single place where state changes, with everything that must change along with it. */
  private transition(next: ClientState): void {
    const prev = this.state;
    if (prev === next || prev === "closed") return;
    this.state = next;
    if (next === "waiting") {
      this.waitStartedAt = Date.now();
      // A client waiting with a statement or two queued is simply not sent anything: it waits
      // for our answer. Pausing (two epoll changes per wait) pays off only when it keeps sending.
      if (this.queueBytes > WAIT_PAUSE_BYTES) this.pauseReading(true);
    } else if (prev === "waiting") {
      this.waitStartedAt = 0;
      this.pauseReading(this.queueBytes > QUEUE_HIGH_WATER);
    }
    if (next === "closed") this.onClosed(prev);
  }

  private onClosed(prev: ClientState): void {
    this.ctx.clients.delete(this);
    this.ctx.releaseKey(this);
    this.inbox?.fail(new Error("client disconnected"));
    if (this.waiting) {
      this.ctx.pools.cancel(this.waiting.pool, this.waiting.waiter);
      this.waiting = null;
    }
    const s = this.server;
    if (s) {
      this.server = null;
      s.detach();
      this.returnServer(s, true);
    }
    this.queue = [];
    this.admin?.dispose();
    this.floor.stopWaiting();
    if (prev !== "startup") {
      log.info("client_close", {
        client: this.id,
        user: this.user,
        db: this.database,
        addr: this.remoteAddress,
        duration_ms: Date.now() - this.connectedAt,
        queries: this.queries,
        pin: this.pinReason ?? undefined,
      });
    }
  }

  // --- inbound from the client ---------------------------------------------------------

  onData(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    this.lastActivityAt = Date.now();
    try {
      this.reader.push(chunk, this.sink);
      if (this.queue.length > 0) this.pump();
    } catch (e) {
      this.run.flush();
      this.failWith(e);
      return;
    }
    this.run.flush();
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    switch (this.state) {
      case "idle":
      case "active":
      case "waiting":
        this.onSessionFrame(type, buf, start, end);
        return;
      case "startup":
        if (this.reader.expectUntyped) {
          this.lastStartupPacket = buf.subarray(start, end);
          this.onStartupPacket(decodeStartupPacket(buf, start, end));
        }
        return;
      case "login":
        if (!this.inbox) return;
        if (this.inbox.bufferedBytes + (end - start) > MAX_PRE_AUTH_BUFFERED) {
          throw new ProtocolError(`more than ${MAX_PRE_AUTH_BUFFERED} bytes sent before authentication completed`);
        }
        this.inbox.push({ type, body: buf.subarray(start + 5, end) });
        return;
      case "admin":
        this.admin?.onFrame(type, buf, start, end);
        return;
      case "closed":
        return;
    }
  }

  private onSessionFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (type === Frontend.Terminate) {
      this.close();
      return;
    }
    // Fast path: inside a transaction, a pinned session or a COPY, bytes go straight through.
    if (this.queue.length === 0 && this.isSticky()) {
      if (this.rywTracking && this.serverTarget === "primary") this.floor.noteSticky(type, buf, start, end, this.statements);
      this.transmit(type, buf, start, end);
      return;
    }
    this.queue.push({ type, buf, start, end });
    this.queueBytes += end - start;
    if (this.queueBytes > QUEUE_HIGH_WATER || (this.state === "waiting" && this.queueBytes > WAIT_PAUSE_BYTES)) this.pauseReading(true);
  }

  get serverId(): number | null {
    return this.server?.id ?? null;
  }

  /** Idle inside a transaction: holds a server connection while the client thinks. */
  get idleInTransaction(): boolean {
    const s = this.server;
    return s !== null && s.pendingReplies === 0 && s.txStatus !== TxStatus.Idle && this.queue.length === 0;
  }

  send(buf: Uint8Array): void {
    this.out.send(buf);
  }

  floorWaitOver(): void {
    if (this.state !== "waiting") return;
    this.transition("idle");
    this.schedulePump();
  }

  wake(): void {
    if (this.state === "closed") return;
    if (this.pausedWait) {
      this.pausedWait = false;
      this.transition("idle");
    }
    if (this.queue.length > 0) this.schedulePump();
  }

  /** Whether the attached connection must take the client's next message whatever it is. */
  private isSticky(): boolean {
    const s = this.server;
    if (!s) return false;
    return (
      this.pinReason !== null ||
      this.openBatch ||
      s.inCopyIn ||
      (s.pendingReplies === 0 && s.txStatus !== TxStatus.Idle)
    );
  }

  /**
   * Sends queued batches wherever they belong, as far as possible without waiting. Called after
   * client data, after a ReadyForQuery, and when a pooled connection is granted.
   */
  private pump(): void {
    while (this.queue.length > 0 && this.state !== "closed" && this.state !== "waiting") {
      // Nothing may overtake a batch that might still be replayed elsewhere, nor a read the
      // floor of the write before it (still being learnt).
      if (this.replay || this.floor.pending) break;
      if (this.isSticky()) {
        const n = batchLength(this.queue);
        if (this.rywTracking && this.serverTarget === "primary") {
          for (let i = 0; i < n; i++) this.floor.noteSticky(this.queue[i].type, this.queue[i].buf, this.queue[i].start, this.queue[i].end, this.statements);
        }
        this.transmitQueued(n);
        continue;
      }
      const len = batchLength(this.queue);
      const complete = len > 0 && endsBatch(this.queue[len - 1].type);
      if (!complete && this.queueBytes <= QUEUE_HIGH_WATER) break;
      const count = complete ? len : this.queue.length;
      if (!this.server && complete && this.answerPrepareLocally(count)) continue;
      const cls = classifyBatch(this.queue, count, this.statements, this.ctx, this.user, this.database);
      if (cls?.pggateSet && count === 1 && this.queue[0].type === Frontend.Query) {
        this.answerPggateSet(cls.pggateSet.name, cls.pggateSet.value);
        this.dropQueued(1);
        continue;
      }
      if (!this.placeBatch(cls, count, complete)) break;
    }
    this.run.flush();
  }

  /**
   * Routes one batch: gathers the situation, lets nextAction() decide, and carries the action
   * out. Returns false when the client now waits (pool, floor, PAUSE, a busy replica).
   */
  private placeBatch(cls: Classification | null, count: number, complete: boolean): boolean {
    const routing = this.ctx.config.routing;
    const s = this.server;
    const situation: BatchSituation = {
      cls,
      retryOnPrimary: this.retryOnPrimary,
      split: routing.readWriteSplit,
      noReplica: routing.noReplica,
      sessionRoute: this.sessionRoute,
      // One replica choice per read batch: it decides availability and, if used, the node.
      replica: wantsReplica(cls, routing.readWriteSplit, this.retryOnPrimary) ? this.ctx.pickReplica(this.user, this.database) : null,
      floorSet: this.floor.lsn !== null,
      floor: "unknown",
      attached: s && this.serverTarget ? { target: this.serverTarget, busy: s.pendingReplies > 0 } : null,
      paused: this.ctx.isPaused(this.database),
    };
    let action = nextAction(situation);
    if (action.kind === "consult_floor") {
      const f = this.floor.choose();
      situation.floor = f === "wait" || f === "primary" ? f : { replica: f };
      action = nextAction(situation);
    }
    switch (action.kind) {
      case "fail_no_replica":
        this.retryOnPrimary = false;
        this.failQueuedBatch(error(SqlState.CannotConnectNow, "no replica is available for this read (routing.no_replica = error)", "Retry later, or set routing.no_replica: primary."));
        return true;
      case "consult_floor":
        throw new Error("nextAction asked for the floor twice");
      case "wait_floor":
        this.retryOnPrimary = false;
        this.transition("waiting");
        return false;
      case "wait_attached":
        this.retryOnPrimary = false;
        return false;
      case "wait_pause":
        this.retryOnPrimary = false;
        this.notePossibleWrite(cls, "primary");
        if (s) this.releaseServer();
        this.pausedWait = true;
        this.transition("waiting");
        return false;
      case "forward":
        this.retryOnPrimary = false;
        this.notePossibleWrite(cls, action.target);
        this.noteRoute(action.target, action.reason, action.pin);
        this.transmitBatch(count, complete);
        return true;
      case "acquire":
        this.retryOnPrimary = false;
        this.notePossibleWrite(cls, action.target);
        if (action.releaseFirst) this.releaseServer();
        if (!this.acquire(action.target, action.replica)) return false;
        this.noteRoute(action.target, action.reason, action.pin);
        this.transmitBatch(count, complete);
        return true;
    }
  }

  /** A batch bound for the primary that may write: its commit position becomes the floor. */
  private notePossibleWrite(cls: Classification | null, target: Target): void {
    if (target === "primary" && (cls === null || mayWrite(cls))) this.floor.wrote = true;
  }

  private noteRoute(target: Target, reason: string, pin: string | null): void {
    this.lastRoute = target;
    this.lastReason = reason;
    this.batchReason = reason;
    if (pin && !this.pinReason) {
      this.pinReason = pin;
      this.pinnedLabel = `pinned:${pin}`;
      log.debug("client_pinned", { client: this.id, reason: pin });
    }
  }

  /**
   * Sends a freshly routed batch. An autocommit batch to a replica, first in flight, is kept
   * until it produces output, so a 25006 can be replayed on the primary invisibly.
   */
  private transmitBatch(count: number, complete: boolean): void {
    const s = this.server!;
    const terminator = this.queue[count - 1].type;
    if (this.serverTarget === "replica" && complete && s.pendingReplies === 0 && (terminator === Frontend.Sync || terminator === Frontend.Query)) {
      this.replay = this.queue.slice(0, count);
      s.holdReplies();
    }
    this.transmitQueued(count);
  }

  private transmitQueued(count: number): void {
    const q = this.queue;
    for (let i = 0; i < count; i++) {
      const f = q[i];
      this.queueBytes -= f.end - f.start;
      this.transmit(f.type, f.buf, f.start, f.end);
    }
    q.splice(0, count);
    if (this.readingPaused && this.queueBytes <= QUEUE_HIGH_WATER && this.state !== "waiting") this.pauseReading(false);
  }

  private dropQueued(count: number): void {
    for (let i = 0; i < count; i++) this.queueBytes -= this.queue[i].end - this.queue[i].start;
    this.queue.splice(0, count);
  }

  /** Sends one client message to the attached server, accounting for the replies it will produce. */
  private transmit(type: number, buf: Uint8Array, start: number, end: number): void {
    const s = this.server!;
    switch (type) {
      case Frontend.Query:
      case Frontend.FunctionCall:
        this.countQuery(s);
        break;
      case Frontend.Sync:
        this.countQuery(s);
        this.openBatch = false;
        break;
      case Frontend.Parse:
      case Frontend.Bind:
      case Frontend.Describe:
      case Frontend.Close:
        this.openBatch = true;
        if (this.statements.forward(type, buf, start, end, s, this.transmitOut)) return;
        break;
      case Frontend.Execute:
      case Frontend.Flush:
        this.openBatch = true;
        break;
    }
    this.transition("active");
    if (s.stats) s.stats.bytesOut += end - start;
    this.run.add(s.link, buf, start, end);
  }

  /** A message that ends in ReadyForQuery: reply accounting and the per-route counters. */
  private countQuery(s: ServerConn): void {
    s.expectReply();
    this.queries++;
    if (this.inflightSince === 0) this.inflightSince = performance.now();
    const reason = this.batchReason ?? (this.pinReason ? this.pinnedLabel || `pinned:${this.pinReason}` : "transaction");
    this.batchReason = null;
    this.ctx.stats.query(this.serverTarget ?? "primary", reason);
    if (s.stats) s.stats.queries++;
  }

  // --- server connections ----------------------------------------------------------------

  /** Attaches a connection for `target`; false when the client now waits for one. */
  private acquire(target: Target, replica: NodeTarget | null = null): boolean {
    const node = target === "replica" ? (replica ?? this.ctx.pickReplica(this.user, this.database)) : this.ctx.primary;
    const pool = this.poolFor(node ?? this.ctx.primary);
    const actualTarget: Target = node && target === "replica" ? "replica" : "primary";
    const idle = this.ctx.pools.tryAcquire(pool);
    if (idle) {
      this.attachServer(idle, actualTarget);
      return true;
    }
    const r = this.ctx.pools.acquire(pool, (conn, err) => this.onGranted(pool, actualTarget, conn, err));
    if (r.conn && actualTarget === "replica") this.ctx.balancer.succeeded(pool.node);
    if (r.conn) {
      this.attachServer(r.conn, actualTarget);
      return true;
    }
    this.waiting = { pool, waiter: r.waiter! };
    this.transition("waiting");
    return false;
  }

  private onGranted(pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError): void {
    this.waiting = null;
    if (this.state === "closed") {
      if (conn) this.ctx.pools.release(conn);
      return;
    }
    if (!conn) {
      this.transition("idle");
      const unreachable = err?.code === SqlState.SqlclientUnableToEstablishSqlconnection;
      if (target === "replica" && unreachable) {
        // A replica that cannot be reached leaves rotation; the read goes elsewhere, invisibly.
        log.warn("replica_banned", { node: pool.node.name, error: err.message });
        this.ctx.balancer.ban(pool.node);
        this.pump();
        return;
      }
      if (target === "primary" && unreachable && this.holdForPrimary()) return;
      this.failQueuedBatch(err ?? error(SqlState.ConnectionFailure, `no server connection available in pool ${pool.label}`));
      return;
    }
    if (target === "replica") this.ctx.balancer.succeeded(pool.node);
    else this.primaryWaitUntil = 0;
    this.transition("idle");
    this.attachServer(conn, target);
    this.pump();
  }

  /**
   * No primary reachable: maybe a failover is under way. Hold the batch and try again (the
   * health monitor may elect a new primary meanwhile) for up to health.primary_wait_ms.
   */
  private holdForPrimary(): boolean {
    const now = Date.now();
    if (this.primaryWaitUntil === 0) this.primaryWaitUntil = now + this.ctx.config.health.primaryWaitMs;
    if (now >= this.primaryWaitUntil) {
      this.primaryWaitUntil = 0;
      this.failQueuedBatch(
        error(SqlState.CannotConnectNow, `no primary is reachable (waited health.primary_wait_ms = ${this.ctx.config.health.primaryWaitMs} ms)`, "A failover may be in progress; retry shortly."),
      );
      return true;
    }
    this.transition("waiting");
    setTimeout(() => {
      if (this.state !== "waiting") return;
      this.transition("idle");
      this.schedulePump();
    }, 250);
    return true;
  }

  /** This client's pool on `node`, looked up once (the manager may have dropped a drained one). */
  private poolFor(node: NodeTarget): ServerPool {
    const cached = this.pools.get(node);
    if (cached && !cached.removed) return cached;
    const p = this.ctx.pools.pool(node, this.user, this.database);
    this.pools.set(node, p);
    return p;
  }

  /** Attaches and brings the connection's session parameters in line with this client's. */
  private attachServer(conn: ServerConn, target: Target): void {
    this.server = conn;
    this.serverTarget = target;
    conn.attach(this);
    if (conn.needsDeallocateAll) {
      conn.needsDeallocateAll = false;
      conn.sendInternal("DEALLOCATE ALL");
    }
    const cap = this.ctx.config.pool.preparedStatementsCacheSize;
    if (conn.prepared.size > cap) {
      const evict: string[] = [];
      for (const name of conn.prepared.keys()) {
        if (conn.prepared.size - evict.length <= cap) break;
        evict.push(name);
      }
      for (const name of evict) conn.prepared.delete(name);
      conn.sendInternal(evict.map((n) => `DEALLOCATE ${n}`).join("; "));
    }
    if (!paramsMatch(conn.applied, this.params)) {
      conn.sendInternal(syncSql(conn.applied, this.params));
      conn.applied.clear();
      for (const [k, v] of this.params) conn.applied.set(k, v);
    }
  }

  /** Transaction pooling: the connection goes back as soon as the server says idle. */
  private releaseServer(): void {
    const s = this.server;
    if (!s) return;
    this.server = null;
    this.serverTarget = null;
    s.detach();
    this.ctx.pools.release(s);
    if (this.state === "active") this.transition("idle");
  }

  /** Hands a connection back after the client is gone: directly when clean, else settled first. */
  private returnServer(s: ServerConn, clientGone: boolean): void {
    const dirtySession = this.pinReason !== null;
    const clean = s.pendingReplies === 0 && !this.openBatch && !s.inCopyIn && s.txStatus === TxStatus.Idle && !dirtySession;
    if (clean || s.state === "closed") {
      this.ctx.pools.release(s, s.state !== "closed");
      return;
    }
    if (clientGone) log.debug("server_settle", { server: s.id, client: this.id, pending: s.pendingReplies });
    s.settle(this.openBatch, dirtySession, (reusable) => this.ctx.pools.release(s, reusable));
  }

  // --- ServerConsumer --------------------------------------------------------------------

  onServerMessage(type: number, buf: Uint8Array, start: number, end: number): boolean {
    if (type === Backend.ReadyForQuery) {
      const s = this.server;
      this.txStatus = buf[start + 5];
      if (!s || s.pendingReplies > 0) return true;
      if (this.inflightSince !== 0) {
        const seconds = (performance.now() - this.inflightSince) / 1000;
        this.inflightSince = 0;
        this.ctx.stats.duration[this.serverTarget ?? "primary"].observe(seconds);
        if (s.stats) {
          s.stats.latency.observe(seconds);
          if (this.txStatus === TxStatus.Idle) s.stats.transactions++;
        }
      }
      if (this.floor.wrote && this.rywTracking && this.serverTarget === "primary" && this.txStatus === TxStatus.Idle) {
        this.floor.capture(s, () => {
          if (this.state === "closed") return;
          if (this.server === s && s.pendingReplies === 0 && !this.isSticky()) this.releaseServer();
          if (this.queue.length > 0) this.schedulePump();
        });
      } else if (this.queue.length === 0 && !this.isSticky()) {
        if (this.ctx.config.pool.mode === "transaction" && this.pinReason === null) this.releaseServer();
        else this.transition("idle");
      } else if (this.queue.length > 0) {
        // Batches held back while the previous one finished: route them now. Replies of the
        // new batch cannot overtake this ReadyForQuery (they come from later events).
        this.schedulePump();
      }
      return true;
    }
    if (type === Backend.ErrorResponse && this.server && this.server.pendingReplies === 0) {
      // An error outside any request: the server is terminating the session (e.g. admin shutdown).
      const f = decodeErrorFields(buf, start + 5, end);
      log.warn("server_error_unsolicited", { client: this.id, code: f.get(ErrorField.Code), error: f.get(ErrorField.Message) });
    }
    return true;
  }

  onRepliesCommitted(): void {
    this.replay = null;
    if (this.queue.length > 0) this.schedulePump();
  }

  /**
   * A replica batch failed before any output reached the client. 25006: it wrote — run it on the
   * primary. Node failure: take the replica out and run it wherever reads go now.
   */
  onHeldBatchFailed(kind: HeldFailure): void {
    const frames = this.replay;
    const s = this.server;
    this.replay = null;
    if (!frames) return;
    log.debug("replica_batch_replayed", { client: this.id, why: kind, node: s?.node.name });
    for (const f of frames) this.queueBytes += f.end - f.start;
    this.queue.unshift(...frames);
    if (kind === "read_only") {
      this.retryOnPrimary = true;
      this.releaseServer();
    } else {
      this.failedReplica(s);
    }
    this.schedulePump();
  }

  /** Drops a connection to a replica that failed, and takes the replica out of rotation. */
  private failedReplica(s: ServerConn | null): void {
    if (!s) return;
    this.server = null;
    this.serverTarget = null;
    s.detach();
    this.ctx.pools.release(s, false);
    this.ctx.balancer.ban(s.node);
    const h = this.ctx.health.get(s.node);
    if (h) this.ctx.health.markDown(h, "connection failed during a query");
    if (this.state === "active") this.transition("idle");
  }

  private schedulePump(): void {
    queueMicrotask(() => {
      if (this.state === "closed") return;
      try {
        this.pump();
      } catch (e) {
        this.failWith(e);
      }
    });
  }

  onServerBackpressure(backlogged: boolean): void {
    // The server is not taking our writes fast enough: stop reading from the client.
    this.pauseReading(backlogged);
  }

  onServerClose(conn: ServerConn, err: Error | undefined): void {
    if (this.state === "closed" || this.server !== conn) return;
    if (this.replay) {
      // The replica went away before answering: nothing reached the client, run it elsewhere.
      const frames = this.replay;
      this.replay = null;
      log.debug("replica_batch_replayed", { client: this.id, why: "connection_lost", node: conn.node.name });
      for (const f of frames) this.queueBytes += f.end - f.start;
      this.queue.unshift(...frames);
      this.failedReplica(conn);
      this.schedulePump();
      return;
    }
    this.server = null;
    this.serverTarget = null;
    this.ctx.pools.release(conn, false);
    this.fail(
      fatal(
        SqlState.ConnectionFailure,
        `server connection to ${conn.node.name} (${conn.node.host}:${conn.node.port}) was lost${err ? `: ${err.message}` : ""}`,
        "Reconnect; PgGate will use a new server connection.",
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

  private pauseReading(pause: boolean): void {
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.out.pause();
    else this.out.resume();
  }

  // --- Cancellable -----------------------------------------------------------------------

  cancelRunningQuery(): void {
    const s = this.server;
    if (!s || s.pendingReplies === 0) return;
    sendCancel(s.node, s.processId, s.secretKey);
  }

  // --- startup and login -------------------------------------------------------------------

  private onStartupPacket(p: StartupPacket): void {
    const tls = this.ctx.config.listen.tls;
    switch (p.kind) {
      case "ssl":
        if (tls.mode === "disable" || this.tlsActive) {
          this.out.send(SSL_NO);
          return;
        }
        // Bytes behind SSLRequest would be plaintext injected before the handshake (the
        // CVE-2021-23214 class). `trailing` counts them however the packets were split: the
        // request may have been completed from a later chunk that carries more.
        if (this.reader.trailing > 0) throw new ProtocolError("data received after SSLRequest, before the TLS handshake");
        this.startTls();
        return;
      case "gssenc":
        this.out.send(SSL_NO);
        return;
      case "cancel":
        this.ctx.cancel(p.processId, p.secretKey, this.lastStartupPacket);
        this.transition("closed");
        this.out.destroy();
        return;
      case "startup":
        this.reader.expectUntyped = false;
        if (tls.mode === "require" && !this.tlsActive) {
          this.fail(
            fatal(SqlState.InvalidAuthorizationSpecification, "PgGate accepts only TLS connections (listen.tls.mode = require)", "Connect with sslmode=require."),
          );
          return;
        }
        if (p.params.has("replication")) {
          this.fail(fatal(SqlState.FeatureNotSupported, "replication connections are not supported through PgGate", "Connect to the server directly."));
          return;
        }
        if (p.minor > 0 || p.unknownOptions.length > 0) this.out.send(buildNegotiateProtocolVersion(0, p.unknownOptions));
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
    const [, tlsSocket] = raw.upgradeTLS<LinkData>({ data, tls: { cert: Bun.file(cert), key: Bun.file(key) }, socket: linkHandlers });
    raw.data.ignore = true;
    this.out.socket = tlsSocket;
    this.tlsActive = true;
  }

  private beginLogin(startupParams: Map<string, string>): void {
    this.user = startupParams.get("user") ?? "";
    this.database = startupParams.get("database") || this.user;
    startupParams.set("database", this.database);
    const { params, pggate } = sessionParams(startupParams);
    this.params = params;
    const route = pggate.get("route");
    if (route === "primary" || route === "replica" || route === "auto") this.sessionRoute = route;
    else this.sessionRoute = this.ctx.config.routing.defaultRoute;
    this.inbox = new Inbox();
    this.transition("login");
    if (this.database === ADMIN_DATABASE) void this.runAdminLogin(startupParams);
    else void this.runLogin({ user: this.user, database: this.database, params: startupParams });
  }

  /** The admin console: only admin.users; then PgGate answers every query itself. */
  private async runAdminLogin(startupParams: Map<string, string>): Promise<void> {
    const inbox = this.inbox!;
    try {
      const reported = await loginAdmin(this.ctx, this.channel(inbox), this.user, startupParams, this.params.get("application_name") ?? "", this.gone);
      if (this.state !== "login") return;
      this.greet(reported, false);
      const open = this.ctx.openAdmin;
      if (!open) throw new Error("admin console not wired to a gateway");
      this.admin = open((b) => this.out.send(b), () => this.close(), this.user);
      this.transition("admin");
      log.info("admin_login", { client: this.id, user: this.user, addr: this.remoteAddress });
    } catch (e) {
      this.loginFailed(e);
    }
  }

  private async runLogin(startup: StartupInfo): Promise<void> {
    const inbox = this.inbox!;
    try {
      const reported = await loginClient(this.ctx, this.channel(inbox), startup, this.params, this.gone);
      if (this.state !== "login") return;
      this.greet(reported, true);
      if (this.ctx.config.pool.mode === "session") this.pinReason = "session_mode";
      this.transition("idle");
      log.info("client_login", { client: this.id, user: this.user, db: this.database, addr: this.remoteAddress, tls: this.tlsActive });
      // Anything the client sent behind its last authentication message is ordinary traffic.
      for (const f of inbox.drain()) {
        const frame = encodeFrame(f.type, f.body);
        this.onSessionFrame(f.type, frame, 0, frame.length);
      }
      if (this.queue.length > 0) this.pump();
    } catch (e) {
      this.loginFailed(e);
    }
  }

  /** Whether the client has left (a login waiting at the gate then gives up its turn). */
  private readonly gone = (): boolean => this.state === "closed";

  private channel(inbox: Inbox): ClientChannel {
    return { send: (b) => this.out.send(b), next: () => inbox.next() };
  }

  /** AuthenticationOk, the ParameterStatus set, our BackendKeyData, ReadyForQuery. */
  private greet(reported: ReadonlyMap<string, string>, cancellable: boolean): void {
    const key = this.ctx.issueKey();
    this.processId = key.processId;
    this.secretKey = key.secretKey;
    if (cancellable) this.ctx.registerKey(this);
    this.out.send(buildAuthenticationOk());
    for (const [name, value] of reported) this.out.send(buildParameterStatus(name, value));
    this.out.send(buildBackendKeyData(this.processId, this.secretKey));
    this.out.send(buildReadyForQuery(TxStatus.Idle));
    this.inbox = null;
    // Authenticated: from now on the configured limit applies.
    this.reader.maxMessageSize = this.ctx.config.listen.maxMessageSize;
  }

  private loginFailed(e: unknown): void {
    if (this.state === "closed") return;
    log.info("login_failed", { client: this.id, user: this.user, db: this.database, addr: this.remoteAddress, reason: (e as Error).message });
    if (e instanceof ServerError) {
      // The server's own verdict (wrong password, unknown database, ...) reaches the client as sent.
      this.ctx.stats.error(errorKind(e.code));
      this.out.send(e.raw);
      this.close();
    } else {
      this.failWith(e);
    }
  }

  /** A prepare-only batch (Parse..., Sync) of statements known to parse needs no server. */
  private answerPrepareLocally(count: number): boolean {
    if (this.txStatus !== TxStatus.Idle) return false;
    const parsed = acceptPrepareOnly(this.queue, count, this.statements);
    if (parsed === 0) return false;
    for (let i = 0; i < parsed; i++) this.out.send(PARSE_COMPLETE);
    this.out.send(buildReadyForQuery(TxStatus.Idle));
    this.dropQueued(count);
    return true;
  }

  private answerPggateSet(name: "route" | "min_lsn", value: string): void {
    if (name === "min_lsn") {
      const lsn = parseLsn(value.replace(/^'|'$/g, ""));
      if (lsn === null) {
        this.fail(error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.min_lsn": "${value}"`, "Use a WAL position like 0/16B3748, e.g. a pggate.write_lsn seen on another connection."));
        return;
      }
      this.floor.raise(lsn, false);
    }
    if (name === "route") {
      const v = value.toLowerCase();
      if (v !== "primary" && v !== "replica" && v !== "auto") {
        this.fail(error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.route": "${value}"`, "Allowed values: primary, replica, auto."));
        return;
      }
      this.sessionRoute = v;
    }
    this.out.send(buildCommandComplete("SET"));
    this.out.send(buildReadyForQuery(this.txStatus));
  }

  // --- errors and closing ----------------------------------------------------------------

  /** The batch at the head of the queue cannot run: answer it with an error and skip it. */
  private failQueuedBatch(e: PgError): void {
    if (e.isFatal) {
      this.fail(e);
      return;
    }
    const len = batchLength(this.queue);
    const extended = len > 0 && this.queue[len - 1].type === Frontend.Sync;
    this.dropQueued(len);
    this.out.send(encodePgError(e));
    if (extended || len > 0) this.out.send(buildReadyForQuery(this.txStatus));
    if (this.queue.length > 0) this.pump();
  }

  private failWith(e: unknown): void {
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


