// Protocol-level prepared statements under transaction pooling. A client's statement names are
// its own; on the servers each distinct (query, parameter types) gets one PgGate name, prepared
// lazily on whichever connection a Bind or Describe lands on. Rewrites Parse, Bind, Describe and
// Close; everything else passes untouched.
//
// Schema changes, including DDL PgGate never sees (run directly on the primary): a dedicated
// connection's statement keeps the result type of its own Parse; once the table changes it,
// every use fails with 0A000 "cached plan must not change result type", and a statement parsed
// after the change never does. PgGate gives each client statement that behaviour by knowing its
// shape (parameter and result types) as of the client's Parse, and using only server copies known
// to have that shape:
// - Every copy PgGate parses is described in the same breath, so its shape is known; the
//   client's own Parse is always parsed for real (an existing copy is closed first), so the
//   statement's shape is that of the schema at its Parse.
// - A copy of unknown shape, or of another shape than the statement's, may be older than the
//   statement (parsed before the DDL): it is parsed afresh (Close, Parse, Describe) before use —
//   and if the fresh copy still differs, the schema changed after the client's Parse: the use
//   fails with 0A000, as on a dedicated connection, and so does every later one while a fresh
//   copy differs (PostgreSQL compares with the types of the Parse: a change undone heals it).
//   When the statement's shape is known, its messages wait for the fresh copy's (Hold).
// - A copy of the same shape may still fail with the server's own 0A000 (the table changed since
//   it was described). That change came after the client's Parse, so the client sees it; the
//   copy's name is retired (statement-names.ts), so every connection drops its copy of it.
//
// What a client keeps is bounded (statement-limits.ts) and charged to the memory budget; a Parse
// the server rejects leaves nothing behind, as in PostgreSQL.
import { encodePgError, type PgError } from "../errors/index.ts";
import { BodyReader, Frontend, MessageWriter } from "../protocol/index.ts";
import type { Classification, Router } from "../router/index.ts";
import type { ServerConn } from "../server/server-conn.ts";
import { statementNames } from "../server/statement-names.ts";
import { sameShape, type StatementShape } from "../server/statement-shape.ts";
import { BoundedSet } from "./accepted-texts.ts";
import { refusal, statementBytes, type StatementCaps } from "./statement-limits.ts";
import { failHere, failStale, NOOP_NAME, ownCopy, sendClose, sendDescribe, sendFlush, sendParse, statementKey, type FrameOut } from "./statement-frames.ts";

export type { FrameOut } from "./statement-frames.ts";

/**
 * A Query or Parse larger than this is not decoded to be classified: it goes to the primary as
 * it is (as if unparsable). Decoding a 200 MB statement would hold it a second time, as text,
 * and the lexer's tokens besides — bulk loads through VALUES lists belong on the primary anyway.
 * A prepared statement this large keeps no decoded text: a Bind of it goes to the primary too.
 */
export const MAX_INSPECTED_MESSAGE = 1 << 20;

export interface ClientStatement {
  /** PgGate's server-side name for this (query, types); a new one when it is retired. */
  serverName: string;
  /** Digest of query and types (statementKey): the name to move to when serverName is retired. */
  readonly key: string;
  /** Its text, for routing; null when larger than MAX_INSPECTED_MESSAGE (never decoded). */
  readonly query: string | null;
  /** Routing verdict for `query`, kept with the statement so each Bind does not re-classify. */
  route: { router: Router; cls: Classification } | null;
  /** Parse body after the name: query, NUL, parameter count and type OIDs. */
  readonly rest: Uint8Array;
  /**
   * Its parameter and result types as of the client's Parse (from the Describe PgGate sends
   * with every Parse, or the client's own); null until a copy parsed after the client's Parse
   * answered one.
   */
  shape: StatementShape | null;
  /** A connection whose copy was parsed after the client's Parse (its shape may still be on its way). */
  freshOn: ServerConn | null;
  /**
   * The schema's types differ from `shape` (as last checked): uses fail with 0A000, as on a
   * dedicated connection, until a check finds them equal again (a change undone).
   */
  stale: boolean;
  /** The connection whose fresh copy was just found to differ: the held use fails without another check. */
  checkedOn: ServerConn | null;
  /** Told by the server connection that a Bind of it failed with the server's 0A000. */
  readonly planChanged: (serverName: string) => void;
  /** What keeping it costs (statementBytes), charged to the memory budget. */
  readonly bytes: number;
  /** Whether it returns settings to their defaults (SET ... TO DEFAULT, RESET): asked at its first Bind. */
  resets: boolean | null;
}

/** The client a ClientStatements belongs to: where its shapes are reported and its bytes charged. */
export interface StatementOwner {
  /** Told when a connection answered the Describe a Hold waited for. */
  onShapeLearnt(conn: ServerConn): void;
  /** limits.max_prepared_statements and limits.max_prepared_statement_bytes, as configured now. */
  readonly statementCaps: StatementCaps;
  /** Whether the memory budget has room for `bytes` more. */
  statementBytesFit(bytes: number): boolean;
  /** The client's statements now keep `delta` bytes more (or fewer): charged to the memory budget. */
  retainStatementBytes(delta: number): void;
}

/** What forward() did with a message. */
export const Forwarded = {
  /** Not a statement message: the caller forwards it as it is. */
  NotMine: 0,
  /** Sent (rewritten as needed). */
  Sent: 1,
  /**
   * Not sent: the statement's shape on this connection is being learnt. The caller holds this
   * and every later message, then forwards them again when the server answered (onShapeLearnt).
   */
  Hold: 2,
} as const;
export type Forwarded = (typeof Forwarded)[keyof typeof Forwarded];

/** Where hit/miss counts go (the gateway's Stats). */
export interface PreparedCounters {
  preparedHits: number;
  preparedMisses: number;
}

export class ClientStatements {
  /** The client's named statements: changed only through keep() and drop() (they count the bytes). */
  readonly named = new Map<string, ClientStatement>();
  /** Bytes of the statements kept (named, and the unnamed one's text). */
  private keptBytes = 0;
  /**
   * Server names whose text a server accepted for a client that sees what this one sees (same
   * user, database and startup parameters; see AcceptedTexts). Only these may be answered
   * locally. Until login binds the shared set, the client's own.
   */
  private accepted = new BoundedSet();

  /** Shares accepted texts with the clients of the same (user, database, startup parameters). */
  useAccepted(set: BoundedSet): void {
    this.accepted = set;
  }

  constructor(
    private readonly counters: PreparedCounters = { preparedHits: 0, preparedMisses: 0 },
    /** The client; null (tests): no caps, nothing charged, no Holds reported. */
    private readonly owner: StatementOwner | null = null,
  ) {}

  /** The client's unnamed statement, re-parsed wherever a later Bind("") lands. */
  private unnamed: { rest: Uint8Array; owner: object } | null = null;

  get size(): number {
    return this.named.size;
  }

  /** Query text of a named statement (undefined when unknown, or too large to have been decoded). */
  queryOf(name: string): string | undefined {
    return this.named.get(name)?.query ?? undefined;
  }

  /** Bytes the client's statements keep (charged to the memory budget). */
  get bytes(): number {
    return this.keptBytes;
  }

  /**
   * Why `adding` more named statements of `bytes` in all may not be kept (see refusal), or null.
   * The caller counts a Parse replacing a statement of the same name as it sees fit.
   */
  refusal(adding: number, bytes: number): PgError | null {
    const o = this.owner;
    if (o === null) return null;
    return refusal({ count: this.named.size, bytes: this.keptBytes }, adding, bytes, o.statementCaps, (n) => o.statementBytesFit(n));
  }

  /** Records `stmt` under `name` (replacing a statement of that name) and charges its bytes. */
  private keep(name: string, stmt: ClientStatement): void {
    const old = this.named.get(name);
    this.named.set(name, stmt);
    this.retain(stmt.bytes - (old?.bytes ?? 0));
  }

  /** Forgets the statement `name`; only if it is `stmt`, when given (a later Parse may have replaced it). */
  private drop(name: string, stmt?: ClientStatement): boolean {
    const old = this.named.get(name);
    if (old === undefined || (stmt !== undefined && old !== stmt)) return false;
    this.named.delete(name);
    this.retain(-old.bytes);
    return true;
  }

  private retain(delta: number): void {
    if (delta === 0) return;
    this.keptBytes += delta;
    this.owner?.retainStatementBytes(delta);
  }

  /** The client left: everything goes at once, whatever still refers to this object. */
  dispose(): void {
    this.deallocateAll();
  }

  /** The named statement a Bind frame refers to, if this client prepared it. */
  statementOfBind(buf: Uint8Array, start: number, end: number): ClientStatement | undefined {
    return this.named.get(ClientStatements.bindStatement(buf, start, end));
  }

  /** SQL DEALLOCATE of a protocol-level statement: forgets it (server copies stay for reuse). */
  deallocate(name: string): boolean {
    return this.drop(name);
  }

  /**
   * The client parsed `rest` (query, parameter types) as its unnamed statement and PgGate answered
   * it (a DEALLOCATE): a later Bind of the unnamed statement runs that text, parsed where it lands.
   */
  replaceUnnamed(rest: Uint8Array): void {
    this.retain(rest.length - (this.unnamed?.rest.length ?? 0));
    this.unnamed = { rest, owner: {} };
  }

  /** SQL DEALLOCATE ALL: forgets every protocol-level statement of this client. */
  deallocateAll(): void {
    this.named.clear();
    this.unnamed = null;
    this.retain(-this.keptBytes);
  }

  /**
   * Whether acceptLocally() would accept this Parse (records nothing). Whether the client may
   * keep more statements is refusal()'s question, asked by the caller for the whole batch.
   */
  mayAcceptLocally(buf: Uint8Array, start: number, end: number): boolean {
    return this.localCandidate(buf, start, end) !== null;
  }

  /**
   * A Parse of a named statement whose text some server already accepted can be answered
   * without a server: record it and let the caller reply ParseComplete. Saves a round trip, and
   * keeps clients that prepare synchronously (pgbench -M prepared) from needing a pooled
   * connection just to prepare. Returns false when a server must see it.
   */
  acceptLocally(buf: Uint8Array, start: number, end: number): boolean {
    const c = this.localCandidate(buf, start, end);
    if (!c) return false;
    this.keep(c.name, newStatement(c.name, c.key, c.serverName, ownCopy(buf, start, end, c.rest)));
    return true;
  }

  /** A named Parse whose text a server already accepted for this client's kind, or null. */
  private localCandidate(buf: Uint8Array, start: number, end: number): { name: string; rest: Uint8Array; key: string; serverName: string } | null {
    const r = new BodyReader(buf, start + 5, end);
    const name = r.cstring();
    if (name === "") return null;
    const rest = buf.subarray(end - r.remaining, end);
    const key = statementKey(rest);
    const serverName = statementNames.nameFor(key);
    if (!this.accepted.has(serverName)) return null;
    return { name, rest, key, serverName };
  }

  /**
   * The answer to the client's own Parse of `stmt`. Accepted: its text is known good for this
   * client's kind. Rejected (its error, or skipped after an earlier one): the statement does not
   * exist, as in PostgreSQL — unless a later Parse of the name replaced it meanwhile.
   */
  private parseAnswered(name: string, stmt: ClientStatement): (accepted: boolean) => void {
    return (accepted) => {
      if (accepted) this.accepted.add(stmt.serverName);
      else this.drop(name, stmt);
    };
  }

  /** Decodes a Parse frame's name and query (for routing before a server is chosen). */
  static parseInfo(buf: Uint8Array, start: number, end: number): { name: string; query: string } {
    const r = new BodyReader(buf, start + 5, end);
    return { name: r.cstring(), query: r.cstring() };
  }

  /** The statement a Bind frame refers to. */
  static bindStatement(buf: Uint8Array, start: number, end: number): string {
    const r = new BodyReader(buf, start + 5, end);
    r.cstring();
    return r.cstring();
  }

  /**
   * Forwards one Parse/Bind/Describe/Close to `server`, rewritten to server-side names and
   * preceded by an injected Parse when the connection lacks the statement. Returns false for
   * other message types (the caller forwards those as they are).
   */
  forward(type: number, buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): Forwarded {
    switch (type) {
      case Frontend.Parse:
        this.forwardParse(buf, start, end, server, out);
        return Forwarded.Sent;
      case Frontend.Bind:
        return this.forwardBind(buf, start, end, server, out);
      case Frontend.Describe:
      case Frontend.Close:
        return this.forwardDescribeOrClose(type, buf, start, end, server, out);
      default:
        return Forwarded.NotMine;
    }
  }

  private forwardParse(buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): void {
    const r = new BodyReader(buf, start + 5, end);
    const name = r.cstring();
    const restStart = end - r.remaining;
    const rest = buf.subarray(restStart, end);
    if (name === "") {
      const owner = {};
      // One per client, replaced by the next (bounded by listen.max_message_size): charged, not capped.
      this.retain(rest.length - (this.unnamed?.rest.length ?? 0));
      this.unnamed = { rest, owner };
      server.unnamedOwner = owner;
      server.expectParse(null, false);
      out(buf, start, end);
      return;
    }
    // The server ignores everything up to the Sync: this Parse creates nothing and gets no answer.
    if (server.skippingToSync) return;
    const old = this.named.get(name);
    const bytes = statementBytes(name.length, rest.length, rest.length <= MAX_INSPECTED_MESSAGE);
    const refused = this.refusal(old === undefined ? 1 : 0, bytes - (old?.bytes ?? 0));
    if (refused !== null) {
      failHere(server, out, encodePgError(refused));
      return;
    }
    const key = statementKey(rest);
    const serverName = statementNames.nameFor(key);
    const stmt = newStatement(name, key, serverName, ownCopy(buf, start, end, rest));
    this.keep(name, stmt);
    // Parsed for real, as on a dedicated connection, even where a copy exists: that copy may be
    // older than a schema change PgGate never saw, and this statement must have the shape of now.
    if (server.prepared.has(serverName)) {
      server.expectClose(serverName);
      sendClose(out, serverName);
    }
    server.expectParse(serverName, false, this.parseAnswered(name, stmt));
    sendParse(out, serverName, rest);
    this.describeCopy(stmt, server, out);
  }

  private forwardBind(buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): Forwarded {
    const r = new BodyReader(buf, start + 5, end);
    r.cstring();
    // The portal name is copied as raw bytes: decoding and re-encoding could alter it.
    const portal = buf.subarray(start + 5, end - r.remaining);
    const name = r.cstring();
    if (name === "") {
      this.ensureUnnamed(server, out);
      server.expectBind(null, null);
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const stmt = this.named.get(name);
    if (!stmt) {
      // Unknown to us: the server answers "prepared statement ... does not exist", as it should.
      server.expectBind(null, null);
      out(buf, start, end);
      return Forwarded.Sent;
    }
    if (this.ensurePrepared(stmt, server, out) === Forwarded.Hold) return Forwarded.Hold;
    if (stmt.stale && !server.skippingToSync) {
      failStale(server, out);
      return Forwarded.Sent;
    }
    server.expectBind(stmt.serverName, stmt.planChanged);
    const rest = buf.subarray(end - r.remaining, end);
    const w = new MessageWriter(rest.length + portal.length + stmt.serverName.length + 8);
    w.begin(Frontend.Bind).bytes(portal).cstring(stmt.serverName).bytes(rest).finish();
    const b = w.take();
    out(b, 0, b.length);
    return Forwarded.Sent;
  }

  private forwardDescribeOrClose(type: number, buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): Forwarded {
    const kind = buf[start + 5];
    if (kind !== 0x53 /* 'S' */) {
      if (type === Frontend.Close) server.expectClose(null);
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const name = new BodyReader(buf, start + 6, end).cstring();
    if (name === "") {
      if (type === Frontend.Describe) {
        this.ensureUnnamed(server, out);
        server.expectDescribe(null, false, null);
      }
      else {
        // After a Close of the unnamed statement, nobody's unnamed statement lives there.
        server.unnamedOwner = null;
        server.expectClose(null);
      }
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const stmt = this.named.get(name);
    if (type === Frontend.Close) {
      // The server statement is shared with other clients and stays; only this client's name
      // goes. Closing a name that does not exist still answers CloseComplete, in order.
      this.drop(name);
      server.expectClose(null);
      sendClose(out, NOOP_NAME);
      return Forwarded.Sent;
    }
    if (!stmt) {
      // Not ours (a pinned session's SQL PREPARE, or unknown): the server answers as it is.
      server.expectDescribe(null, false, null);
      out(buf, start, end);
      return Forwarded.Sent;
    }
    if (this.ensurePrepared(stmt, server, out) === Forwarded.Hold) return Forwarded.Hold;
    if (stmt.stale && !server.skippingToSync) {
      failStale(server, out);
      return Forwarded.Sent;
    }
    // The copy passed ensurePrepared: what the client is told is the statement's shape.
    server.expectDescribe(stmt.serverName, false, (shape) => {
      if (shape !== null) stmt.shape ??= shape;
    });
    sendDescribe(out, stmt.serverName);
    return Forwarded.Sent;
  }

  /**
   * Makes `stmt` usable on `server` (see the head of this file): uses the copy there when its
   * shape is the statement's, or when it was parsed for this statement (its shape still on the
   * way); otherwise parses it afresh. Hold: the client's messages wait for the fresh copy's shape.
   */
  private ensurePrepared(stmt: ClientStatement, server: ServerConn, out: FrameOut): Forwarded {
    // The server ignores everything up to the Sync: whatever is sent is skipped unanswered.
    if (server.skippingToSync) return Forwarded.Sent;
    if (stmt.checkedOn === server) {
      // The answer a Hold waited for: the fresh copy differs (stale, the caller fails the use).
      stmt.checkedOn = null;
      return Forwarded.Sent;
    }
    if (statementNames.isRetired(stmt.serverName)) {
      stmt.serverName = statementNames.nameFor(stmt.key);
      stmt.freshOn = null;
    }
    const name = stmt.serverName;
    const copy = server.prepared.get(name);
    const usable = copy === undefined ? false : copy !== null && stmt.shape !== null ? sameShape(stmt.shape, copy) : stmt.freshOn === server && stmt.shape === null;
    if (usable) {
      stmt.stale = false;
      this.counters.preparedHits++;
      server.touchPrepared(name);
      return Forwarded.Sent;
    }
    this.counters.preparedMisses++;
    if (copy !== undefined) {
      server.expectClose(name);
      sendClose(out, name);
    }
    server.expectParse(name, true);
    sendParse(out, name, stmt.rest);
    const hold = stmt.shape !== null;
    this.describeCopy(stmt, server, out, hold);
    if (!hold) return Forwarded.Sent;
    sendFlush(out);
    return Forwarded.Hold;
  }

  /**
   * Describes the copy of `stmt` just parsed on `server` (the answer is swallowed): its shape is
   * recorded for the connection and becomes the statement's, or, when the statement has one
   * already and the fresh copy differs, the schema changed since the client's Parse: stale.
   */
  private describeCopy(stmt: ClientStatement, server: ServerConn, out: FrameOut, hold = false): void {
    stmt.freshOn = server;
    server.expectDescribe(stmt.serverName, true, (shape, conn) => {
      if (shape !== null) {
        if (stmt.shape === null) stmt.shape = shape;
        else if (!sameShape(stmt.shape, shape)) {
          stmt.stale = true;
          if (hold) stmt.checkedOn = conn;
        }
      }
      if (hold) this.owner?.onShapeLearnt(conn);
    });
    sendDescribe(out, stmt.serverName);
  }

  private ensureUnnamed(server: ServerConn, out: FrameOut): void {
    const u = this.unnamed;
    if (!u || server.unnamedOwner === u.owner) return;
    server.unnamedOwner = u.owner;
    server.expectParse(null, true);
    sendParse(out, "", u.rest);
  }
}

/** A named statement as recorded at its Parse; `rest` is the body after the name, kept as it is. */
function newStatement(name: string, key: string, serverName: string, rest: Uint8Array): ClientStatement {
  const keepsText = rest.length <= MAX_INSPECTED_MESSAGE;
  const query = keepsText ? new BodyReader(rest, 0, rest.length).cstring() : null;
  const stmt: ClientStatement = {
    serverName,
    key,
    query,
    rest,
    route: null,
    shape: null,
    freshOn: null,
    stale: false,
    checkedOn: null,
    resets: null,
    bytes: statementBytes(name.length, rest.length, keepsText),
    // The server's own 0A000 on a copy of the statement's shape: the table changed after the
    // client's Parse, so a dedicated connection fails this statement from now on too.
    planChanged: (changed) => {
      if (changed === stmt.serverName) stmt.stale = true;
    },
  };
  return stmt;
}

