// Protocol-level prepared statements under transaction pooling. A client's statement names are
// its own; on the servers each distinct (query, parameter types) gets one PgGate name, prepared
// lazily on whichever connection a Bind or Describe lands on. Rewrites Parse, Bind, Describe and
// Close; everything else passes untouched.
import { BodyReader, Frontend, MessageWriter } from "../protocol/index.ts";
import type { Classification, Router } from "../router/index.ts";
import type { ServerConn } from "../server/server-conn.ts";
import { statementNames } from "../server/statement-names.ts";
import { BoundedSet } from "./accepted-texts.ts";

export interface ClientStatement {
  /** PgGate's server-side name for this (query, types). */
  readonly serverName: string;
  readonly query: string;
  /** Routing verdict for `query`, kept with the statement so each Bind does not re-classify. */
  route: { router: Router; cls: Classification } | null;
  /** Parse body after the name: query, NUL, parameter count and type OIDs. */
  readonly rest: Uint8Array;
}


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

  constructor(private readonly counters: PreparedCounters = { preparedHits: 0, preparedMisses: 0 }) {}
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
    this.named.set(c.name, { serverName: c.serverName, query: c.query, rest: c.rest.slice(), route: null });
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
  forward(type: number, buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): boolean {
    switch (type) {
      case Frontend.Parse:
        this.forwardParse(buf, start, end, server, out);
        return true;
      case Frontend.Bind:
        this.forwardBind(buf, start, end, server, out);
        return true;
      case Frontend.Describe:
      case Frontend.Close:
        this.forwardDescribeOrClose(type, buf, start, end, server, out);
        return true;
      default:
        return false;
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
    this.named.set(name, { serverName, query, rest: rest.slice(), route: null });
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

  private forwardBind(buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): void {
    const r = new BodyReader(buf, start + 5, end);
    r.cstring();
    // The portal name is copied as raw bytes: decoding and re-encoding could alter it.
    const portal = buf.subarray(start + 5, end - r.remaining);
    const name = r.cstring();
    if (name === "") {
      this.ensureUnnamed(server, out);
      out(buf, start, end);
      return;
    }
    const stmt = this.named.get(name);
    if (!stmt) {
      // Unknown to us: the server answers "prepared statement ... does not exist", as it should.
      out(buf, start, end);
      return;
    }
    this.ensurePrepared(stmt, server, out);
    const rest = buf.subarray(end - r.remaining, end);
    const w = new MessageWriter(rest.length + portal.length + stmt.serverName.length + 8);
    w.begin(Frontend.Bind).bytes(portal).cstring(stmt.serverName).bytes(rest).finish();
    const b = w.take();
    out(b, 0, b.length);
  }

  private forwardDescribeOrClose(type: number, buf: Uint8Array, start: number, end: number, server: ServerConn, out: FrameOut): void {
    const kind = buf[start + 5];
    if (kind !== 0x53 /* 'S' */) {
      out(buf, start, end);
      return;
    }
    const name = new BodyReader(buf, start + 6, end).cstring();
    if (name === "") {
      if (type === Frontend.Describe) this.ensureUnnamed(server, out);
      // After a Close of the unnamed statement, nobody's unnamed statement lives there.
      else server.unnamedOwner = null;
      out(buf, start, end);
      return;
    }
    const stmt = this.named.get(name);
    if (type === Frontend.Close) {
      // The server statement is shared with other clients and stays; only this client's name
      // goes. Closing a name that does not exist still answers CloseComplete, in order.
      this.named.delete(name);
      const f = new MessageWriter(24).begin(Frontend.Close).int8(0x53).cstring(NOOP_NAME).finish().take();
      out(f, 0, f.length);
      return;
    }
    if (!stmt) {
      out(buf, start, end);
      return;
    }
    this.ensurePrepared(stmt, server, out);
    const f = new MessageWriter(stmt.serverName.length + 8).begin(Frontend.Describe).int8(0x53).cstring(stmt.serverName).finish().take();
    out(f, 0, f.length);
  }

  private ensurePrepared(stmt: ClientStatement, server: ServerConn, out: FrameOut): void {
    if (server.prepared.has(stmt.serverName)) {
      this.counters.preparedHits++;
      server.touchPrepared(stmt.serverName);
      return;
    }
    this.counters.preparedMisses++;
    server.expectParse(stmt.serverName, true);
    out(...frame(Frontend.Parse, stmt.serverName, stmt.rest));
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

function frame(type: number, name: string, rest: Uint8Array): [Uint8Array, number, number] {
  const f = new MessageWriter(rest.length + name.length + 8).begin(type).cstring(name).bytes(rest).finish().take();
  return [f, 0, f.length];
}
