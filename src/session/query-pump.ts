// The query pump of a logged-in client: each batch it sends is queued, classified, routed
// (nextAction) and forwarded to its server connection, with the bookkeeping that keeps the
// client's view that of the primary alone (pins, read-your-writes floors, startup values after
// RESET, answers PgGate gives itself). Getting connections and handling their replies is the
// subclass (ClientSession); the connection's life is SessionCore.
import type { Cluster } from "./cluster.ts";
import type { RoutingConfig } from "../config/types.ts";
import { buildCommandComplete, buildReadyForQuery, decodeQuery, Frontend, TxStatus } from "../protocol/index.ts";
import { encodePgError, error, PgError, SqlState } from "../errors/index.ts";
import { ForwardRun } from "../net/forward-run.ts";
import type { LinkSocket } from "../net/link.ts";
import { log } from "../log/index.ts";
import { settingsToDefault, type Classification, type Target } from "../router/index.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";
import { ServerAttachment } from "./attachment.ts";
import { acceptPrepareOnly, BatchQueue, classifyBatch, MAX_INSPECTED_MESSAGE, type QueuedFrame } from "./batch.ts";
import type { GatewayContext } from "./context.ts";
import { deallocateBatch, mayStartDeallocate, parsePggateSet, type DeallocateBatch, type LocalBatch } from "./local-answers.ts";
import type { ClientListens } from "./client-listens.ts";
import { mayStartListen } from "./listen-answers.ts";
import { StartupResets } from "./startup-resets.ts";
import { nextAction, wantsReplica, type BatchSituation } from "./next-action.ts";
import { QUEUE_HIGH_WATER, SessionCore, WAIT_PAUSE_BYTES } from "./session-core.ts";
import { ClientStatements, Forwarded, type StatementOwner } from "./statements.ts";
import type { StatementCaps } from "./statement-limits.ts";
import { statementNames } from "../server/statement-names.ts";
import { mayWrite, WriteFloor, type FloorHost } from "./write-floor.ts";

const PARSE_COMPLETE = new Uint8Array([0x31, 0, 0, 0, 4]);
const BIND_COMPLETE = new Uint8Array([0x32, 0, 0, 0, 4]);
const NO_DATA = new Uint8Array([0x6e, 0, 0, 0, 4]);
/** ParameterDescription of a statement without parameters. */
const NO_PARAMETERS = new Uint8Array([0x74, 0, 0, 0, 6, 0, 0]);

export abstract class QueryPump extends SessionCore implements FloorHost, StatementOwner {
  queries = 0;

  /** Why this client holds its primary connection for life (SET, LISTEN, session mode, ...). */
  pinReason: string | null = null;

  /** Route and reason of the last batch, for SHOW CLIENTS and metrics. */
  lastRoute: Target | null = null;

  lastReason = "";

  /** The server connection this client holds (and the pools it comes from). */
  protected readonly att: ServerAttachment;

  protected get server(): ServerConn | null {
    return this.att.conn;
  }

  protected get serverTarget(): Target | null {
    return this.att.target;
  }

  /** An extended-protocol batch was started on the server and its Sync not yet sent. */
  protected openBatch = false;

  protected readonly queue = new BatchQueue();

  /** A replica batch whose replies are held: replayed on the primary if the replica says 25006. */
  protected replay: QueuedFrame[] | null = null;

  /** The next batch goes to the primary: a replayed 25006 batch. */
  protected retryOnPrimary = false;

  /** Deadline for writes held while no primary is reachable; 0 when not waiting. */
  protected primaryWaitUntil = 0;

  /** Its database's cluster. Queries run only after login, which sets the entry. */
  get cluster(): Cluster {
    return this.db!.cluster;
  }

  /** Its database's routing settings (the top-level ones with the entry's own over them). */
  get routing(): RoutingConfig {
    return this.db!.routing;
  }

  /** Whether read-your-writes floors are kept for this client (not for pinned sessions: they never read replicas). */
  protected get rywTracking(): boolean {
    const r = this.routing;
    return r.readYourWrites !== "off" && r.readWriteSplit && this.pinReason === null;
  }

  /** Read-your-writes: what this client wrote and how fresh its reads must be. */
  private floorObj: WriteFloor | null = null;
  /** Made on first use: a client that never sends a query holds none. */
  get floor(): WriteFloor {
    return (this.floorObj ??= new WriteFloor(this.ctx, this));
  }

  /** The floor if one was made (closing a client that never queried makes none). */
  protected get floorIfAny(): WriteFloor | null {
    return this.floorObj;
  }

  /** Waiting because of PAUSE (not for a pool). */
  protected pausedWait = false;

  protected readonly statements: ClientStatements;

  /** Route reason of the batch being transmitted; null inside transactions and pinned sessions. */
  protected batchReason: string | null = null;

  protected pinnedLabel = "";

  /** When the oldest reply still owed was requested (performance.now()), 0 when none. */
  protected inflightSince = 0;

  protected readonly run = new ForwardRun();

  /**
   * Client messages held, in order, while the attached connection describes a re-prepared
   * statement (ClientStatements' Hold); null when nothing is held. Copies: the frames may be
   * views into buffers that are reused.
   */
  private shapeHeld: QueuedFrame[] | null = null;

  /** Its LISTENs (through its hub): made on the first LISTEN or UNLISTEN (see ListenPump). */
  protected listensObj: ClientListens | null = null;

  /**
   * A committed transaction's new channels are not LISTENed by the hub yet: the client's
   * ReadyForQuery waits (as does its next batch), so a NOTIFY it causes afterwards reaches it.
   */
  protected listenReplyHeld = false;

  /** Where forwarded statement messages go: made on the first (idle clients hold no closure). */
  private transmitFn: ((buf: Uint8Array, start: number, end: number) => void) | null = null;
  protected get transmitOut(): (buf: Uint8Array, start: number, end: number) => void {
    return (this.transmitFn ??= (buf, start, end) => this.run.add(this.server!.link, buf, start, end));
  }

  protected pumpQueued(): void {
    if (this.queue.length > 0) this.pump();
  }

  protected flushOutput(): void {
    this.run.flush();
  }

  protected get queuedBytes(): number {
    return this.queue.bytes;
  }

  protected get outboundBytes(): number {
    return this.server?.link.pendingBytes ?? 0;
  }

  protected onSessionFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (type === Frontend.Terminate) {
      this.close();
      return;
    }
    // Fast path: inside a transaction, a pinned session or a COPY, bytes go straight through.
    // Not while a batch waits for a statement's shape: what follows may be a new batch, routed anew.
    // A DEALLOCATE that may be answered here is queued instead, whole (see answerDeallocate).
    if (
      this.queue.length === 0 &&
      this.shapeHeld === null &&
      this.isSticky() &&
      (this.openBatch || (!mayStartDeallocate(type, buf, start, end) && !(mayStartListen(type, buf, start, end) && this.listenAnswered)))
    ) {
      const sql = this.stickySql(type, buf, start, end);
      this.noteSticky(type, sql, buf, start, end);
      this.transmit(type, buf, start, end);
      return;
    }
    this.queue.push(type, buf, start, end);
    if (this.queue.bytes > QUEUE_HIGH_WATER || (this.state === "waiting" && this.queue.bytes > WAIT_PAUSE_BYTES)) this.pauseReading(true);
  }

  /** Whether the attached connection must take the client's next message whatever it is. */
  protected isSticky(): boolean {
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
  protected pump(): void {
    while (this.queue.length > 0 && this.state !== "closed" && this.state !== "waiting") {
      // Nothing may overtake a batch that might still be replayed elsewhere, nor a read the
      // floor of the write before it (still being learnt); nor can a batch be routed while the
      // one before it waits for a statement's shape (its Sync is still held).
      if (this.replay || this.floor.pending || this.shapeHeld !== null) break;
      // Nor may anything overtake a LISTEN whose answer waits for the hub.
      if (this.listenReplyHeld || this.listensObj?.holding) break;
      const q = this.queue.frames;
      const dealloc = this.openBatch ? "forward" : this.answerDeallocate();
      if (dealloc === "wait") break;
      if (dealloc === "answered") continue;
      const listen = this.openBatch ? "forward" : this.answerListen();
      if (listen === "wait") break;
      if (listen === "answered") continue;
      if (this.isSticky()) {
        const n = this.queue.batchLength();
        for (let i = 0; i < n; i++) this.noteSticky(q[i].type, this.stickySql(q[i].type, q[i].buf, q[i].start, q[i].end), q[i].buf, q[i].start, q[i].end);
        this.transmitQueued(n);
        continue;
      }
      const len = this.queue.batchLength();
      const complete = this.queue.isComplete(len);
      if (!complete && this.queue.bytes <= QUEUE_HIGH_WATER) break;
      const count = complete ? len : q.length;
      if (!this.server && complete && this.answerPrepareLocally(count)) continue;
      const cls = classifyBatch(q, count, this.statements, this.ctx, this.user, this.database, this.schemaSeen);
      if (this.schemaSeen.schema) this.noteSchemaChange();
      if (cls?.pggateSet && count === 1 && q[0].type === Frontend.Query) {
        this.answerPggateSet(cls.pggateSet.name, cls.pggateSet.value);
        this.dropQueued(1);
        continue;
      }
      if (cls !== null && (cls.pin !== null || cls.reason === "session")) this.noteResets(count);
      if (!this.placeBatch(cls, count, complete)) break;
    }
    this.run.flush();
    this.chargeMemory();
  }

  /**
   * Routes one batch: gathers the situation, lets nextAction() decide, and carries the action
   * out. Returns false when the client now waits (pool, floor, PAUSE, a busy replica).
   */
  protected placeBatch(cls: Classification | null, count: number, complete: boolean): boolean {
    const routing = this.routing;
    const s = this.server;
    // One replica choice per read batch: it decides availability and, if used, the node.
    const picked = wantsReplica(cls, routing.readWriteSplit, this.retryOnPrimary, this.pinReason) ? this.cluster.pickReplica(routing, this.user, this.database) : null;
    const situation: BatchSituation = {
      cls,
      retryOnPrimary: this.retryOnPrimary,
      split: routing.readWriteSplit,
      noReplica: routing.noReplica,
      sessionRoute: this.sessionRoute,
      replica: picked,
      replicaIsPrimary: picked !== null && picked === this.cluster.primary,
      floorSet: this.rywTracking && this.floor.constrains,
      floor: "unknown",
      attached: s && this.serverTarget ? { target: this.serverTarget, busy: s.pendingReplies > 0 } : null,
      paused: this.ctx.isPaused(this.database),
      pinned: this.pinReason,
    };
    if (cls !== null && cls.txn !== null) this.listensObj?.noteTxn(cls.txn);
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
  protected notePossibleWrite(cls: Classification | null, target: Target): void {
    if (target === "primary" && (cls === null || mayWrite(cls))) this.floor.wrote = true;
  }

  protected noteRoute(target: Target, reason: string, pin: string | null): void {
    this.lastRoute = target;
    this.lastReason = reason;
    this.batchReason = reason;
    if (pin && !this.pinReason) this.pin(pin);
  }

  /** RESET / DISCARD ALL: startup parameters to apply again (see StartupResets). */
  protected readonly resets = new StartupResets();

  /** Set by classifyBatch when a batch may change the schema. */
  private readonly schemaSeen = { schema: false };

  /** DDL was sent and has not finished (see StatementNames.beginSchemaChange). */
  protected schemaChanging = false;

  /**
   * DDL is on its way: until it is over, statements parsed by anyone get names of their own; then
   * new shared names (StatementNames.beginSchemaChange). Again at each ReadyForQuery inside its
   * transaction, since other connections see the change only once it commits.
   */
  protected noteSchemaChange(): void {
    this.schemaSeen.schema = false;
    if (this.schemaChanging) statementNames.invalidate();
    else statementNames.beginSchemaChange();
    this.schemaChanging = true;
  }

  /** The DDL's transaction is over (or the client left): statements are shared again, under new names. */
  protected schemaChangeOver(): void {
    if (!this.schemaChanging) return;
    this.schemaChanging = false;
    statementNames.endSchemaChange();
  }

  /**
   * Scans the first `count` queued frames for RESET, SET ... TO DEFAULT, DISCARD ALL (only batches
   * that may hold one): Query and Parse texts, and the statements Binds run again.
   */
  protected noteResets(count: number): void {
    const q = this.queue.frames;
    for (let i = 0; i < count; i++) {
      const f = q[i];
      if (f.type === Frontend.Query) this.resets.noteIn(decodeQuery(f.buf, f.start + 5, f.end), this.params);
      else if (f.type === Frontend.Parse) this.resets.noteIn(ClientStatements.parseInfo(f.buf, f.start, f.end).query, this.params);
      else if (f.type === Frontend.Bind) this.noteBindResets(f.buf, f.start, f.end);
    }
  }

  /** A Bind runs its named statement again: a prepared SET ... TO DEFAULT resets again. */
  private noteBindResets(buf: Uint8Array, start: number, end: number): void {
    if (this.params.size === 0) return;
    const stmt = this.statements.statementOfBind(buf, start, end);
    if (!stmt?.query) return;
    // Asked once per statement: most are no SET, and a Bind is the hot path.
    stmt.resets ??= settingsToDefault(stmt.query) !== null;
    if (stmt.resets) this.resets.noteIn(stmt.query, this.params);
  }

  /** From now on this client keeps its primary connection (DISCARD ALL when it leaves). */
  protected pin(reason: string): void {
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
  protected noteSticky(type: number, sql: string | undefined, buf: Uint8Array, start: number, end: number): void {
    const watchPins = this.pinReason === null;
    const watchWrites = this.rywTracking && this.serverTarget === "primary" && !this.floor.wrote;
    if (type === Frontend.FunctionCall || type === Frontend.CopyData) {
      if (watchWrites) this.floor.wrote = true;
      return;
    }
    // Pinned sessions are still watched for RESET, SET ... TO DEFAULT, DISCARD ALL.
    if (type === Frontend.Bind) this.noteBindResets(buf, start, end);
    if (sql === undefined) return;
    if (type !== Frontend.Bind) this.resets.noteIn(sql, this.params);
    // Query and Parse are always classified (through the route cache): DDL must be seen.
    if (!watchPins && !watchWrites && type === Frontend.Bind) return;
    const cls = this.ctx.router.classify(sql, this.database);
    if (cls.txn !== null) this.listensObj?.noteTxn(cls.txn);
    if (cls.schema) this.noteSchemaChange();
    if (watchPins && cls.pin) this.pin(cls.pin);
    if (watchWrites && mayWrite(cls)) this.floor.wrote = true;
  }

  /**
   * The SQL text a sticky message carries, decoded once for every check on it: Query and Parse
   * always (pins, RESET, DEALLOCATE), a Bind's statement text only while writes are watched.
   */
  protected stickySql(type: number, buf: Uint8Array, start: number, end: number): string | undefined {
    if ((type === Frontend.Query || type === Frontend.Parse) && end - start > MAX_INSPECTED_MESSAGE) {
      // Not decoded (see MAX_INSPECTED_MESSAGE): it may write.
      if (this.rywTracking && this.serverTarget === "primary") this.floor.wrote = true;
      return undefined;
    }
    if (type === Frontend.Query) return decodeQuery(buf, start + 5, end);
    if (type === Frontend.Parse) return ClientStatements.parseInfo(buf, start, end).query;
    if (type === Frontend.Bind && this.rywTracking && this.serverTarget === "primary" && !this.floor.wrote) {
      const stmt = this.statements.statementOfBind(buf, start, end);
      // Too large to have been decoded: it may write, as its Parse.
      if (stmt?.query === null) this.floor.wrote = true;
      return stmt?.query ?? undefined;
    }
    return undefined;
  }

  /**
   * Sends a freshly routed batch. An autocommit batch to a replica, first in flight, is kept
   * until it produces output, so a 25006 can be replayed on the primary invisibly.
   */
  protected transmitBatch(count: number, complete: boolean): void {
    const s = this.server!;
    const terminator = this.queue.frames[count - 1].type;
    if (this.serverTarget === "replica" && complete && s.pendingReplies === 0 && (terminator === Frontend.Sync || terminator === Frontend.Query)) {
      this.replay = this.queue.frames.slice(0, count);
      s.holdReplies();
    }
    this.transmitQueued(count);
  }

  protected transmitQueued(count: number): void {
    for (const f of this.queue.take(count)) this.transmit(f.type, f.buf, f.start, f.end);
    if (this.readingPaused && this.queue.bytes <= QUEUE_HIGH_WATER && this.state !== "waiting") this.pauseReading(false);
  }

  protected dropQueued(count: number): void {
    this.queue.take(count);
  }

  /** Sends one client message to the attached server, accounting for the replies it will produce. */
  protected transmit(type: number, buf: Uint8Array, start: number, end: number): void {
    if (this.shapeHeld !== null) {
      this.shapeHeld.push({ type, buf: buf.slice(start, end), start: 0, end: end - start });
      return;
    }
    const s = this.server!;
    // Our own queries are written at once: what this client sent before them must go first. And
    // they go between batches only: inside one they would end its implicit transaction.
    if (this.resets.pending) {
      this.run.flush();
      this.resets.reapplyOn(s, this.params);
    }
    if (!this.openBatch && s.hasStaleStatements) {
      this.run.flush();
      s.dropStaleStatements();
    }
    if (type === Frontend.Query || type === Frontend.Parse) this.noteListens(type, buf, start, end, s);
    switch (type) {
      case Frontend.Query:
      case Frontend.FunctionCall:
        this.countQuery(s);
        this.resets.batchSent(s);
        break;
      case Frontend.Sync:
        this.countQuery(s);
        this.resets.batchSent(s);
        this.openBatch = false;
        break;
      case Frontend.Parse:
      case Frontend.Bind:
      case Frontend.Describe:
      case Frontend.Close: {
        this.openBatch = true;
        const r = this.statements.forward(type, buf, start, end, s, this.transmitOut);
        if (r === Forwarded.Hold) {
          this.shapeHeld = [{ type, buf: buf.slice(start, end), start: 0, end: end - start }];
          this.run.flush();
          return;
        }
        if (r === Forwarded.Sent) return;
        break;
      }
      case Frontend.Execute:
      case Frontend.Flush:
        this.openBatch = true;
        break;
    }
    this.transition("active");
    if (s.stats) s.stats.bytesOut += end - start;
    if (s.poolStats) s.poolStats.bytesOut += end - start;
    this.run.add(s.link, buf, start, end);
  }

  /**
   * The attached connection answered the Describe a Hold waited for: the held messages go on,
   * in order (one of them may start another Hold).
   */
  onShapeLearnt(conn: ServerConn): void {
    const held = this.shapeHeld;
    if (held === null || this.server !== conn || this.state === "closed") return;
    this.shapeHeld = null;
    for (let i = 0; i < held.length; i++) {
      const f = held[i];
      this.transmit(f.type, f.buf, f.start, f.end);
      // transmit() may have started another Hold.
      const again = this.shapeHeld as QueuedFrame[] | null;
      if (again !== null) {
        for (let j = i + 1; j < held.length; j++) again.push(held[j]);
        return;
      }
    }
    this.run.flush();
    if (this.queue.length > 0) this.schedulePump();
  }

  /** The connection the held messages waited for is gone (they are replayed or the client fails). */
  protected dropShapeHeld(): void {
    this.shapeHeld = null;
  }

  /** A message that ends in ReadyForQuery: reply accounting and the per-route counters. */
  protected countQuery(s: ServerConn): void {
    s.expectReply();
    this.queries++;
    if (this.inflightSince === 0) this.inflightSince = performance.now();
    const reason = this.batchReason ?? (this.pinReason ? this.pinnedLabel || `pinned:${this.pinReason}` : "transaction");
    this.batchReason = null;
    this.ctx.stats.query(this.serverTarget ?? "primary", reason);
    if (s.stats) s.stats.queries++;
    if (s.poolStats) s.poolStats.queries++;
  }

  /** Transaction pooling: the connection goes back as soon as the server says idle. */
  protected releaseServer(): void {
    // Another connection gets the startup parameters when it is attached.
    this.resets.released();
    this.att.release();
    if (this.state === "active") this.transition("idle");
  }

  protected schedulePump(): void {
    queueMicrotask(() => {
      if (this.state === "closed") return;
      try {
        this.pump();
      } catch (e) {
        this.failWith(e);
      }
    });
  }

  /** A prepare-only batch (Parse..., Sync) of statements known to parse needs no server. */
  protected answerPrepareLocally(count: number): boolean {
    if (this.txStatus !== TxStatus.Idle) return false;
    const parsed = acceptPrepareOnly(this.queue.frames, count, this.statements);
    if (parsed === 0) return false;
    for (let i = 0; i < parsed; i++) this.out.send(PARSE_COMPLETE);
    this.out.send(buildReadyForQuery(TxStatus.Idle));
    this.dropQueued(count);
    return true;
  }

  /**
   * SQL DEALLOCATE of the client's protocol-level statements: their names are the client's own
   * (the servers hold PgGate's pggate_* names, shared), so PgGate answers with PostgreSQL's
   * replies, message by message, when the batch at the head of the queue is the DEALLOCATE alone:
   * a Query, or the unnamed Parse … Sync drivers send for it (deallocateBatch). It first waits for
   * every reply still owed: those come before its answers, and the last ReadyForQuery says
   * whether a transaction is open or failed. The server answers instead where the answer is the
   * server's to give: in a failed transaction (25P02), a name PgGate does not know in a pinned
   * session (SQL PREPARE'd there) or inside a transaction (the error must abort it there), and
   * DEALLOCATE ALL on a pinned session's connection (it drops SQL-prepared statements too — and
   * PgGate's, prepared again on use). A DEALLOCATE among other statements of one batch (between
   * the same two Syncs) goes to the server as it is: the server does not know the client's names.
   */
  private answerDeallocate(): "answered" | "wait" | "forward" {
    const q = this.queue.frames;
    if (!mayStartDeallocate(q[0].type, q[0].buf, q[0].start, q[0].end)) return "forward";
    const len = this.queue.batchLength();
    if (!this.queue.isComplete(len)) return this.queue.bytes > QUEUE_HIGH_WATER ? "forward" : "wait";
    const batch = deallocateBatch(q, len);
    if (batch === null) return "forward";
    const s = this.server;
    if (s !== null && s.pendingReplies > 0) return "wait";
    const outcome = this.deallocate(batch, s);
    if (outcome === "forward") return "forward";
    this.sendLocalReplies(batch, outcome instanceof PgError ? outcome : [buildCommandComplete(outcome.tag)]);
    this.dropQueued(len);
    // Nothing else holds the connection now: transaction pooling gives it back.
    if (s !== null && this.pinReason === null && !this.isSticky()) this.releaseServer();
    return "answered";
  }

  /** Carries out a DEALLOCATE batch: its command tag, or the error PostgreSQL gives, or "forward". */
  private deallocate(batch: DeallocateBatch, s: ServerConn | null): { tag: string } | PgError | "forward" {
    if (this.txStatus === TxStatus.Failed) return "forward";
    const pinned = this.pinReason !== null;
    const t = batch.target;
    if ("all" in t) {
      if (pinned && s !== null) {
        if (batch.executes) {
          this.statements.deallocateAll();
          s.forgetPrepared();
        }
        return "forward";
      }
      if (batch.executes) this.statements.deallocateAll();
      return { tag: "DEALLOCATE ALL" };
    }
    if (!batch.executes) return { tag: "DEALLOCATE" };
    if (this.statements.deallocate(t.name)) return { tag: "DEALLOCATE" };
    if (pinned || this.txStatus !== TxStatus.Idle) return "forward";
    return error(SqlState.InvalidSqlStatementName, `prepared statement "${t.name}" does not exist`);
  }

  /**
   * PostgreSQL's replies to a batch answered here (DEALLOCATE, LISTEN), in message order:
   * ParseComplete, for a Describe of the statement ParameterDescription (no parameters) and
   * NoData, BindComplete, NoData for a Describe of the portal, then the Execute's results
   * (notices, CommandComplete) or error (after which the rest is skipped), and ReadyForQuery
   * (protocol docs, 55.2.3 Extended Query). A simple Query gets its results or error alone.
   */
  protected sendLocalReplies(batch: LocalBatch<unknown>, outcome: Uint8Array[] | PgError): void {
    if (batch.parsed !== null) this.statements.replaceUnnamed(batch.parsed);
    const steps = batch.parsed === null ? (["execute"] as const) : batch.steps;
    for (const step of steps) {
      if (step === "parse") this.out.send(PARSE_COMPLETE);
      else if (step === "describe_statement") {
        this.out.send(NO_PARAMETERS);
        this.out.send(NO_DATA);
      } else if (step === "bind") this.out.send(BIND_COMPLETE);
      else if (step === "describe_portal") this.out.send(NO_DATA);
      else if (outcome instanceof PgError) {
        this.out.send(encodePgError(outcome));
        break;
      } else for (const f of outcome) this.out.send(f);
    }
    this.out.send(buildReadyForQuery(this.txStatus));
  }

  protected answerPggateSet(name: "route" | "min_lsn", value: string): void {
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

  /** The batch at the head of the queue cannot run: answer it with an error and skip it. */
  protected failQueuedBatch(e: PgError): void {
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

  // --- StatementOwner: what this client's statements may keep, charged to the memory budget ---

  get statementCaps(): StatementCaps {
    return this.ctx.config.limits;
  }

  statementBytesFit(bytes: number): boolean {
    return this.ctx.memory.fits(bytes);
  }

  retainStatementBytes(delta: number): void {
    this.ctx.memory.retain(this, delta);
  }

  constructor(socket: LinkSocket, ctx: GatewayContext, unixPort: number | null) {
    super(socket, ctx, unixPort);
    this.statements = new ClientStatements(ctx.stats, this);
    this.att = new ServerAttachment(ctx.pools, this);
  }

  /** Attaches a connection for `target`; false when the client now waits for one. */
  protected abstract acquire(target: Target, replica?: NodeTarget | null): boolean;
  /** Whether LISTEN / UNLISTEN batches are answered by PgGate for this client (see ListenPump). */
  protected abstract get listenAnswered(): boolean;
  /** Answers the LISTEN / UNLISTEN batch at the head of the queue, if it is one (see ListenPump). */
  protected abstract answerListen(): "answered" | "wait" | "forward";
  /** A Query or Parse on its way to `s`: what it says about NOTIFY and LISTEN (see ListenPump). */
  protected abstract noteListens(type: number, buf: Uint8Array, start: number, end: number, s: ServerConn): void;
  abstract floorWaitOver(): void;
}
