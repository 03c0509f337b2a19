// Bringing a server connection whose client vanished back to a clean state: end a COPY or an
// open extended batch, cancel what still runs, roll back an open transaction, DISCARD ALL after
// session-level use, all within SETTLE_TIMEOUT_MS. Drives the connection only through the
// narrow Settleable surface; decides nothing about pools.
import { buildCopyFail, buildSync, TxStatus } from "../protocol/index.ts";
import { sendCancel } from "./cancel.ts";
import type { NodeTarget } from "./node-target.ts";

/** Bound on how long a connection may take to settle after its client vanished. */
export const SETTLE_TIMEOUT_MS = 5000;

/** What settling needs of a server connection (ServerConn implements it). */
export interface Settleable {
  /** Cancels sent toward this backend that may still land (see CancelFence). */
  readonly cancels: { readonly mayLand: boolean; whenSpent(done: (reusable: boolean) => void): void };
  readonly node: NodeTarget;
  readonly processId: number;
  readonly secretKey: number;
  readonly pendingReplies: number;
  readonly inCopyIn: boolean;
  readonly isClosed: boolean;
  /** Internal queries (ours) still owe a ReadyForQuery. */
  readonly internalBusy: boolean;
  txStatus: number;
  send(buf: Uint8Array): void;
  expectReply(): void;
  resume(): void;
  destroy(): void;
  sendInternal(sql: string, onRow?: (values: (string | null)[]) => void, done?: (ok: boolean) => void): void;
  /** Runs `fn` once the internal queries sent so far have all been answered. */
  whenInternalIdle(fn: () => void): void;
  /** Forgets PgGate's view of session state (parameters, prepared statements): DISCARD ALL follows. */
  forgetSessionState(): void;
}

export class Settle {
  private failed = false;
  private resetSession: boolean;
  private done: ((reusable: boolean) => void) | null;
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly noteStep = (ok: boolean): void => {
    if (!ok) this.failed = true;
  };

  /** `done(true)` when the connection may return to its pool, `done(false)` when it was closed. */
  constructor(private readonly conn: Settleable, openBatch: boolean, resetSession: boolean, done: (reusable: boolean) => void) {
    this.done = done;
    this.resetSession = resetSession;
    this.timer = setTimeout(() => this.finish(false), SETTLE_TIMEOUT_MS);
    // The vanished client may have paused our reads (backpressure); its replies are discarded
    // now, and the cancel's ReadyForQuery must be read for the connection to come back.
    conn.resume();
    if (conn.inCopyIn) {
      // The server waits for CopyData that will never come; CopyFail ends the COPY with an error.
      conn.send(buildCopyFail("client disconnected"));
    } else if (openBatch) {
      // An extended batch without its Sync: the server waits for more. Sync closes it.
      conn.send(buildSync());
      conn.expectReply();
    }
    if (conn.pendingReplies > 0 && !conn.inCopyIn) sendCancel(conn.node, conn.processId, conn.secretKey);
    if (resetSession) conn.forgetSessionState();
    this.continue();
  }

  get active(): boolean {
    return this.done !== null;
  }

  /** After each ReadyForQuery of the vanished client's traffic. */
  continue(): void {
    const conn = this.conn;
    if (!this.done || conn.pendingReplies > 0) return;
    if (conn.cancels.mayLand) {
      // The cancel we sent must be spent before our own ROLLBACK / DISCARD ALL could be its victim.
      conn.cancels.whenSpent((ok) => (ok ? this.continue() : this.finish(false)));
      return;
    }
    if (conn.txStatus !== TxStatus.Idle) {
      conn.txStatus = TxStatus.Idle;
      conn.sendInternal("ROLLBACK", undefined, this.noteStep);
    }
    if (this.resetSession) {
      this.resetSession = false;
      conn.sendInternal("DISCARD ALL", undefined, this.noteStep);
    }
    if (conn.internalBusy) {
      conn.whenInternalIdle(() => this.finish(!this.failed));
      return;
    }
    this.finish(true);
  }

  finish(reusable: boolean): void {
    const done = this.done;
    if (!done) return;
    this.done = null;
    clearTimeout(this.timer);
    if (!reusable) this.conn.destroy();
    done(reusable && !this.conn.isClosed);
  }
}
