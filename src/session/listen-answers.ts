// LISTEN / UNLISTEN batches PgGate answers itself (the listening is done by the client's hub, see
// listen-hub.ts): which batches qualify, and PostgreSQL's replies to them. Pure: the session
// applies the statements and sends the replies.
import { buildCommandComplete } from "../protocol/index.ts";
import { encodePgError, PgError, SqlState } from "../errors/index.ts";
import { parseListenOnly, startsWithListen, type ListenStatement } from "../router/index.ts";
import type { QueuedFrame } from "./batch.ts";
import { localBatch, mayStartLocal, type LocalBatch } from "./local-answers.ts";

/** Whether the first frame of a batch may start a LISTEN / UNLISTEN batch: the session then waits for all of it. */
export function mayStartListen(type: number, buf: Uint8Array, start: number, end: number): boolean {
  return mayStartLocal(type, buf, start, end, startsWithListen);
}

/**
 * The first `count` frames (a complete batch) as LISTEN / UNLISTEN statements only: a Query of
 * one or more of them, or the extended batch of one (see localBatch). Null when a server must
 * see it: anything else in the batch, a malformed statement, or several in one Parse (the
 * server's error to give).
 */
export function listenBatch(frames: readonly QueuedFrame[], count: number): LocalBatch<ListenStatement[]> | null {
  const batch = localBatch(frames, count, parseListenOnly);
  if (batch !== null && batch.steps.length > 0 && batch.target.length !== 1) return null;
  return batch;
}

/**
 * NOTICE 42622 for each channel name PostgreSQL truncates (truncate_identifier). It parses the
 * whole string before running any of it (Parse does too), so these come before every other reply
 * of the batch, even before an error of an aborted transaction.
 */
export function listenNotices(statements: readonly ListenStatement[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of statements) {
    if (s.truncatedFrom !== null && s.op.kind !== "unlisten_all") {
      out.push(encodePgError(new PgError("NOTICE", SqlState.NameTooLong, `identifier "${s.truncatedFrom}" will be truncated to "${s.op.channel}"`)));
    }
  }
  return out;
}

/** What the statements send when they run: CommandComplete LISTEN / UNLISTEN each. */
export function listenResults(statements: readonly ListenStatement[]): Uint8Array[] {
  return statements.map((s) => buildCommandComplete(s.op.kind === "listen" ? "LISTEN" : "UNLISTEN"));
}

/** A statement other than COMMIT / ROLLBACK in a failed transaction (PostgreSQL's exact error). */
export const inFailedTransaction = (): PgError =>
  new PgError("ERROR", SqlState.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block");
