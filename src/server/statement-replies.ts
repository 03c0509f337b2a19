// What a server connection still owes for the statement messages PgGate sent: ParseCompletes,
// the ParameterDescription + RowDescription/NoData of statement Describes, Bind and Close
// answers, and the errors of messages PgGate made fail on purpose. Replies arrive in message order, batch by batch (a batch
// ends with ReadyForQuery; after an error the server skips to the Sync, so what the failed batch
// still owed never comes). Decides which replies are PgGate's own (swallowed) and records each
// statement's shape in the connection's `prepared` map. No I/O.
import { Backend, ErrorField, type ErrorFields } from "../protocol/index.ts";
import type { StatementShape } from "./statement-shape.ts";

/** A Parse we sent whose ParseComplete is still to come. */
interface ParseEntry {
  /** Index of the batch (RFQ-producing message) the Parse belongs to. */
  seq: number;
  /** Server-side statement name it creates, or null for the unnamed statement. */
  serverName: string | null;
  /** Injected by PgGate, so the client must not see its ParseComplete. */
  swallow: boolean;
  /**
   * The client's own Parse (never an injected one) is told how it ended: true at its
   * ParseComplete, false when it failed or was skipped (the statement was not created).
   */
  answered: ((accepted: boolean) => void) | null;
}

/** Told a statement's shape, or null when the Describe was skipped (an error earlier in the batch). */
export type DescribeDone = (shape: StatementShape | null) => void;

/** A Describe of a statement whose ParameterDescription and RowDescription/NoData are to come. */
interface DescribeEntry {
  seq: number;
  /** PgGate's statement name (its shape is recorded), or null for the unnamed or a client-named one. */
  serverName: string | null;
  /** Injected by PgGate to learn the shape: the client must not see the replies. */
  swallow: boolean;
  done: DescribeDone | null;
  /** The ParameterDescription body, once it arrived. */
  params: Uint8Array | null;
  order: number;
}

/**
 * Told that the server answered a use of the copy "cached plan must not change result type":
 * its table changed since the copy was parsed.
 */
export type PlanChanged = (serverName: string) => void;

/** A Bind (or statement Describe) whose answer is to come: where a 0A000 is traced to its statement. */
interface UseEntry {
  seq: number;
  /** Position among the connection's Binds and Describes, to find which of a batch failed first. */
  order: number;
  /** PgGate's statement it uses, or null (unnamed, unknown to PgGate). */
  serverName: string | null;
  changed: PlanChanged | null;
}

/** A Close whose CloseComplete is to come; PgGate's own (refreshing a copy) are swallowed. */
interface CloseEntry {
  seq: number;
  swallow: boolean;
  /** The copy PgGate's own Close drops (null for the client's Closes). */
  serverName: string | null;
}

/** A message PgGate made fail on purpose (see expectForcedError): its error is replaced. */
interface ForcedError {
  seq: number;
  /** The statement name the server's "does not exist" error names. */
  marker: string;
  substitute: Uint8Array;
}

export class StatementReplies {
  private readonly parses: ParseEntry[] = [];
  private readonly describes: DescribeEntry[] = [];
  private readonly forced: ForcedError[] = [];
  private readonly binds: UseEntry[] = [];
  private readonly closes: CloseEntry[] = [];
  private order = 0;
  private replacement: { code: string; substitute: Uint8Array } | null = null;
  /** Batch whose ErrorResponse arrived last: while it is the batch being sent, the server skips to Sync. */
  private erroredSeq = -1;

  /** `prepared`: the connection's statements (name → shape once known); entries are dropped and shaped here. */
  constructor(private readonly prepared: Map<string, StatementShape | null>) {}

  expectParse(seq: number, serverName: string | null, swallow: boolean, answered: ((accepted: boolean) => void) | null): void {
    this.parses.push({ seq, serverName, swallow, answered });
  }

  expectDescribe(seq: number, serverName: string | null, swallow: boolean, done: DescribeDone | null): void {
    this.describes.push({ seq, serverName, swallow, done, params: null, order: this.order++ });
  }

  /** A Bind of `serverName` (null: a statement that is not PgGate's); `changed` is told of a 0A000. */
  expectBind(seq: number, serverName: string | null, changed: PlanChanged | null): void {
    this.binds.push({ seq, order: this.order++, serverName, changed });
  }

  /** A Close; `serverName` when it is PgGate's own, dropping that copy before a fresh Parse of it. */
  expectClose(seq: number, serverName: string | null): void {
    this.closes.push({ seq, swallow: serverName !== null, serverName });
  }

  onBindComplete(): void {
    this.binds.shift();
  }

  /** A CloseComplete: true when it answers PgGate's own Close (swallow it). */
  onCloseComplete(): boolean {
    return this.closes.shift()?.swallow === true;
  }

  /**
   * The server said "cached plan must not change result type" in batch `seqDone` (call before
   * onError): the PgGate statement whose Bind or Describe failed — the first of the batch still
   * unanswered, as the server stops at the first error — after telling whoever used it.
   */
  planChanged(seqDone: number): string | null {
    const b = this.binds.find((e) => e.seq === seqDone);
    const d = this.describes.find((e) => e.seq === seqDone);
    const first = b !== undefined && (d === undefined || b.order < d.order) ? b : d;
    if (first === undefined || first.serverName === null) return null;
    if (first === b) b.changed?.(first.serverName);
    return first.serverName;
  }

  expectForcedError(seq: number, marker: string, substitute: Uint8Array): void {
    this.forced.push({ seq, marker, substitute });
  }

  replaceNextError(code: string, substitute: Uint8Array): void {
    this.replacement = { code, substitute };
  }

  /** Whether the server ignores what is sent into batch `seqSent` (an error arrived in it). */
  skipping(seqSent: number): boolean {
    return this.erroredSeq === seqSent;
  }

  /** The server dropped its statements (DEALLOCATE ALL, DISCARD ALL): no Describe answer will name them. */
  forgetDescribes(): void {
    this.describes.length = 0;
  }

  /** After a ReadyForQuery: `seqDone` batches are complete; `idle` when nothing more is owed. */
  onReadyForQuery(seqDone: number, idle: boolean): void {
    // Parses and Describes of a batch that failed never get their replies.
    while (this.parses.length > 0 && this.parses[0].seq < seqDone) this.dropParse(this.parses.shift()!);
    this.dropDescribes(seqDone);
    while (this.forced.length > 0 && this.forced[0].seq < seqDone) this.forced.shift();
    while (this.binds.length > 0 && this.binds[0].seq < seqDone) this.binds.shift();
    while (this.closes.length > 0 && this.closes[0].seq < seqDone) this.dropClose(this.closes.shift()!);
    if (idle) this.replacement = null;
  }

  /** A ParseComplete: true when it answers PgGate's own Parse (swallow it). */
  onParseComplete(): boolean {
    const entry = this.parses.shift();
    entry?.answered?.(true);
    return entry?.swallow === true;
  }

  /** A ParameterDescription: true when it answers PgGate's own Describe. */
  onParameterDescription(buf: Uint8Array, start: number, end: number): boolean {
    const entry = this.describes[0];
    if (!entry || entry.params !== null) return false;
    entry.params = buf.slice(start + 5, end);
    return entry.swallow;
  }

  /**
   * A RowDescription or NoData: when it completes a statement Describe (it follows the
   * ParameterDescription), the shape is recorded and told. True when the Describe was PgGate's.
   * `beforeDone` runs first when it is (the caller ends its forwarding run there). Every query's
   * RowDescription passes here: nothing is allocated unless a Describe is owed.
   */
  onRowDescription(type: number, buf: Uint8Array, start: number, end: number, beforeDone: () => void): boolean {
    const entry = this.describes[0];
    if (!entry || entry.params === null) return false;
    this.describes.shift();
    const shape: StatementShape = { params: entry.params, row: type === Backend.RowDescription ? buf.slice(start + 5, end) : null };
    if (entry.serverName !== null && this.prepared.has(entry.serverName)) this.prepared.set(entry.serverName, shape);
    if (entry.swallow) beforeDone();
    entry.done?.(shape);
    return entry.swallow;
  }

  /**
   * An ErrorResponse of batch `seqDone`: the frame the client is to see instead (a forced failure
   * of ours, or a replaceNextError), or null. Then the bookkeeping: the server skips to the Sync,
   * so what the batch still owed is dropped.
   */
  onError(fields: ErrorFields, seqDone: number): Uint8Array | null {
    const substitute = this.substituteFor(fields, seqDone);
    this.erroredSeq = seqDone;
    while (this.parses.length > 0 && this.parses[0].seq === seqDone) this.dropParse(this.parses.shift()!);
    this.dropDescribes(seqDone + 1);
    while (this.binds.length > 0 && this.binds[0].seq <= seqDone) this.binds.shift();
    while (this.closes.length > 0 && this.closes[0].seq <= seqDone) this.dropClose(this.closes.shift()!);
    return substitute;
  }

  private substituteFor(fields: ErrorFields, seqDone: number): Uint8Array | null {
    const code = fields.get(ErrorField.Code);
    const r = this.replacement;
    if (r !== null && code === r.code) {
      this.replacement = null;
      return r.substitute;
    }
    const f = this.forced[0];
    if (!f || f.seq !== seqDone) return null;
    // The first error of the batch ends it: a later forced message of ours is skipped either way.
    while (this.forced.length > 0 && this.forced[0].seq === seqDone) this.forced.shift();
    return code === "26000" && (fields.get(ErrorField.Message) ?? "").includes(`"${f.marker}"`) ? f.substitute : null;
  }

  /** A Parse that will never complete: the statement does not exist on the server. */
  private dropParse(entry: ParseEntry): void {
    if (entry.serverName) this.prepared.delete(entry.serverName);
    entry.answered?.(false);
  }

  /**
   * A Close of ours the server skipped: the old copy is still there (the fresh Parse after it was
   * skipped too), of a shape not known: the next use refreshes it again.
   */
  private dropClose(entry: CloseEntry): void {
    if (entry.serverName !== null && !this.prepared.has(entry.serverName)) this.prepared.set(entry.serverName, null);
  }

  /** Describes sent before batch `seq` that will never be answered. */
  private dropDescribes(seq: number): void {
    while (this.describes.length > 0 && this.describes[0].seq < seq) this.describes.shift()!.done?.(null);
  }
}
