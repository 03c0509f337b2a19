// One client connection as the gateway sees it: the query pump (QueryPump, LISTEN answered by
// ListenPump) plus where its server connections come from (acquire, waiting, failover holds) and
// what their replies mean (ReadyForQuery, 25006 and node-failure replays, lost connections),
// cancel, and the handle SHOW CLIENTS and metrics read.
import type { DatabaseEntry } from "./databases.ts";
import { Backend, buildReadyForQuery, decodeErrorFields, ErrorField, TxStatus } from "../protocol/index.ts";
import { encodePgError, error, fatal, type PgError, SqlState } from "../errors/index.ts";
import type { LinkSocket } from "../net/link.ts";
import { log } from "../log/index.ts";
import type { ServerPool } from "../pool/pools.ts";
import type { Target } from "../router/index.ts";
import { sendCancel } from "../server/cancel.ts";
import type { HeldFailure, NodeTarget, ServerConn, ServerConsumer } from "../server/server-conn.ts";
import type { ClientHandle, GatewayContext } from "./context.ts";
import { afterReadyForQuery } from "./next-action.ts";
import { poolModeFor } from "../pool/pool-settings.ts";
import { ListenPump } from "./listen-pump.ts";
import { notificationChannel } from "./listen-hub.ts";

export type { ClientState } from "./session-core.ts";

export class ClientSession extends ListenPump implements ServerConsumer, ClientHandle {
  /** `unixPort`: set for a client on the Unix socket (see SessionCore.local). */
  constructor(socket: LinkSocket, ctx: GatewayContext, unixPort: number | null = null) {
    super(socket, ctx, unixPort);
    // The handshake timeout is enforced by the gateway's client sweep: no timer per connection.
    ctx.clients.add(this);
  }

  protected releaseAll(): void {
    this.ctx.clients.delete(this);
    this.att.cancelWait();
    this.att.returnAfterClient(this.id, this.pinReason !== null, this.openBatch);
    this.queue.clear();
    this.statements.dispose();
    this.floorIfAny?.stopWaiting();
    this.schemaChangeOver();
    this.listensObj?.dispose();
  }

  protected closeSummary(): { queries: number; pin?: string } {
    return { queries: this.queries, pin: this.pinReason ?? undefined };
  }

  protected onLoggedIn(): void {
    this.statements.useAccepted(this.ctx.acceptedTexts.setFor(this.user, this.database, this.params));
    if (poolModeFor(this.ctx.config, this.user, this.database) === "session") this.pinReason = "session_mode";
  }

  rebind(db: DatabaseEntry): void {
    this.db = db;
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

  /** Attaches a connection for `target`; false when the client now waits for one. */
  protected acquire(target: Target, replica: NodeTarget | null = null): boolean {
    const cluster = this.cluster;
    const node = target === "replica" ? (replica ?? cluster.pickReplica(this.routing, this.user, this.database)) : cluster.primary;
    const actualTarget: Target = node && target === "replica" ? "replica" : "primary";
    if (this.att.acquire(node ?? cluster.primary, actualTarget, this, this.params, this.ctx.config.pool.preparedStatementsCacheSize, this.granted)) return true;
    this.transition("waiting");
    return false;
  }

  /** The pool's callback for a connection this client waited for: made on first use. */
  private grantedFn: ((pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError) => void) | null = null;
  private get granted(): (pool: ServerPool, target: Target, conn: ServerConn | null, err?: PgError) => void {
    return (this.grantedFn ??= (pool, target, conn, err) => this.onGranted(pool, target, conn, err));
  }

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
        this.cluster.balancer.ban(pool.node);
        this.pump();
        return;
      }
      if (target === "primary" && unreachable && this.holdForPrimary()) return;
      this.failQueuedBatch(err ?? error(SqlState.ConnectionFailure, `no server connection available in pool ${pool.label}`));
      return;
    }
    if (target === "replica") this.cluster.balancer.succeeded(pool.node);
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

  onServerMessage(type: number, buf: Uint8Array, start: number, end: number): boolean {
    if (type === Backend.ReadyForQuery) {
      const s = this.server;
      this.txStatus = buf[start + 5];
      if (this.schemaChanging) {
        // Over once nothing more is owed (a pipelined DDL may still be running) outside a transaction.
        if (this.txStatus === TxStatus.Idle && (!s || s.pendingReplies === 0)) this.schemaChangeOver();
        else this.noteSchemaChange();
      }
      if (!s || s.pendingReplies > 0) return true;
      const listens = this.listensObj;
      // Between transactions again: queued notifications go right after this ReadyForQuery (a
      // microtask: frames of this reply may still be on their way to the client), before its
      // next batch is pumped. A committed transaction's LISTENs take effect first.
      const holdForListen = this.txStatus === TxStatus.Idle && listens !== null && listens.hasPending && listens.endTransaction((ok) => this.listensApplied(ok, s));
      if (this.txStatus === TxStatus.Idle && listens !== null && listens.queued > 0) queueMicrotask(() => listens.flush());
      if (this.inflightSince !== 0) {
        const seconds = (performance.now() - this.inflightSince) / 1000;
        this.inflightSince = 0;
        this.timeoutCancelAt = 0;
        this.ctx.stats.duration[this.serverTarget ?? "primary"].observe(seconds);
        if (s.stats) {
          s.stats.latency.observe(seconds);
          if (this.txStatus === TxStatus.Idle) {
            s.stats.transactions++;
            if (s.poolStats) s.poolStats.transactions++;
          }
        }
      }
      const next = afterReadyForQuery({
        floorToCapture: this.floor.wrote && this.rywTracking && this.serverTarget === "primary" && this.txStatus === TxStatus.Idle,
        queued: this.queue.length > 0,
        sticky: this.isSticky(),
        transactionPooling: this.pinReason !== "session_mode",
        pinned: this.pinReason !== null,
      });
      if (holdForListen && next !== "capture_floor") {
        // Its ReadyForQuery waits for the hub (listensApplied); the connection is done with.
        this.listenReplyHeld = true;
        if (next === "release") this.releaseServer();
        else if (next === "keep") this.transition("idle");
        return false;
      }
      if (next === "capture_floor") {
        // The client's ReadyForQuery waits for the write's WAL position: pggate.write_lsn must
        // precede it (a client reads what came before ReadyForQuery), and the floor must be in
        // place before the client can send its next read — on this or, in user / global mode,
        // any other connection. Costs one round trip to the primary per committed write.
        const status = this.txStatus;
        this.floor.capture(s, () => {
          if (this.state === "closed") return;
          this.out.send(buildReadyForQuery(status));
          if (this.server === s && s.pendingReplies === 0 && !this.isSticky()) this.releaseAfterNotify(s);
          if (this.queue.length > 0) this.schedulePump();
        });
        return false;
      } else if (next === "release") this.releaseAfterNotify(s);
      else if (next === "keep") this.transition("idle");
      else if (next === "pump") this.schedulePump();
      return true;
    }
    if (type === Backend.NotificationResponse) {
      // The hub delivers the channels it listens to for this client: the backend's copy (after a
      // LISTEN that ran there, see noteListens) would be a duplicate.
      if (this.listensObj !== null && this.listensObj.subscribed > 0 && this.listensObj.has(notificationChannel(buf, start, end))) return false;
      this.ownNotification(buf, start);
      return true;
    }
    if (type === Backend.ParameterStatus && this.pinReason === null) {
      // The server reports a session setting that changed under the client's own traffic (PgGate's
      // parameter sync is internal and never gets here). A SET would have pinned already; this is
      // state changed where the router cannot see it (set_config() inside a function or DO block):
      // the connection must not go to another client as it is, so it stays with this one.
      this.pin("server_setting");
    }
    if (type === Backend.ErrorResponse) {
      this.listensObj?.noteError();
      const f = decodeErrorFields(buf, start + 5, end);
      // A FATAL the client receives from the server is the end of its session: when the
      // connection then closes, nothing more is said (a second error event crashes drivers).
      const severity = f.get(ErrorField.SeverityV) ?? f.get(ErrorField.Severity);
      if (severity === "FATAL" || severity === "PANIC") this.serverEndedSession = true;
      // Unsolicited only if nothing could have asked for it: no reply owed, and no extended batch
      // sent without its Sync (Parse/Bind/Execute + Flush gets its error before any Sync).
      if (this.server && this.server.pendingReplies === 0 && !this.openBatch) {
        // An error outside any request: the server is terminating the session (e.g. admin shutdown).
        log.warn("server_error_unsolicited", { client: this.id, code: f.get(ErrorField.Code), error: f.get(ErrorField.Message) });
      }
    }
    return true;
  }

  /**
   * A notification sent by the backend serving this client is the client's own NOTIFY: it is told
   * the pid it was given in BackendKeyData, as a dedicated connection would tell its own pid
   * (drivers compare the two to recognise their own notifications). Rewritten in place: the frame
   * is in a receive buffer of ours that nothing reads after it is forwarded.
   */
  private ownNotification(buf: Uint8Array, start: number): void {
    const s = this.server;
    if (!s) return;
    const view = new DataView(buf.buffer, buf.byteOffset + start + 5, 4);
    if (view.getInt32(0) === s.processId) view.setInt32(0, this.processId);
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
    // The batch is sent again whole: messages held for its connection go with it.
    this.dropShapeHeld();
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
    this.cluster.balancer.ban(s.node);
    const h = this.ctx.health.get(s.node);
    if (h) this.ctx.health.markDown(h, "connection failed during a query");
    if (this.state === "active") this.transition("idle");
  }

  onServerBackpressure(backlogged: boolean): void {
    // The server is not taking our writes fast enough: stop reading from the client.
    this.pauseReading(backlogged);
    // Drained: what the client's messages held is free again.
    if (!backlogged) this.chargeMemory();
  }

  /** The server sent this client a FATAL: its closing needs no error of ours. */
  private serverEndedSession = false;

  onServerClose(conn: ServerConn, err: Error | undefined): void {
    if (this.state === "closed" || this.server !== conn) return;
    this.dropShapeHeld();
    if (this.replay) {
      // The replica went away before answering: nothing reached the client, run it elsewhere.
      this.replayHeld("connection_lost");
      return;
    }
    this.att.drop();
    if (this.serverEndedSession) {
      this.close();
      return;
    }
    this.fail(
      fatal(
        SqlState.ConnectionFailure,
        `server connection to ${conn.node.name} (${conn.node.host}:${conn.node.port}) was lost${err ? `: ${err.message}` : ""}`,
        "Reconnect; PgGate will use a new server connection.",
      ),
    );
  }

  onBackpressure(backlogged: boolean): void {
    // The client is not reading fast enough: stop reading from its server (bounded memory).
    if (backlogged) this.server?.pause();
    else this.server?.resume();
  }

  /** When PgGate sent the query-timeout cancel (performance.now()), 0 when none is out. */
  private timeoutCancelAt = 0;

  checkQueryTimeout(now: number, timeoutMs: number): void {
    const s = this.server;
    if (!s || this.inflightSince === 0 || this.state === "closed") {
      this.timeoutCancelAt = 0;
      return;
    }
    if (this.timeoutCancelAt === 0) {
      if (now - this.inflightSince < timeoutMs) return;
      this.timeoutCancelAt = now;
      log.info("query_timeout", { client: this.id, node: s.node.name, ms: Math.round(now - this.inflightSince) });
      s.replaceNextError(SqlState.QueryCanceled, encodePgError(error(SqlState.QueryCanceled, `canceling statement due to query timeout (pool.query_timeout_ms = ${timeoutMs})`)));
      sendCancel(s.node, s.processId, s.secretKey);
    } else if (now - this.timeoutCancelAt >= timeoutMs) {
      this.abandonServer(`did not answer a cancel within ${timeoutMs} ms (pool.query_timeout_ms)`);
    }
  }

  nodeDown(node: NodeTarget): void {
    const s = this.server;
    if (!s || s.node.host !== node.host || s.node.port !== node.port) return;
    // Idle and outside a transaction, an attached connection is simply given back (and closed).
    if (s.pendingReplies === 0 && !this.openBatch && s.txStatus === TxStatus.Idle && this.pinReason === null) {
      this.att.drop();
      if (this.state === "active") this.transition("idle");
      return;
    }
    this.abandonServer("stopped answering (marked down by the health checks)");
  }

  /**
   * The attached server stopped answering. A replica read held back with no output yet runs
   * elsewhere, unseen; anything else — a transaction, a write, results half sent — cannot be
   * known to have happened or not, so the client gets 08006 naming the node, and the connection
   * is closed (never reported committed when the server did not say so).
   */
  private abandonServer(why: string): void {
    const s = this.server;
    if (!s || this.state === "closed") return;
    this.timeoutCancelAt = 0;
    if (this.replay) {
      this.replayHeld("node_failure");
      return;
    }
    this.att.drop();
    s.destroy();
    this.fail(
      fatal(SqlState.ConnectionFailure, `server connection to ${s.node.name} (${s.node.host}:${s.node.port}) ${why}`, "Reconnect; the outcome of the statement in flight is unknown."),
    );
  }

  cancelRunningQuery(): void {
    const s = this.server;
    if (!s || s.pendingReplies === 0) return;
    sendCancel(s.node, s.processId, s.secretKey);
  }
}
