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
import { encodePgError, Errors } from "../errors/index.ts";
import { BodyReader, Frontend, MessageWriter } from "../protocol/index.ts";
import type { Classification, Router } from "../router/index.ts";
import type { ServerConn } from "../server/server-conn.ts";
import { statementNames } from "../server/statement-names.ts";
import { sameShape, type StatementShape } from "../server/statement-shape.ts";
import { BoundedSet } from "./accepted-texts.ts";

export interface ClientStatement {
  /** PgGate's server-side name for this (query, types). */
  readonly serverName: string;
  readonly query: string;
  /** Routing verdict for `query`, kept with the statement so each Bind does not re-classify. */
  route: { router: Router; cls: Classification } | null;
  /** Parse body after the name: query, NUL, parameter count and type OIDs. */
  readonly rest: Uint8Array;
  /** The parameter and result types the client was told by a Describe of it; null until it asked. */
  told: StatementShape | null;
  /** Its types changed since the client was told them: every use fails as on a dedicated connection. */
  stale: boolean;
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
  readonly named = new Map<string, ClientStatement>();
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
    /** Told when a connection answered the Describe a Hold waited for. */
    private readonly owner: { onShapeLearnt(conn: ServerConn): void } | null = null,
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

  /** Query text of a named statement (for routing a Bind-only batch). */
  queryOf(name: string): string | undefined {
    return this.named.get(name)?.query;
  }

  /** The named statement a Bind frame refers to, if this client prepared it. */
  statementOfBind(buf: Uint8Array, start: number, end: number): ClientStatement | undefined {
    return this.named.get(ClientStatements.bindStatement(buf, start, end));
  }

  /**
   * A Parse of a named statement whose text some server already accepted can be answered
   * without a server: record it and let the caller reply ParseComplete. Saves a round trip, and
   * keeps clients that prepare synchronously (pgbench -M prepared) from needing a pooled
   * connection just to prepare. Returns false when a server must see it.
   */
  /** SQL DEALLOCATE of a protocol-level statement: forgets it (server copies stay for reuse). */
  deallocate(name: string): boolean {
    return this.named.delete(name);
  }

  /** SQL DEALLOCATE ALL: forgets every protocol-level statement of this client. */
  deallocateAll(): void {
    this.named.clear();
    this.unnamed = null;
  }

  /** Whether acceptLocally() would accept this Parse (records nothing). */
  mayAcceptLocally(buf: Uint8Array, start: number, end: number): boolean {
    return this.localCandidate(buf, start, end) !== null;
  }

  acceptLocally(buf: Uint8Array, start: number, end: number): boolean {
    const c = this.localCandidate(buf, start, end);
    if (!c) return false;
    this.named.set(c.name, { serverName: c.serverName, query: c.query, rest: c.rest.slice(), route: null, told: null, stale: false });
    return true;
  }

  /** A named Parse whose text a server already accepted for this client's kind, or null. */
  private localCandidate(buf: Uint8Array, start: number, end: number): { name: string; query: string; rest: Uint8Array; serverName: string } | null {
    const r = new BodyReader(buf, start + 5, end);
    const name = r.cstring();
    if (name === "") return null;
    const rest = buf.subarray(end - r.remaining, end);
    const serverName = statementNames.nameFor(statementKey(rest));
    if (!this.accepted.has(serverName)) return null;
    return { name, query: r.cstring(), rest, serverName };
  }

  /** Remembers, at its ParseComplete, that a server accepted `serverName`'s text for this client. */
  private acceptor(serverName: string): () => void {
    return () => this.accepted.add(serverName);
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
      this.unnamed = { rest, owner };
      server.unnamedOwner = owner;
      server.expectParse(null, false);
      out(buf, start, end);
      return;
    }
    const query = r.cstring();
    const serverName = statementNames.nameFor(statementKey(rest));
    this.named.set(name, { serverName, query, rest: rest.slice(), route: null, told: null, stale: false });
    if (server.prepared.has(serverName)) {
      // Already prepared here (by this or another client). The client still expects a
      // ParseComplete at this point of the reply stream: parsing the same text as the unnamed
      // statement produces exactly one, without touching the shared named statement.
      server.touchPrepared(serverName);
      server.unnamedOwner = null;
      server.expectParse(null, false, this.acceptor(serverName));
      out(...frame(Frontend.Parse, "", rest));
      return;
    }
    server.expectParse(serverName, false, this.acceptor(serverName));
    out(...frame(Frontend.Parse, serverName, rest));
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
      this.named.delete(name);
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
      out(...frame(Frontend.Parse, stmt.serverName, stmt.rest));
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
    out(...frame(Frontend.Parse, "", u.rest));
  }
}

/**
 * Identity of a statement: the raw bytes of query text and parameter types, not decoded text,
 * so clients in encodings other than UTF-8 never share a name for different statements.
 */
function statementKey(rest: Uint8Array): string {
  return Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength).toString("latin1");
}

const FLUSH = new Uint8Array([Frontend.Flush, 0, 0, 0, 4]);

/**
 * In place of a use of a stale statement: a Describe of a name that does not exist, so the server
 * fails the batch right there (the transaction aborts, the rest is skipped to Sync, as with the
 * 0A000 a dedicated connection raises), and the client is shown the 0A000 instead.
 */
function failStale(server: ServerConn, out: FrameOut): void {
  const marker = `pggate_stale_${(nextMarker++).toString(36)}`;
  server.expectForcedError(marker, CACHED_PLAN_CHANGED);
  const f = new MessageWriter(marker.length + 8).begin(Frontend.Describe).int8(0x53).cstring(marker).finish().take();
  out(f, 0, f.length);
}

function frame(type: number, name: string, rest: Uint8Array): [Uint8Array, number, number] {
  const f = new MessageWriter(rest.length + name.length + 8).begin(type).cstring(name).bytes(rest).finish().take();
  return [f, 0, f.length];
}
