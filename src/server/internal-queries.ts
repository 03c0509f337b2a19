// PgGate's own queries on a server connection (parameter sync, resets, WAL positions, cancel
// fences): sent ahead of the client's next message, their replies swallowed and handed to
// per-query callbacks in order. Knows nothing of clients; the connection routes frames here
// while any is outstanding.
import { Backend, decodeDataRow, decodeErrorFields, ErrorField } from "../protocol/index.ts";
import { log } from "../log/index.ts";

interface Handler {
  /** The connection's client batch count when it was sent: it is answered after those batches. */
  seq: number;
  onRow?: (values: (string | null)[]) => void;
  done?: (ok: boolean) => void;
  /** An error code that is no news (not logged), e.g. 57014 on a cancel fence's probe. */
  expectedCode?: string;
  /** Its ParameterStatus messages are the client's news (settings it changes back for the client). */
  reportsStatus?: boolean;
}

export class InternalQueries {
  /** Queries sent whose ReadyForQuery has not arrived. */
  pending = 0;
  private readonly handlers: Handler[] = [];
  private errored = false;
  private afterIdle: (() => void) | null = null;

  constructor(private readonly where: { readonly id: number; readonly node: { readonly name: string } }) {}

  /** Records one more query, sent after `seq` client batches; the caller sends it. */
  add(seq: number, onRow?: Handler["onRow"], done?: Handler["done"], expectedCode?: string, reportsStatus?: boolean): void {
    this.pending++;
    this.handlers.push({ seq, onRow, done, expectedCode, reportsStatus });
  }

  /** Whether the oldest outstanding query's ParameterStatus messages go to the client. */
  get headReportsStatus(): boolean {
    return this.handlers[0]?.reportsStatus === true;
  }

  /** Client batches sent before the oldest outstanding query (its replies follow theirs). */
  get headSeq(): number {
    return this.handlers.length > 0 ? this.handlers[0].seq : -1;
  }

  /** Runs `fn` once every query sent so far has been answered. */
  whenIdle(fn: () => void): void {
    this.afterIdle = fn;
  }

  /**
   * The connection closed: no reply will come. Every outstanding query ends now with done(false),
   * so nothing that waits on one (a client's ReadyForQuery held for its write's WAL position, a
   * settle step, a cancel fence) waits for ever. The idle hook is dropped, not run: whoever set it
   * (Settle) hears of the close from the connection itself.
   */
  failAll(): void {
    const handlers = this.handlers.splice(0);
    this.pending = 0;
    this.errored = false;
    this.afterIdle = null;
    for (const h of handlers) h.done?.(false);
  }

  /** One reply frame of the oldest outstanding query. Returns the transaction status at its ReadyForQuery, else -1. */
  onFrame(type: number, buf: Uint8Array, start: number, end: number): number {
    if (type === Backend.DataRow) {
      this.handlers[0]?.onRow?.(decodeDataRow(buf, start + 5, end));
    } else if (type === Backend.ErrorResponse) {
      this.errored = true;
      const fields = decodeErrorFields(buf, start + 5, end);
      const expected = this.handlers[0]?.expectedCode;
      if (expected === undefined || fields.get(ErrorField.Code) !== expected) {
        log.warn("internal_query_failed", { server: this.where.id, node: this.where.node.name, code: fields.get(ErrorField.Code), error: fields.get(ErrorField.Message) });
      }
    } else if (type === Backend.ReadyForQuery) {
      const status = buf[start + 5];
      const handler = this.handlers.shift();
      const ok = !this.errored;
      this.errored = false;
      this.pending--;
      handler?.done?.(ok);
      if (this.pending === 0 && this.afterIdle) {
        const next = this.afterIdle;
        this.afterIdle = null;
        next();
      }
      return status;
    }
    return -1;
  }
}
