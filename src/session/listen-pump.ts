// LISTEN / UNLISTEN for a pooled client (issue 26 item 3): the batches PgGate answers itself,
// the statements among others it passes on and also applies, and the client's side of its hub
// (ListenHost). The pump is QueryPump's; the replies of its connections are ClientSession's.
import { encodePgError, error, fatal, type PgError, SqlState } from "../errors/index.ts";
import { buildReadyForQuery, decodeQuery, Frontend, TxStatus } from "../protocol/index.ts";
import { listenStatementsIn, mentionsNotifyOrListen } from "../router/index.ts";
import type { ServerConn } from "../server/server-conn.ts";
import { MAX_INSPECTED_MESSAGE } from "./batch.ts";
import { ClientListens, type ListenHost } from "./client-listens.ts";
import { inFailedTransaction, listenBatch, listenNotices, listenResults, mayStartListen } from "./listen-answers.ts";
import type { ListenHub } from "./listen-hub.ts";
import { QueryPump } from "./query-pump.ts";
import { QUEUE_HIGH_WATER } from "./session-core.ts";

export abstract class ListenPump extends QueryPump implements ListenHost {
  /**
   * Whether LISTEN / UNLISTEN are answered by PgGate and the hub listens: not in session mode (the
   * client has a backend of its own), not after a LISTEN that ran on its pinned backend (see
   * noteListens), and only where PgGate can open connections as the user.
   */
  protected get listenAnswered(): boolean {
    return this.listenTracked && this.pinReason !== "listen";
  }

  /** Whether the client's LISTEN / UNLISTEN are tracked for the hub at all (see listenAnswered). */
  protected get listenTracked(): boolean {
    return this.pinReason !== "session_mode" && this.db !== null && this.cluster.credentials.has(this.user);
  }

  protected get listens(): ClientListens {
    return (this.listensObj ??= new ClientListens(this));
  }

  // --- ListenHost ---

  listenHub(): ListenHub {
    return this.ctx.listenHubs.hub(this.cluster, this.db!.serverDatabase(this.database), this.user);
  }

  get betweenTransactions(): boolean {
    const s = this.server;
    return this.state !== "closed" && this.txStatus === TxStatus.Idle && !this.openBatch && (s === null || s.pendingReplies === 0) && !this.listenReplyHeld;
  }

  sendToClient(frame: Uint8Array): void {
    this.out.send(frame);
  }

  /**
   * LISTEN / UNLISTEN alone in a batch (listenBatch) are answered here with PostgreSQL's replies
   * and carried out by the client's hub: at once outside a transaction (the replies wait until
   * the hub LISTENs to a channel new to it), at COMMIT inside one (see ClientListens). In a failed
   * transaction they get 25P02, as from PostgreSQL. Like DEALLOCATE, it first waits for every
   * reply still owed (the last ReadyForQuery says whether a transaction is open).
   */
  protected answerListen(): "answered" | "wait" | "forward" {
    const q = this.queue.frames;
    if (!mayStartListen(q[0].type, q[0].buf, q[0].start, q[0].end) || !this.listenAnswered) return "forward";
    const len = this.queue.batchLength();
    if (!this.queue.isComplete(len)) return this.queue.bytes > QUEUE_HIGH_WATER ? "forward" : "wait";
    const batch = listenBatch(q, len);
    if (batch === null) return "forward";
    const s = this.server;
    if (s !== null && s.pendingReplies > 0) return "wait";
    this.dropQueued(len);
    const status = this.txStatus;
    for (const notice of listenNotices(batch.target)) this.out.send(notice);
    if (status === TxStatus.Failed) {
      // Parse fails too in an aborted transaction: the error comes first, whatever the batch.
      this.out.send(encodePgError(inFailedTransaction()));
      this.out.send(buildReadyForQuery(status));
      return "answered";
    }
    const results = listenResults(batch.target);
    if (!batch.executes) this.sendLocalReplies(batch, results);
    else if (status === TxStatus.InTransaction) {
      this.listens.record(batch.target.map((t) => t.op));
      this.sendLocalReplies(batch, results);
    } else {
      const waits = this.listens.apply(
        batch.target.map((t) => t.op),
        (ok) => {
          if (this.state === "closed") return;
          this.sendLocalReplies(batch, ok ? results : this.listenFailed());
          this.listens.flush();
          this.schedulePump();
        },
      );
      if (!waits) this.sendLocalReplies(batch, results);
    }
    // Nothing else holds the connection now: transaction pooling gives it back.
    if (s !== null && this.pinReason === null && !this.isSticky()) this.releaseServer();
    return "answered";
  }

  /** The hub could not LISTEN (no connection to the primary): PostgreSQL's LISTEN would not have run either. */
  protected listenFailed(): PgError {
    return error(SqlState.ConnectionFailure, "PgGate could not open its listening connection to the primary", "Retry the LISTEN; notifications need the primary.");
  }

  /**
   * A Query or Parse on its way to the server. Mentions NOTIFY: the backend's notifications are
   * this client's own for a while (ListenHubs.noteNotifier). Mentions LISTEN: the LISTEN /
   * UNLISTEN statements among the others of a Query also take effect at the hub, when the
   * transaction they run in commits (it is the hub that delivers; its own backend's notifications
   * of those channels are dropped — see onServerMessage). A byte scan spares decoding the rest.
   */
  protected noteListens(type: number, buf: Uint8Array, start: number, end: number, s: ServerConn): void {
    const words = mentionsNotifyOrListen(buf, start + 5, end);
    if (words === 0) return;
    if ((words & 1) !== 0) {
      this.ctx.listenHubs.noteNotifier(s.node, s.processId, this);
      this.notifiedOn = s;
    }
    if ((words & 2) === 0 || type !== Frontend.Query || end - start > MAX_INSPECTED_MESSAGE || !this.listenTracked) return;
    const found = listenStatementsIn(decodeQuery(buf, start + 5, end));
    if (found.length > 0) this.listens.record(found.map((t) => t.op));
  }

  /** The connection a statement naming NOTIFY was sent on since it was attached (see releaseAfterNotify). */
  private notifiedOn: ServerConn | null = null;

  /**
   * Transaction pooling gives the connection back after a transaction that may have notified only
   * once every listening connection of the database has received its notifications (one empty
   * query round trip each: PostgreSQL sends a listener pending notifications before its
   * ReadyForQuery). Until then no other client's NOTIFY can run on that backend, so a
   * notification carrying its pid is this client's own (ListenHubs.noteNotifier), whichever
   * arrives first at PgGate. The client itself may use the connection meanwhile.
   */
  protected releaseAfterNotify(s: ServerConn): void {
    if (this.notifiedOn !== s) {
      this.releaseServer();
      return;
    }
    this.notifiedOn = null;
    if (this.state === "active") this.transition("idle");
    const fenced = this.ctx.listenHubs.afterDelivery(this.cluster, this.db!.serverDatabase(this.database), () => {
      if (this.state !== "closed" && this.server === s && s.pendingReplies === 0 && this.pinReason === null && !this.isSticky()) this.releaseServer();
    });
    if (!fenced) this.releaseServer();
  }

  /**
   * The hub now LISTENs to the channels a committed transaction added (ok), or could not: the
   * transaction committed on the server, but its LISTEN cannot be honoured, so the session ends
   * as if the server had gone. Otherwise the held ReadyForQuery goes out, then any notifications.
   */
  protected listensApplied(ok: boolean, s: ServerConn): void {
    if (this.state === "closed") return;
    // Not held when the read-your-writes floor holds it instead (that capture sends it).
    const owed = this.listenReplyHeld;
    this.listenReplyHeld = false;
    if (!ok) {
      this.fail(fatal(SqlState.ConnectionFailure, "PgGate could not open its listening connection to the primary after COMMIT; the LISTEN committed but cannot deliver", "Reconnect and LISTEN again."));
      return;
    }
    if (owed) {
      this.out.send(buildReadyForQuery(TxStatus.Idle));
      // In transaction pooling the connection went back already; a pinned client keeps it.
      if (this.server === s && s.pendingReplies === 0 && !this.isSticky()) this.releaseServer();
    }
    this.listensObj?.flush();
    this.schedulePump();
  }
}
