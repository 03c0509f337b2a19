// The admin console's side of one client connection after login: simple and extended query
// protocol, one frame at a time, replies never interleaved. It runs no command itself: the
// AdminBackend does, and it owns no socket: `send`/`close` do.
import { Errors, PgError, SqlState, encodePgError, error } from "../errors/index.ts";
import {
  Backend,
  BodyReader,
  Frontend,
  MessageWriter,
  ProtocolError,
  TxStatus,
  buildCommandComplete,
  buildReadyForQuery,
} from "../protocol/index.ts";
import { parseAdminCommand, splitStatements, type AdminCommand } from "./commands.ts";
import { checkResult, encodeDataRows, encodeDescription, encodeResult, type AdminResult } from "./result.ts";

export interface AdminBackend {
  /** Runs one command. May reject with a PgError: ERROR is reported and the session goes on, FATAL closes it. */
  execute(cmd: AdminCommand): Promise<AdminResult>;
}

interface PreparedStatement {
  readonly command: AdminCommand;
  /**
   * The result of running the command to answer Describe 'S' (its columns are only known by
   * running it). The next Bind takes it over, so the command does not run twice.
   */
  described: AdminResult | null;
}

interface Portal {
  readonly command: AdminCommand;
  /** Null until Describe 'P' or the first Execute runs the command. */
  result: AdminResult | null;
  /** Rows already sent by earlier Executes with a row limit. */
  rowsSent: number;
}

const HEADER_BYTES = 5;
const DescribeTarget = { Statement: 0x53, Portal: 0x50 } as const; // 'S', 'P'

/** A message that is just a header (ParseComplete, NoData, ...). */
const emptyMessage = (type: number): Uint8Array => new MessageWriter(5).begin(type).finish().take();
const PARSE_COMPLETE = emptyMessage(Backend.ParseComplete);
const BIND_COMPLETE = emptyMessage(Backend.BindComplete);
const CLOSE_COMPLETE = emptyMessage(Backend.CloseComplete);
const EMPTY_QUERY_RESPONSE = emptyMessage(Backend.EmptyQueryResponse);
const NO_DATA = emptyMessage(Backend.NoData);
const PORTAL_SUSPENDED = emptyMessage(Backend.PortalSuspended);
const NO_PARAMETERS = new MessageWriter(7).begin(Backend.ParameterDescription).int16(0).finish().take();
const READY_FOR_QUERY = buildReadyForQuery(TxStatus.Idle);

export class AdminConsole {
  /** Frames received while an earlier one is still being handled (copies: the caller's views expire). */
  private readonly queue: { type: number; frame: Uint8Array }[] = [];
  private draining = false;
  private closed = false;
  /** After an ERROR in an extended-protocol batch, everything up to Sync is discarded ("Extended Query"). */
  private skippingTillSync = false;
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();

  constructor(
    private readonly send: (buf: Uint8Array) => void,
    private readonly close: () => void,
    private readonly backend: AdminBackend,
  ) {}

  /**
   * One complete frame from the client (type byte, buf[start,end) = whole frame incl. header).
   * The bytes are copied, so the view need only be valid during the call.
   */
  onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    this.queue.push({ type, frame: buf.slice(start, end) });
    if (!this.draining) void this.drain();
  }

  /** The connection is gone: drop queued frames and send nothing more. */
  dispose(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const next = this.queue.shift();
        if (next !== undefined) await this.handle(next.type, next.frame);
      }
    } catch {
      // Only a throwing `send` gets here (handle() turns every other failure into an
      // ErrorResponse): the connection is unusable.
      this.terminate();
    } finally {
      this.draining = false;
    }
  }

  private async handle(type: number, frame: Uint8Array): Promise<void> {
    const extended = type !== Frontend.Query;
    try {
      switch (type) {
        case Frontend.Terminate:
          this.terminate();
          return;
        case Frontend.Sync:
          this.sync();
          return;
        case Frontend.CopyData:
        case Frontend.CopyDone:
        case Frontend.CopyFail:
          // Outside COPY the server ignores these (protocol docs, "COPY Operations").
          return;
        case Frontend.Query:
        case Frontend.Parse:
        case Frontend.Bind:
        case Frontend.Describe:
        case Frontend.Execute:
        case Frontend.Close:
        case Frontend.Flush:
        case Frontend.FunctionCall:
          if (this.skippingTillSync) return;
          break;
        default:
          throw Errors.protocolViolation(`unexpected message type '${String.fromCharCode(type)}' in the admin console`);
      }
      const body = new BodyReader(frame, HEADER_BYTES, frame.length);
      switch (type) {
        case Frontend.Query:
          return await this.simpleQuery(body.cstring());
        case Frontend.Parse:
          return this.parse(body);
        case Frontend.Bind:
          return this.bind(body);
        case Frontend.Describe:
          return await this.describe(body);
        case Frontend.Execute:
          return await this.execute(body);
        case Frontend.Close:
          return this.closeTarget(body);
        case Frontend.Flush:
          // Replies are sent as they are made; there is nothing buffered to flush.
          return;
        case Frontend.FunctionCall:
          // Its own request cycle, like a simple Query: ErrorResponse then ReadyForQuery.
          this.fail(error(SqlState.FeatureNotSupported, "the admin console does not support function calls"), false);
          return;
      }
    } catch (e) {
      this.fail(e, extended);
    }
  }

  /**
   * A simple Query: every statement is parsed before any runs (as PostgreSQL parses the whole
   * string first), then they run in order, stopping at the first error.
   */
  private async simpleQuery(sql: string): Promise<void> {
    // A simple Query destroys the unnamed statement and portal (protocol docs, "Simple Query").
    this.statements.delete("");
    this.portals.delete("");
    const commands = splitStatements(sql)
      .map(parseAdminCommand)
      .filter((c) => c.kind !== "empty");
    if (commands.length === 0) this.send(EMPTY_QUERY_RESPONSE);
    for (const cmd of commands) {
      const frames = encodeResult(await this.run(cmd));
      if (this.closed) return;
      for (const f of frames) this.send(f);
    }
    this.send(READY_FOR_QUERY);
  }

  private parse(body: BodyReader): void {
    const name = body.cstring();
    const sql = body.cstring();
    // Declared parameter types are ignored: no admin command takes parameters.
    if (name !== "" && this.statements.has(name)) {
      throw error("42P05", `prepared statement "${name}" already exists`);
    }
    this.statements.set(name, { command: parseAdminCommand(sql), described: null });
    this.send(PARSE_COMPLETE);
  }

  private bind(body: BodyReader): void {
    const portalName = body.cstring();
    const statementName = body.cstring();
    // Parameter values and result formats are ignored: there are no parameters, and every
    // column is text (clients asking for binary text columns get text, which is the same bytes).
    const stmt = this.statements.get(statementName);
    if (stmt === undefined) throw error("26000", `${label("prepared statement", statementName)} does not exist`);
    if (portalName !== "" && this.portals.has(portalName)) {
      throw error("42P03", `portal "${portalName}" already exists`);
    }
    this.portals.set(portalName, { command: stmt.command, result: stmt.described, rowsSent: 0 });
    stmt.described = null;
    this.send(BIND_COMPLETE);
  }

  private async describe(body: BodyReader): Promise<void> {
    const target = body.int8();
    const name = body.cstring();
    if (target === DescribeTarget.Statement) {
      const stmt = this.statements.get(name);
      if (stmt === undefined) throw error("26000", `${label("prepared statement", name)} does not exist`);
      if (stmt.command.kind !== "empty" && stmt.described === null) stmt.described = await this.run(stmt.command);
      if (this.closed) return;
      this.send(NO_PARAMETERS);
      this.send(stmt.described === null ? NO_DATA : encodeDescription(stmt.described));
      return;
    }
    if (target === DescribeTarget.Portal) {
      const portal = this.portals.get(name);
      if (portal === undefined) throw error("34000", `${label("portal", name)} does not exist`);
      if (portal.command.kind !== "empty" && portal.result === null) portal.result = await this.run(portal.command);
      if (this.closed) return;
      this.send(portal.result === null ? NO_DATA : encodeDescription(portal.result));
      return;
    }
    throw error(SqlState.ProtocolViolation, `invalid DESCRIBE message subtype ${target}`);
  }

  private async execute(body: BodyReader): Promise<void> {
    const name = body.cstring();
    const maxRows = body.int32();
    const portal = this.portals.get(name);
    if (portal === undefined) throw error("34000", `${label("portal", name)} does not exist`);
    if (portal.command.kind === "empty") {
      this.send(EMPTY_QUERY_RESPONSE);
      return;
    }
    if (portal.result === null) portal.result = await this.run(portal.command);
    if (this.closed) return;
    const result = portal.result;
    const total = result.rows?.length ?? 0;
    const from = portal.rowsSent;
    // maxRows <= 0 means "all rows" (protocol docs, Execute message).
    const to = maxRows > 0 ? Math.min(total, from + maxRows) : total;
    for (const f of encodeDataRows(result, from, to)) this.send(f);
    portal.rowsSent = to;
    this.send(to < total ? PORTAL_SUSPENDED : buildCommandComplete(result.tag));
  }

  private closeTarget(body: BodyReader): void {
    const target = body.int8();
    const name = body.cstring();
    if (target === DescribeTarget.Statement) this.statements.delete(name);
    else if (target === DescribeTarget.Portal) this.portals.delete(name);
    else throw error(SqlState.ProtocolViolation, `invalid CLOSE message subtype ${target}`);
    // Closing a name that does not exist is not an error (protocol docs, Close message).
    this.send(CLOSE_COMPLETE);
  }

  private sync(): void {
    this.skippingTillSync = false;
    // Sync ends the implicit transaction, and with it every portal.
    this.portals.clear();
    this.send(READY_FOR_QUERY);
  }

  /** Runs a command on the backend; a result that does not fit its columns is an error here, not on the wire. */
  private async run(cmd: AdminCommand): Promise<AdminResult> {
    const result = await this.backend.execute(cmd);
    checkResult(result);
    return result;
  }

  /** Reports a failure: FATAL closes; ERROR ends a simple Query with ReadyForQuery, or skips an extended batch to Sync. */
  private fail(e: unknown, extended: boolean): void {
    if (this.closed) return;
    const err = toPgError(e);
    this.send(encodePgError(err));
    if (err.isFatal) {
      this.terminate();
    } else if (extended) {
      this.skippingTillSync = true;
    } else {
      this.send(READY_FOR_QUERY);
    }
  }

  private terminate(): void {
    if (this.closed) return;
    this.dispose();
    this.close();
  }
}

function label(what: string, name: string): string {
  return name === "" ? `unnamed ${what}` : `${what} "${name}"`;
}

function toPgError(e: unknown): PgError {
  if (e instanceof PgError) return e;
  if (e instanceof ProtocolError) return Errors.protocolViolation(e.message);
  const why = e instanceof Error ? e.message : String(e);
  return error(SqlState.InternalError, `admin command failed: ${why}`);
}
