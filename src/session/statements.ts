// Protocol-level prepared statements under transaction pooling. A client's statement names are
// its own; on the servers each distinct (query, parameter types) gets one PgGate name, prepared
// lazily on whichever connection a Bind or Describe lands on. Rewrites Parse, Bind, Describe and
// Close; everything else passes untouched.
//
// A statement prepared again elsewhere is parsed against the schema of now, which may differ
// from what the client was told when it described the statement. A dedicated connection would
// fail every use of such a statement with 0A000 "cached plan must not change result type"; so
// does PgGate: before a described statement's first use on a connection, the copy there is
// described too (the client's messages wait for the answer), and a different shape makes the
// client's statement stale for good.
//
// What a client keeps is bounded (statement-limits.ts) and charged to the memory budget; a Parse
// the server rejects leaves nothing behind, as in PostgreSQL.
import { encodePgError, Errors, type PgError } from "../errors/index.ts";
import { BodyReader, Frontend, MessageWriter } from "../protocol/index.ts";
import type { Classification, Router } from "../router/index.ts";
import type { ServerConn } from "../server/server-conn.ts";
import { statementNames } from "../server/statement-names.ts";
import { sameShape, type StatementShape } from "../server/statement-shape.ts";
import { BoundedSet } from "./accepted-texts.ts";
import { refusal, statementBytes, type StatementCaps } from "./statement-limits.ts";

/**
 * A Query or Parse larger than this is not decoded to be classified: it goes to the primary as
 * it is (as if unparsable). Decoding a 200 MB statement would hold it a second time, as text,
 * and the lexer's tokens besides — bulk loads through VALUES lists belong on the primary anyway.
 * A prepared statement this large keeps no decoded text: a Bind of it goes to the primary too.
 */
export const MAX_INSPECTED_MESSAGE = 1 << 20;

export interface ClientStatement {
  /** PgGate's server-side name for this (query, types). */
  readonly serverName: string;
  /** Its text, for routing; null when larger than MAX_INSPECTED_MESSAGE (never decoded). */
  readonly query: string | null;
  /** Routing verdict for `query`, kept with the statement so each Bind does not re-classify. */
  route: { router: Router; cls: Classification } | null;
  /** Parse body after the name: query, NUL, parameter count and type OIDs. */
  readonly rest: Uint8Array;
  /** The parameter and result types the client was told by a Describe of it; null until it asked. */
  told: StatementShape | null;
  /** Its types changed since the client was told them: every use fails as on a dedicated connection. */
  stale: boolean;
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

/** The substitute error frame for uses of a stale statement. */
const CACHED_PLAN_CHANGED = encodePgError(Errors.cachedPlanChanged());

let nextMarker = 1;


/** A name no server statement has: closing it is a harmless no-op that still yields CloseComplete. */
const NOOP_NAME = "pggate_closed";

/** Sends frame bytes to the server in order (views or freshly built frames). */
export type FrameOut = (buf: Uint8Array, start: number, end: number) => void;

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

  /** The Describe callback, made on first use: most clients never need one. */
  private shapeLearntFn: ((shape: StatementShape | null, conn: ServerConn) => void) | null = null;
  private get shapeLearnt(): (shape: StatementShape | null, conn: ServerConn) => void {
    return (this.shapeLearntFn ??= (_shape, conn) => this.owner?.onShapeLearnt(conn));
  }
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
    this.keep(c.name, newStatement(c.name, c.serverName, ownCopy(buf, start, end, c.rest)));
    return true;
  }

  /** A named Parse whose text a server already accepted for this client's kind, or null. */
  private localCandidate(buf: Uint8Array, start: number, end: number): { name: string; rest: Uint8Array; serverName: string } | null {
    const r = new BodyReader(buf, start + 5, end);
    const name = r.cstring();
    if (name === "") return null;
    const rest = buf.subarray(end - r.remaining, end);
    const serverName = statementNames.nameFor(statementKey(rest));
    if (!this.accepted.has(serverName)) return null;
    return { name, rest, serverName };
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
    const serverName = statementNames.nameFor(statementKey(rest));
    const stmt = newStatement(name, serverName, ownCopy(buf, start, end, rest));
    this.keep(name, stmt);
    if (server.prepared.has(serverName)) {
      // Already prepared here (by this or another client). The client still expects a
      // ParseComplete at this point of the reply stream: parsing the same text as the unnamed
      // statement produces exactly one, without touching the shared named statement.
      server.touchPrepared(serverName);
      server.unnamedOwner = null;
      server.expectParse(null, false, this.parseAnswered(name, stmt));
      sendParse(out, "", rest);
      return;
    }
    server.expectParse(serverName, false, this.parseAnswered(name, stmt));
    sendParse(out, serverName, rest);
  }

  private forwardBind(buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): Forwarded {
    const r = new BodyReader(buf, start + 5, end);
    r.cstring();
    // The portal name is copied as raw bytes: decoding and re-encoding could alter it.
    const portal = buf.subarray(start + 5, end - r.remaining);
    const name = r.cstring();
    if (name === "") {
      this.ensureUnnamed(server, out);
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const stmt = this.named.get(name);
    if (!stmt) {
      // Unknown to us: the server answers "prepared statement ... does not exist", as it should.
      out(buf, start, end);
      return Forwarded.Sent;
    }
    if (this.ensurePrepared(stmt, server, out) === Forwarded.Hold) return Forwarded.Hold;
    if (stmt.stale && !server.skippingToSync) {
      failStale(server, out);
      return Forwarded.Sent;
    }
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
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const name = new BodyReader(buf, start + 6, end).cstring();
    if (name === "") {
      if (type === Frontend.Describe) {
        this.ensureUnnamed(server, out);
        server.expectDescribe(null, false, null);
      }
      // After a Close of the unnamed statement, nobody's unnamed statement lives there.
      else server.unnamedOwner = null;
      out(buf, start, end);
      return Forwarded.Sent;
    }
    const stmt = this.named.get(name);
    if (type === Frontend.Close) {
      // The server statement is shared with other clients and stays; only this client's name
      // goes. Closing a name that does not exist still answers CloseComplete, in order.
      this.drop(name);
      const f = new MessageWriter(24).begin(Frontend.Close).int8(0x53).cstring(NOOP_NAME).finish().take();
      out(f, 0, f.length);
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
    // What the client is told now is what its later uses are held to.
    server.expectDescribe(stmt.serverName, false, (shape) => {
      if (shape !== null && this.named.get(name) === stmt) stmt.told = shape;
    });
    const f = new MessageWriter(stmt.serverName.length + 8).begin(Frontend.Describe).int8(0x53).cstring(stmt.serverName).finish().take();
    out(f, 0, f.length);
    return Forwarded.Sent;
  }

  /**
   * Makes `stmt` usable on `server`: prepares it there if missing and, when the client was told
   * its shape, checks the copy there has that shape — at once when the shape is known here,
   * else by describing it (Hold: the client's messages wait for the answer). A copy of another
   * shape marks the client's statement stale.
   */
  private ensurePrepared(stmt: ClientStatement, server: ServerConn, out: FrameOut): Forwarded {
    // The server ignores everything up to the Sync: whatever is sent is skipped unanswered.
    if (server.skippingToSync) return Forwarded.Sent;
    let shape = server.prepared.get(stmt.serverName);
    if (shape !== undefined) {
      this.counters.preparedHits++;
      server.touchPrepared(stmt.serverName);
    } else {
      this.counters.preparedMisses++;
      server.expectParse(stmt.serverName, true);
      sendParse(out, stmt.serverName, stmt.rest);
      shape = null;
    }
    if (stmt.told === null || stmt.stale) return Forwarded.Sent;
    if (shape === null) {
      server.expectDescribe(stmt.serverName, true, this.shapeLearnt);
      const d = new MessageWriter(stmt.serverName.length + 8).begin(Frontend.Describe).int8(0x53).cstring(stmt.serverName).finish().take();
      out(d, 0, d.length);
      // Flush: the answer must come now, not at the Sync still to be sent.
      out(FLUSH, 0, FLUSH.length);
      return Forwarded.Hold;
    }
    if (!sameShape(stmt.told, shape)) stmt.stale = true;
    return Forwarded.Sent;
  }

  private ensureUnnamed(server: ServerConn, out: FrameOut): void {
    const u = this.unnamed;
    if (!u || server.unnamedOwner === u.owner) return;
    server.unnamedOwner = u.owner;
    server.expectParse(null, true);
    sendParse(out, "", u.rest);
  }
}

/**
 * Identity of a statement: the SHA-256 of the raw bytes of query text and parameter types (not
 * of decoded text, so clients in encodings other than UTF-8 never share a name for different
 * statements). A digest keeps the process-wide name map at a few dozen bytes per statement
 * whatever its size. It must resist collisions, not merely spread well: two texts with one key
 * share a server statement, so a client able to craft a collision with another user's statement
 * would have its SQL run under the other's name. Finding a SHA-256 collision is computationally
 * infeasible; a fast 64-bit hash such as Bun.hash (wyhash) is not built to resist a chosen one,
 * and verifying would mean keeping every text in the shared map, which is what this avoids.
 */
function statementKey(rest: Uint8Array): string {
  return Bun.SHA256.hash(rest, "base64") as unknown as string;
}

/**
 * `rest` (a view of the frame `buf[start, end)`) as something that may be kept: the view itself
 * when the frame has its buffer to itself (a large message, allocated whole by the frame reader;
 * views stay valid, see FrameSink), else a copy, so a small statement never pins a socket chunk.
 */
function ownCopy(buf: Uint8Array, start: number, end: number, rest: Uint8Array): Uint8Array {
  return start === 0 && end === buf.length && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? rest : rest.slice();
}

/** A named statement as recorded at its Parse; `rest` is the body after the name, kept as it is. */
function newStatement(name: string, serverName: string, rest: Uint8Array): ClientStatement {
  const keepsText = rest.length <= MAX_INSPECTED_MESSAGE;
  const query = keepsText ? new BodyReader(rest, 0, rest.length).cstring() : null;
  return { serverName, query, rest, route: null, told: null, stale: false, resets: null, bytes: statementBytes(name.length, rest.length, keepsText) };
}

const FLUSH = new Uint8Array([Frontend.Flush, 0, 0, 0, 4]);

/**
 * In place of a use of a stale statement: the 0A000 a dedicated connection raises, where it
 * raises it (see failHere).
 */
function failStale(server: ServerConn, out: FrameOut): void {
  failHere(server, out, CACHED_PLAN_CHANGED);
}

/**
 * Makes the batch fail at this point of the message stream with `substitute` (an ErrorResponse):
 * a Describe of a statement that does not exist fails there on the server, which then skips to
 * the Sync as after any error (a transaction aborts), and the client is shown `substitute`.
 */
function failHere(server: ServerConn, out: FrameOut, substitute: Uint8Array): void {
  const marker = `pggate_fail_${(nextMarker++).toString(36)}`;
  server.expectForcedError(marker, substitute);
  const f = new MessageWriter(marker.length + 8).begin(Frontend.Describe).int8(0x53).cstring(marker).finish().take();
  out(f, 0, f.length);
}

/** Above this, a Parse body is sent as a view after its own small header (see sendParse). */
const VIEW_BODY_BYTES = 64 * 1024;

/**
 * A Parse of `rest` (query, NUL, parameter types) as statement `name` (a PgGate name: ASCII).
 * A large body is not copied into a new frame: the header and name go as a small buffer, the
 * body as a view of the bytes kept (a 4 MB statement is otherwise copied once more per send).
 */
function sendParse(out: FrameOut, name: string, rest: Uint8Array): void {
  if (rest.length <= VIEW_BODY_BYTES) {
    const f = new MessageWriter(rest.length + name.length + 8).begin(Frontend.Parse).cstring(name).bytes(rest).finish().take();
    out(f, 0, f.length);
    return;
  }
  const head = new MessageWriter(name.length + 8).int8(Frontend.Parse).int32(4 + name.length + 1 + rest.length).cstring(name).take();
  out(head, 0, head.length);
  out(rest, 0, rest.length);
}
