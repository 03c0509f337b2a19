// The query pump of a logged-in client: each batch it sends is classified, routed (nextAction)
// and forwarded to a pooled server connection, and the replies are streamed back, with the
// bookkeeping that keeps the client's view that of the primary alone (read-your-writes floors,
// 25006 replays, pins). The connection's life (state machine, startup, errors) is SessionCore.
import { Backend, buildCommandComplete, buildReadyForQuery, decodeErrorFields, decodeQuery, ErrorField, Frontend, TxStatus } from "../protocol/index.ts";
import { encodePgError, error, fatal, PgError, SqlState } from "../errors/index.ts";
import { ForwardRun } from "../net/forward-run.ts";
import type { LinkSocket } from "../net/link.ts";
import { log } from "../log/index.ts";
import type { ServerPool } from "../pool/pools.ts";
import type { Classification, Target } from "../router/index.ts";
import { sendCancel } from "../server/cancel.ts";
import type { HeldFailure, NodeTarget, ServerConn, ServerConsumer } from "../server/server-conn.ts";
import { ServerAttachment } from "./attachment.ts";
import { acceptPrepareOnly, BatchQueue, classifyBatch, type QueuedFrame } from "./batch.ts";
import type { ClientHandle, GatewayContext } from "./context.ts";
import { parsePggateSet } from "./local-answers.ts";
import { syncSql } from "./params.ts";
import { discardsAll, resetTargets } from "./resets.ts";
import { afterReadyForQuery, nextAction, wantsReplica, type BatchSituation } from "./next-action.ts";
import { QUEUE_HIGH_WATER, SessionCore, WAIT_PAUSE_BYTES } from "./session-core.ts";
import { ClientStatements } from "./statements.ts";
import { mayWrite, WriteFloor, type FloorHost } from "./write-floor.ts";

export type { ClientState } from "./session-core.ts";

const PARSE_COMPLETE = new Uint8Array([0x31, 0, 0, 0, 4]);
export class ClientSession extends SessionCore implements ServerConsumer, ClientHandle, FloorHost {
  queries = 0;
  /** Why this client holds its primary connection for life (SET, LISTEN, session mode, ...). */
  pinReason: string | null = null;
  /** Route and reason of the last batch, for SHOW CLIENTS and metrics. */
  lastRoute: Target | null = null;
  lastReason = "";
  /** The server connection this client holds (and the pools it comes from). */
  private readonly att: ServerAttachment;
  private get server(): ServerConn | null {
    return this.att.conn;
  }
  private get serverTarget(): Target | null {
    return this.att.target;
  }
  /** An extended-protocol batch was started on the server and its Sync not yet sent. */
  private openBatch = false;
  private readonly queue = new BatchQueue();
  /** A replica batch whose replies are held: replayed on the primary if the replica says 25006. */
  private replay: QueuedFrame[] | null = null;
  /** The next batch goes to the primary: a replayed 25006 batch. */
  private retryOnPrimary = false;
  /** Deadline for writes held while no primary is reachable; 0 when not waiting. */
  private primaryWaitUntil = 0;
  /** Whether read-your-writes floors are kept for this client (not for pinned sessions: they never read replicas). */
  private get rywTracking(): boolean {
    const r = this.ctx.config.routing;
    return r.readYourWrites !== "off" && r.readWriteSplit && this.pinReason === null;
  }

  /** Read-your-writes: what this client wrote and how fresh its reads must be. */
  readonly floor: WriteFloor;
  /** Waiting because of PAUSE (not for a pool). */
  private pausedWait = false;
  private readonly statements: ClientStatements;
  /** Route reason of the batch being transmitted; null inside transactions and pinned sessions. */
  private batchReason: string | null = null;
  private pinnedLabel = "";
  /** When the oldest reply still owed was requested (performance.now()), 0 when none. */
  private inflightSince = 0;
  private readonly run = new ForwardRun();
  private readonly transmitOut = (buf: Uint8Array, start: number, end: number): void => {
    this.run.add(this.server!.link, buf, start, end);
  };

  constructor(socket: LinkSocket, ctx: GatewayContext) {
    super(socket, ctx);
    this.statements = new ClientStatements(ctx.stats);
    this.floor = new WriteFloor(ctx, this);
    this.att = new ServerAttachment(ctx.pools, ctx.balancer, () => this.user, () => this.database);
    // The handshake timeout is enforced by the gateway's client sweep: no timer per connection.
    ctx.clients.add(this);
  }

  // --- SessionCore hooks ---------------------------------------------------------------------

  protected pumpQueued(): void {
    if (this.queue.length > 0) this.pump();
  }

  protected flushOutput(): void {
    this.run.flush();
  }

  protected get queuedBytes(): number {
    return this.queue.bytes;
  }

  protected releaseAll(): void {
    this.ctx.clients.delete(this);
    this.att.cancelWait();
    this.att.returnAfterClient(this.id, this.pinReason !== null, this.openBatch);
    this.queue.clear();
    this.floor.stopWaiting();
  }

  protected closeSummary(): { queries: number; pin?: string } {
    return { queries: this.queries, pin: this.pinReason ?? undefined };
  }

  protected onLoggedIn(): void {
    this.statements.useAccepted(this.ctx.acceptedTexts.setFor(this.user, this.database, this.params));
    if (this.ctx.config.pool.mode === "session") this.pinReason = "session_mode";
  }

  // --- inbound from the client ---------------------------------------------------------

  protected onSessionFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (type === Frontend.Terminate) {
      this.close();
      return;
    }
    // Fast path: inside a transaction, a pinned session or a COPY, bytes go straight through.
    if (this.queue.length === 0 && this.isSticky()) {
      this.noteSticky(type, buf, start, end);
      this.transmit(type, buf, start, end);
      return;
    }
    this.queue.push(type, buf, start, end);
    if (this.queue.bytes > QUEUE_HIGH_WATER || (this.state === "waiting" && this.queue.bytes > WAIT_PAUSE_BYTES)) this.pauseReading(true);
  }

  get serverId(): number | null {
    return this.server?.id ?? null;
  }

  /** Idle inside a transaction: holds a server connection while the client thinks. */
  get idleInTransaction(): boolean {
    const s = this.server;
    return s !== null && s.pendingReplies === 0 && s.txStatus !== TxStatus.Idle && this.queue.length === 0;
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
      const q = this.queue.frames;
      if (this.isSticky()) {
        const n = this.queue.batchLength();
        for (let i = 0; i < n; i++) this.noteSticky(q[i].type, q[i].buf, q[i].start, q[i].end);
        this.transmitQueued(n);
        continue;
      }
      const len = this.queue.batchLength();
      const complete = this.queue.isComplete(len);
      if (!complete && this.queue.bytes <= QUEUE_HIGH_WATER) break;
      const count = complete ? len : q.length;
      if (!this.server && complete && this.answerPrepareLocally(count)) continue;
      const cls = classifyBatch(q, count, this.statements, this.ctx, this.user, this.database);
      if (cls?.pggateSet && count === 1 && q[0].type === Frontend.Query) {
        this.answerPggateSet(cls.pggateSet.name, cls.pggateSet.value);
        this.dropQueued(1);
        continue;
      }
      if (cls !== null && (cls.pin === "set" || cls.reason === "session")) this.noteResets(count);
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
      replica: wantsReplica(cls, routing.readWriteSplit, this.retryOnPrimary, this.pinReason) ? this.ctx.pickReplica(this.user, this.database) : null,
      floorSet: this.rywTracking && this.floor.current() !== null,
      floor: "unknown",
      attached: s && this.serverTarget ? { target: this.serverTarget, busy: s.pendingReplies > 0 } : null,
      paused: this.ctx.isPaused(this.database),
      pinned: this.pinReason,
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
    if (pin && !this.pinReason) this.pin(pin);
  }

  /** RESET / DISCARD ALL seen in the batch being sent: startup parameters to apply again after it. */
  private resetSeen: "all" | string[] | null = null;
  /** Startup parameters to apply again before the next message on the attached connection. */
  private reapply: "all" | string[] | null = null;

  /** Scans the first `count` queued frames for RESET / DISCARD ALL (only batches that may hold one). */
  private noteResets(count: number): void {
    const q = this.queue.frames;
    for (let i = 0; i < count; i++) {
      const f = q[i];
      if (f.type === Frontend.Query) this.noteResetIn(decodeQuery(f.buf, f.start + 5, f.end));
      else if (f.type === Frontend.Parse) this.noteResetIn(ClientStatements.parseInfo(f.buf, f.start, f.end).query);
    }
  }

  private noteResetIn(sql: string): void {
    if (discardsAll(sql)) this.resetSeen = "all";
    const t = resetTargets(sql, this.params);
    if (t === null || this.resetSeen === "all") return;
    this.resetSeen = t === "all" || this.resetSeen === null ? t : [...this.resetSeen, ...t];
  }

  /**
   * The batch with the RESET / DISCARD ALL is on its way. DISCARD ALL also drops PgGate's
   * prepared statements and applied parameters on that connection, so they are forgotten now;
   * the startup values go back before the client's next message (as a dedicated connection's
   * reset value would be them).
   */
  private afterReset(s: ServerConn): void {
    const seen = this.resetSeen;
    this.resetSeen = null;
    if (seen === "all") s.forgetSessionState();
    if (this.params.size > 0) this.reapply = seen;
  }

  private reapplyStartupParams(s: ServerConn): void {
    const which = this.reapply;
    this.reapply = null;
    const wanted = new Map<string, string>();
    for (const [k, v] of this.params) if (which === "all" || which!.includes(k)) wanted.set(k, v);
    if (wanted.size === 0) return;
    s.sendInternal(syncSql(new Map(), wanted));
    for (const [k, v] of wanted) s.applied.set(k, v);
  }

  /** From now on this client keeps its primary connection (DISCARD ALL when it leaves). */
  private pin(reason: string): void {
    this.pinReason = reason;
    this.pinnedLabel = `pinned:${reason}`;
    log.debug("client_pinned", { client: this.id, reason });
  }

  /**
   * A message for the attached connection inside a transaction, a pinned session or a COPY: not
   * routed, but it may still change session state (SET, DECLARE … WITH HOLD, PREPARE, LISTEN,
   * CREATE TEMP, advisory locks, SET ROLE inside BEGIN … COMMIT) — a pin for the rest of the
   * session, kept even if the transaction rolls back (pinning more than needed is only slower) —
   * or write, which read-your-writes must know. Classified through the route cache.
   */
  private noteSticky(type: number, buf: Uint8Array, start: number, end: number): void {
    const watchPins = this.pinReason === null;
    const watchWrites = this.rywTracking && this.serverTarget === "primary" && !this.floor.wrote;
    // Pinned sessions are still watched for RESET / DISCARD ALL (Query and Parse only).
    if (!watchPins && !watchWrites && type !== Frontend.Query && type !== Frontend.Parse) return;
    let sql: string | undefined;
    if (type === Frontend.Query) sql = decodeQuery(buf, start + 5, end);
    else if (type === Frontend.Parse) sql = ClientStatements.parseInfo(buf, start, end).query;
    else if (type === Frontend.Bind) {
      if (watchWrites) sql = this.statements.queryOf(ClientStatements.bindStatement(buf, start, end));
    } else if (type === Frontend.FunctionCall || type === Frontend.CopyData) {
      if (watchWrites) this.floor.wrote = true;
      return;
    }
    if (sql === undefined) return;
    if (type !== Frontend.Bind) this.noteResetIn(sql);
    if (!watchPins && !watchWrites) return;
    const cls = this.ctx.router.classify(sql, this.database);
    if (watchPins && cls.pin) this.pin(cls.pin);
    if (watchWrites && mayWrite(cls)) this.floor.wrote = true;
  }

  /**
   * Sends a freshly routed batch. An autocommit batch to a replica, first in flight, is kept
   * until it produces output, so a 25006 can be replayed on the primary invisibly.
   */
  private transmitBatch(count: number, complete: boolean): void {
    const s = this.server!;
    const terminator = this.queue.frames[count - 1].type;
    if (this.serverTarget === "replica" && complete && s.pendingReplies === 0 && (terminator === Frontend.Sync || terminator === Frontend.Query)) {
      this.replay = this.queue.frames.slice(0, count);
      s.holdReplies();
    }
    this.transmitQueued(count);
  }

  private transmitQueued(count: number): void {
    for (const f of this.queue.take(count)) this.transmit(f.type, f.buf, f.start, f.end);
    if (this.readingPaused && this.queue.bytes <= QUEUE_HIGH_WATER && this.state !== "waiting") this.pauseReading(false);
  }

  private dropQueued(count: number): void {
    this.queue.take(count);
  }

  /** Sends one client message to the attached server, accounting for the replies it will produce. */
  private transmit(type: number, buf: Uint8Array, start: number, end: number): void {
    const s = this.server!;
    if (this.reapply !== null) this.reapplyStartupParams(s);
    switch (type) {
      case Frontend.Query:
      case Frontend.FunctionCall:
        this.countQuery(s);
        if (this.resetSeen !== null) this.afterReset(s);
        break;
      case Frontend.Sync:
        this.countQuery(s);
        if (this.resetSeen !== null) this.afterReset(s);
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
    const actualTarget: Target = node && target === "replica" ? "replica" : "primary";
    if (this.att.acquire(node ?? this.ctx.primary, actualTarget, this, this.params, this.ctx.config.pool.preparedStatementsCacheSize, this.granted)) return true;
    this.transition("waiting");
    return false;
  }

  private readonly granted = (pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError): void => this.onGranted(pool, target, conn, err);

  private onGranted(pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError): void {
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
    this.att.attach(conn, target, this, this.params, this.ctx.config.pool.preparedStatementsCacheSize);
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

  /** Transaction pooling: the connection goes back as soon as the server says idle. */
  private releaseServer(): void {
    // Another connection gets the startup parameters when it is attached.
    this.reapply = null;
    this.att.release();
    if (this.state === "active") this.transition("idle");
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
      const next = afterReadyForQuery({
        floorToCapture: this.floor.wrote && this.rywTracking && this.serverTarget === "primary" && this.txStatus === TxStatus.Idle,
        queued: this.queue.length > 0,
        sticky: this.isSticky(),
        transactionPooling: this.ctx.config.pool.mode === "transaction",
        pinned: this.pinReason !== null,
      });
      if (next === "capture_floor") {
        // The client's ReadyForQuery waits for the write's WAL position: pggate.write_lsn must
        // precede it (a client reads what came before ReadyForQuery), and the floor must be in
        // place before the client can send its next read — on this or, in user / global mode,
        // any other connection. Costs one round trip to the primary per committed write.
        const status = this.txStatus;
        this.floor.capture(s, () => {
          if (this.state === "closed") return;
          this.out.send(buildReadyForQuery(status));
          if (this.server === s && s.pendingReplies === 0 && !this.isSticky()) this.releaseServer();
          if (this.queue.length > 0) this.schedulePump();
        });
        return false;
      } else if (next === "release") this.releaseServer();
      else if (next === "keep") this.transition("idle");
      else if (next === "pump") this.schedulePump();
      return true;
    }
    if (type === Backend.ParameterStatus && this.pinReason === null) {
      // The server reports a session setting that changed under the client's own traffic (PgGate's
      // parameter sync is internal and never gets here). A SET would have pinned already; this is
      // state changed where the router cannot see it (set_config() inside a function or DO block):
      // the connection must not go to another client as it is, so it stays with this one.
      this.pin("server_setting");
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
    this.replayHeld(kind);
  }

  /** Puts the held replica batch back in front of the queue and routes it again. */
  private replayHeld(why: HeldFailure | "connection_lost"): void {
    const frames = this.replay;
    const s = this.server;
    this.replay = null;
    if (!frames) return;
    log.debug("replica_batch_replayed", { client: this.id, why, node: s?.node.name });
    this.queue.requeue(frames);
    if (why === "read_only") {
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
    this.att.drop();
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
      this.replayHeld("connection_lost");
      return;
    }
    this.att.drop();
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

  // --- Cancellable -----------------------------------------------------------------------

  cancelRunningQuery(): void {
    const s = this.server;
    if (!s || s.pendingReplies === 0) return;
    sendCancel(s.node, s.processId, s.secretKey);
  }

  /** A prepare-only batch (Parse..., Sync) of statements known to parse needs no server. */
  private answerPrepareLocally(count: number): boolean {
    if (this.txStatus !== TxStatus.Idle) return false;
    const parsed = acceptPrepareOnly(this.queue.frames, count, this.statements);
    if (parsed === 0) return false;
    for (let i = 0; i < parsed; i++) this.out.send(PARSE_COMPLETE);
    this.out.send(buildReadyForQuery(TxStatus.Idle));
    this.dropQueued(count);
    return true;
  }

  private answerPggateSet(name: "route" | "min_lsn", value: string): void {
    const setting = parsePggateSet(name, value);
    if (setting instanceof PgError) {
      this.fail(setting);
      return;
    }
    if (setting.name === "min_lsn") this.floor.raise(setting.lsn, false);
    else this.sessionRoute = setting.route;
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
    const len = this.queue.batchLength();
    const extended = len > 0 && this.queue.frames[len - 1].type === Frontend.Sync;
    this.dropQueued(len);
    this.out.send(encodePgError(e));
    if (extended || len > 0) this.out.send(buildReadyForQuery(this.txStatus));
    if (this.queue.length > 0) this.pump();
  }
}
