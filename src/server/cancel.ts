// Delivers a CancelRequest to a PostgreSQL server on a fresh connection, as libpq does, and keeps
// the connection to the targeted backend from being lent again while the cancel could still land
// (CancelFence). Knows no pools: it only answers whether and when a connection is safe to lend.
import type { Socket } from "bun";
import { buildCancelRequest } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { NodeTarget } from "./node-target.ts";

/** Bound on one cancel (connect, write 16 bytes, wait for the server to close), and on the fence. */
export const CANCEL_TIMEOUT_MS = 5000;

/** SQLSTATE query_canceled: how the fence's empty Query may end, which is fine. */
const QUERY_CANCELED = "57014";

/**
 * How a CancelRequest ended. The server never answers one ("Canceling Requests in Progress" in
 * the protocol docs): it reads the packet, signals the matching backend (SIGINT) and closes. So:
 * - "signaled": the server closed the connection after our packet, in order (FIN). Closing comes
 *   after kill(), so the signal, if any, is already pending at the backend: nothing more can come.
 * - "not_sent": no byte of the packet was written (connect failed or timed out); nothing can come.
 * - "unknown": the packet was written but no orderly close followed within the bound (timeout,
 *   reset, local error): the signal may still arrive at any moment.
 */
export type CancelOutcome = "signaled" | "not_sent" | "unknown";

/** What the cancel path tells the connection to a backend (its CancelFence implements it). */
export interface CancelTarget {
  /** A CancelRequest toward this backend is on its way. */
  cancelStarted(): void;
  /** ...and has ended so. Called exactly once per cancelStarted(). */
  cancelEnded(outcome: CancelOutcome): void;
}

/**
 * Live backends by node and process ID. Every cancel toward a backend is reported to its
 * connection whoever sends it (a client's CancelRequest, settling after a vanished client), so no
 * caller can forget to. Keyed by the NodeTarget object the connection was opened with, which is
 * the one every sender passes (conn.node).
 */
const targets = new Map<NodeTarget, Map<number, CancelTarget>>();

/** Registers the connection to backend `processId` on `node` (from its BackendKeyData). */
export function watchCancels(node: NodeTarget, processId: number, target: CancelTarget): void {
  let byPid = targets.get(node);
  if (!byPid) {
    byPid = new Map();
    targets.set(node, byPid);
  }
  byPid.set(processId, target);
}

/** Forgets the registration (the connection closed). Only its own: a reused PID may be newer. */
export function unwatchCancels(node: NodeTarget, processId: number, target: CancelTarget): void {
  const byPid = targets.get(node);
  if (byPid?.get(processId) !== target) return;
  byPid.delete(processId);
  if (byPid.size === 0) targets.delete(node);
}

/** Number of backends registered, for tests. */
export function watchedBackends(): number {
  let n = 0;
  for (const byPid of targets.values()) n += byPid.size;
  return n;
}

/**
 * Sends a CancelRequest for backend `processId` and resolves with how it ended (never rejects;
 * callers may ignore the promise). The connection to that backend, if registered, hears of it.
 */
export function sendCancel(node: NodeTarget, processId: number, secretKey: number, timeoutMs = CANCEL_TIMEOUT_MS): Promise<CancelOutcome> {
  const target = targets.get(node)?.get(processId);
  target?.cancelStarted();
  const packet = buildCancelRequest(processId, secretKey);
  return new Promise((resolve) => {
    let written = false;
    let socket: Socket<undefined> | null = null;
    let ended = false;
    const end = (outcome: CancelOutcome, why: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      if (outcome !== "signaled") log.warn("cancel_failed", { node: node.name, outcome, error: why });
      target?.cancelEnded(outcome);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      end(written ? "unknown" : "not_sent", `no close from the server within ${timeoutMs} ms`);
      socket?.terminate();
    }, timeoutMs);
    Bun.connect({
      hostname: node.host,
      port: node.port,
      socket: {
        open(s) {
          // Timed out while connecting: a packet written now could land after we gave up.
          if (ended) {
            s.terminate();
            return;
          }
          socket = s;
          // 16 bytes on a fresh socket are taken whole. No shutdown(): Bun closes the socket at
          // once after it (measured on 1.4.4), and then the server's close could not be seen.
          written = s.write(packet) > 0;
        },
        data() {},
        // The server's orderly close: it has read the packet and acted on it.
        end: () => end(written ? "signaled" : "not_sent", "closed before the packet was written"),
        close: (_s, e) => {
          if (!written) end("not_sent", e?.message ?? "closed before the packet was written");
          else if (e) end("unknown", e.message);
          else end("signaled", "");
        },
        error: (_s, e) => end(written ? "unknown" : "not_sent", e.message),
      },
    }).catch((e: Error) => end("not_sent", e.message));
  });
}

/** What the fence needs of a server connection (ServerConn implements it). */
export interface Fenceable {
  readonly isClosed: boolean;
  resume(): void;
  destroy(): void;
  sendInternal(sql: string, onRow: undefined, done: (ok: boolean) => void, expectedCode: string): void;
}

/**
 * The cancels aimed at one backend, and when its connection may be lent again.
 *
 * The race: a client's cancel is sent while its query runs, the query ends first, the connection
 * goes to the next client, and then the postmaster's SIGINT cancels that client's query. A
 * backend that takes the signal while reading a command drops it (postgres.c: ProcessInterrupts
 * ignores QueryCancelPending while DoingCommandRead; PostgresMain checks for interrupts right
 * after ReadCommand for exactly that). So a connection is lent again only when (1) every cancel
 * toward it has ended — "signaled" means the server closed the cancel connection, which it does
 * after kill() — and then (2) an empty Query of ours has made a round trip: the signal was already
 * pending when the backend read it, so it was dropped as idle noise or cancelled that empty Query
 * (57014, fine) — spent before any client's query, however late its handler ran. (1) is what
 * PgBouncer's "being canceled" servers wait for; (2) costs one round trip per cancelled
 * connection. A cancel whose outcome is "unknown" may land at any time: the connection is closed.
 * Cancels start only while a client or settling holds the connection, never while it is fenced.
 */
export class CancelFence implements CancelTarget {
  /** CancelRequests toward this backend whose outcome is not known yet. */
  private inFlight = 0;
  /** A cancel signalled the backend since the last fence: the SIGINT may not be spent yet. */
  private signaled = false;
  /** A cancel's outcome is unknown: its signal may land on any later query. */
  private untrusted = false;
  private fenceTimer: ReturnType<typeof setTimeout> | null = null;
  private done: ((reusable: boolean) => void) | null = null;

  constructor(private readonly conn: Fenceable) {}

  cancelStarted(): void {
    this.inFlight++;
  }

  cancelEnded(outcome: CancelOutcome): void {
    this.inFlight--;
    if (outcome === "signaled") this.signaled = true;
    else if (outcome === "unknown") this.untrusted = true;
    this.advance();
  }

  /** Whether a cancel aimed at this backend might still hit the next query run there. */
  get mayLand(): boolean {
    return this.inFlight > 0 || this.signaled || this.untrusted;
  }

  /**
   * For a detached, idle connection: `done(true)` once no cancel sent toward it can land any more,
   * `done(false)` when that cannot be shown or the connection closed (then it must be closed).
   */
  whenSpent(done: (reusable: boolean) => void): void {
    this.done = done;
    this.advance();
  }

  /** The connection closed: a fence waiting on it ends, unusable. */
  connectionClosed(): void {
    this.endFence();
    this.advance();
  }

  private advance(): void {
    const done = this.done;
    if (!done || this.fenceTimer) return;
    if (this.conn.isClosed || this.untrusted) {
      this.done = null;
      done(false);
      return;
    }
    if (this.inFlight > 0) return;
    if (!this.signaled) {
      this.done = null;
      done(true);
      return;
    }
    this.signaled = false;
    // A backend that does not answer an empty Query in time is not worth keeping.
    this.fenceTimer = setTimeout(() => {
      this.conn.destroy();
      this.connectionClosed();
    }, CANCEL_TIMEOUT_MS);
    // The last client's backpressure may have paused our reads; the fence's reply must be read.
    this.conn.resume();
    this.conn.sendInternal("", undefined, () => {
      this.endFence();
      this.advance();
    }, QUERY_CANCELED);
  }

  private endFence(): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
  }
}
