// What a client has sent but not yet forwarded, seen as batches: where a batch ends, what its
// statements say about routing, and whether it is a prepare-only batch PgGate can answer itself.
// No sockets, no pools.
import { decodeQuery, Frontend } from "../protocol/index.ts";
import { STATEMENT_OVERHEAD_BYTES } from "./statement-limits.ts";
import { awaitsCatalog, mergeClassifications, type Classification } from "../router/index.ts";
import type { Router } from "../router/index.ts";
import { ClientStatements, MAX_INSPECTED_MESSAGE } from "./statements.ts";

export { MAX_INSPECTED_MESSAGE };

/** A frame received from the client and not yet sent to a server (a view; see FrameSink). */
export interface QueuedFrame {
  type: number;
  buf: Uint8Array;
  start: number;
  end: number;
}

/** What classifying a batch needs: the router, and a way to look up unknown functions and relations. */
export interface ClassifyDeps {
  readonly router: Router;
  learnCatalog(functions: readonly string[], relations: readonly string[], user: string, database: string): void;
}

/** Messages that end a batch: the point where a route can be chosen. */
export function endsBatch(type: number): boolean {
  return type === Frontend.Sync || type === Frontend.Query || type === Frontend.FunctionCall || type === Frontend.Flush;
}

/** Frames up to and including the first batch terminator (or all of them). */
export function batchLength(queue: readonly QueuedFrame[]): number {
  for (let i = 0; i < queue.length; i++) if (endsBatch(queue[i].type)) return i + 1;
  return queue.length;
}

/**
 * Merged classification of the first `count` frames; null when nothing can be said (the primary
 * is then always right). Prepared statements keep their verdict, so -M prepared clients classify
 * each statement once; unknown function volatility is looked up in the background.
 */
export function classifyBatch(
  queue: readonly QueuedFrame[],
  count: number,
  statements: ClientStatements,
  ctx: ClassifyDeps,
  user: string,
  database: string,
  seen: { schema: boolean } = { schema: false },
): Classification | null {
  const router = ctx.router;
  let merged: Classification | null = null;
  for (let i = 0; i < count; i++) {
    const f = queue[i];
    let c: Classification | null = null;
    if ((f.type === Frontend.Query || f.type === Frontend.Parse) && f.end - f.start > MAX_INSPECTED_MESSAGE) return null;
    if (f.type === Frontend.Query) c = router.classify(decodeQuery(f.buf, f.start + 5, f.end), database);
    else if (f.type === Frontend.Parse) c = router.classify(ClientStatements.parseInfo(f.buf, f.start, f.end).query, database);
    else if (f.type === Frontend.Bind) {
      const stmt = statements.statementOfBind(f.buf, f.start, f.end);
      if (!stmt) continue;
      if (stmt.query === null) return null; // too large to have been decoded: as its Parse
      if (stmt.route?.router === router) c = stmt.route.cls;
      else {
        c = router.classify(stmt.query, database);
        if (!awaitsCatalog(c)) stmt.route = { router, cls: c };
      }
    } else if (f.type === Frontend.FunctionCall) return null; // fast-path calls (large objects) write
    if (c === null) continue;
    // Merging keeps one statement's classification: a schema change anywhere is noted apart.
    if (c.schema) seen.schema = true;
    if (awaitsCatalog(c)) ctx.learnCatalog(c.unknownFunctions, c.unknownRelations, user, database);
    merged = merged ? mergeClassifications(merged, c) : c;
  }
  return merged;
}

/**
 * A prepare-only batch (Parse…, Sync) whose statements some server already accepted: records
 * them for the client and returns how many ParseCompletes to answer, or 0 when a server must see it.
 */
export function acceptPrepareOnly(queue: readonly QueuedFrame[], count: number, statements: ClientStatements): number {
  if (count < 2 || queue[count - 1].type !== Frontend.Sync) return 0;
  for (let i = 0; i < count - 1; i++) if (queue[i].type !== Frontend.Parse) return 0;
  // All or nothing: check every Parse first (against this client's accepted texts and what it may
  // keep: a server must see one to be refused in protocol order), then record.
  let bytes = 0;
  for (let i = 0; i < count - 1; i++) {
    if (!statements.mayAcceptLocally(queue[i].buf, queue[i].start, queue[i].end)) return 0;
    bytes += 2 * (queue[i].end - queue[i].start) + STATEMENT_OVERHEAD_BYTES;
  }
  if (statements.refusal(count - 1, bytes) !== null) return 0;
  for (let i = 0; i < count - 1; i++) statements.acceptLocally(queue[i].buf, queue[i].start, queue[i].end);
  return count - 1;
}

/**
 * What a client sent and PgGate has not forwarded yet, in order, with its byte count (what the
 * client costs us while it waits). Frames are views that stay valid (see FrameSink).
 */
export class BatchQueue {
  frames: QueuedFrame[] = [];
  bytes = 0;

  get length(): number {
    return this.frames.length;
  }

  push(type: number, buf: Uint8Array, start: number, end: number): void {
    this.frames.push({ type, buf, start, end });
    this.bytes += end - start;
  }

  /** Frames of the first batch (up to and including its terminator, or all of them). */
  batchLength(): number {
    return batchLength(this.frames);
  }

  /** Whether the first `len` frames end with a batch terminator. */
  isComplete(len: number): boolean {
    return len > 0 && endsBatch(this.frames[len - 1].type);
  }

  /** Removes the first `count` frames and returns them. */
  take(count: number): QueuedFrame[] {
    const out = this.frames.splice(0, count);
    for (const f of out) this.bytes -= f.end - f.start;
    return out;
  }

  /** Puts frames back in front (a replica batch replayed elsewhere). */
  requeue(frames: readonly QueuedFrame[]): void {
    for (const f of frames) this.bytes += f.end - f.start;
    this.frames.unshift(...frames);
  }

  clear(): void {
    this.frames = [];
    this.bytes = 0;
  }
}
