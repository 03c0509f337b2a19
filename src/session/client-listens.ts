// One client's LISTENs as PostgreSQL would keep them on its own backend: the channels it is
// subscribed to (through its hub), LISTEN / UNLISTEN of its open transaction (applied at COMMIT,
// dropped at ROLLBACK or after an error), and the notifications waiting until it is between
// transactions. Sends nothing but notifications; the session answers the statements.
import { fatal, SqlState, type PgError } from "../errors/index.ts";
import type { ListenOp, TxnEffect } from "../router/index.ts";
import type { ListenHub, ListenSubscriber } from "./listen-hub.ts";

/** What the client's state needs from its session. */
export interface ListenHost {
  readonly processId: number;
  /** The hub of the client's (cluster, database, user). */
  listenHub(): ListenHub;
  /** Between transactions, nothing owed to it: a notification may be sent now (see canDeliver). */
  readonly betweenTransactions: boolean;
  sendToClient(frame: Uint8Array): void;
  /** Ends the session with this FATAL. */
  fail(e: PgError): void;
}

/**
 * Notifications queued for a client that stays inside a transaction (or never reads) beyond this
 * many bytes end its session: PostgreSQL keeps them in its on-disk queue, PgGate in memory.
 */
export const MAX_QUEUED_NOTIFICATION_BYTES = 16 * 1024 * 1024;

export class ClientListens implements ListenSubscriber {
  /** Channels committed for this client (each one a subscription at `hub`). */
  private readonly channels = new Set<string>();
  /** The hub its subscriptions are at (the client's cluster, database and user never change). */
  private hub: ListenHub | null = null;
  /** LISTEN / UNLISTEN of the open transaction, in order. */
  private pending: ListenOp[] = [];
  /** An error since the pending operations began: their transaction cannot commit. */
  private pendingFailed = false;
  /** The last transaction-control statement sent was ROLLBACK / ABORT. */
  private rolledBack = false;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Hub confirmations still outstanding for the last apply; the session holds its replies meanwhile. */
  private waiting = 0;
  private waitOk = true;
  private onReady: ((ok: boolean) => void) | null = null;
  private disposed = false;

  constructor(private readonly host: ListenHost) {}

  get processId(): number {
    return this.host.processId;
  }

  get owner(): object {
    return this.host;
  }

  /** Whether the hub delivers `channel` to this client. */
  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  get subscribed(): number {
    return this.channels.size;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Waiting for the hub to confirm a LISTEN (the session holds the client's next reply). */
  get holding(): boolean {
    return this.waiting > 0;
  }

  // --- transactions ---------------------------------------------------------------------

  /** LISTEN / UNLISTEN inside a transaction: they take effect when it commits. */
  record(ops: readonly ListenOp[]): void {
    if (this.pending.length === 0) {
      this.pendingFailed = false;
      this.rolledBack = false;
    }
    for (const op of ops) this.pending.push(op);
  }

  /** The server reported an error: a transaction holding pending operations will not commit them. */
  noteError(): void {
    if (this.pending.length > 0) this.pendingFailed = true;
  }

  /** A transaction-control statement was sent. ROLLBACK TO SAVEPOINT is not one: see README. */
  noteTxn(effect: TxnEffect): void {
    if (this.pending.length === 0) return;
    if (effect === "rollback") this.rolledBack = true;
    else if (effect === "commit" || effect === "begin") this.rolledBack = false;
  }

  /**
   * The client's transaction ended (ReadyForQuery 'I', nothing owed): its pending operations are
   * applied if it committed, else dropped. `ready` runs once the hub LISTENs to every channel
   * added (true), or could not (false); returns false when nothing is waited for.
   */
  endTransaction(ready: (ok: boolean) => void): boolean {
    const ops = this.pending;
    this.pending = [];
    const committed = !this.pendingFailed && !this.rolledBack;
    this.pendingFailed = false;
    this.rolledBack = false;
    if (!committed || ops.length === 0) return false;
    return this.apply(ops, ready);
  }

  /**
   * Applies committed operations to the subscriptions. Returns true when `ready` will be called
   * later (a channel new to the hub), false when everything is in effect already.
   */
  apply(ops: readonly ListenOp[], ready: (ok: boolean) => void): boolean {
    const after = new Set(this.channels);
    for (const op of ops) {
      if (op.kind === "listen") after.add(op.channel);
      else if (op.kind === "unlisten") after.delete(op.channel);
      else after.clear();
    }
    const hub = this.currentHub();
    for (const ch of this.channels) {
      if (after.has(ch)) continue;
      this.channels.delete(ch);
      hub.unsubscribe(ch, this);
    }
    const added = [...after].filter((ch) => !this.channels.has(ch));
    if (added.length === 0) return false;
    this.waiting = added.length;
    this.waitOk = true;
    this.onReady = ready;
    let sync = true;
    for (const ch of added) {
      this.channels.add(ch);
      hub.subscribe(ch, this, (ok) => this.confirmed(ch, ok, sync));
    }
    sync = false;
    if (this.waiting > 0) return true;
    // Every channel was already active at the hub: nothing to wait for.
    this.onReady = null;
    return false;
  }

  private confirmed(channel: string, ok: boolean, sync: boolean): void {
    if (!ok) {
      this.waitOk = false;
      this.channels.delete(channel);
    }
    if (--this.waiting > 0 || sync) return;
    const ready = this.onReady;
    this.onReady = null;
    if (!this.disposed) ready?.(this.waitOk);
  }

  private currentHub(): ListenHub {
    // A hub that was lost or closed has left the registry: subscriptions start over at a new one.
    if (this.hub === null || this.hub.state === "closed") this.hub = this.host.listenHub();
    return this.hub;
  }

  // --- notifications --------------------------------------------------------------------

  notify(frame: Uint8Array): void {
    if (this.disposed) return;
    if (this.queue.length === 0 && this.waiting === 0 && this.host.betweenTransactions) {
      this.host.sendToClient(frame);
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes > MAX_QUEUED_NOTIFICATION_BYTES) {
      this.host.fail(
        fatal(SqlState.OutOfMemory, `PgGate: more than ${MAX_QUEUED_NOTIFICATION_BYTES} bytes of notifications queued for this client`, "Notifications are delivered between transactions: end transactions sooner, or LISTEN on fewer channels."),
      );
    }
  }

  /** The client is between transactions again: what waited is sent, in order. */
  flush(): void {
    if (this.queue.length === 0 || this.waiting > 0 || !this.host.betweenTransactions) return;
    for (const f of this.queue) this.host.sendToClient(f);
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  listenLost(why: string): void {
    this.channels.clear();
    this.host.fail(fatal(SqlState.ConnectionFailure, `${why}; notifications may have been missed`, "Reconnect and LISTEN again."));
  }

  /** The client left: its channels leave the hub (UNLISTEN there when it was the last). */
  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    this.pending = [];
    const hub = this.hub;
    if (hub) for (const ch of this.channels) hub.unsubscribe(ch, this);
    this.channels.clear();
  }
}
