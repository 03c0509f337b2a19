// ClientStatements against a fake server connection: what bytes reach the server for each client
// Parse/Bind/Describe/Close, and which Parse replies the server connection is told to expect.
// Frames are built with test/frames.ts and read here, independently of src/protocol.

import { describe, expect, test } from "bun:test";
import { ClientStatements, Forwarded } from "../../../src/session/statements.ts";
import type { StatementShape } from "../../../src/server/statement-shape.ts";
import { AcceptedTexts, BoundedSet } from "../../../src/session/accepted-texts.ts";
import { statementNames } from "../../../src/server/statement-names.ts";
import type { ServerConn } from "../../../src/server/server-conn.ts";
import { Bind as bind, cat, Close as closeMsg, Describe as describeMsg, Execute, Parse as parse, Sync } from "../../frames.ts";

// --- frames, from test/frames.ts -----------------------------------------------------------

const enc = new TextEncoder();
const PARSE = 0x50; // 'P'

/** Raw bytes, for texts and names that are not UTF-8 (the builders add the NUL). */
const raw = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Reads a frame's NUL-terminated strings after `skip` body bytes (independent decoder). */
function cstrings(f: Uint8Array, skip = 0, n = 2): string[] {
  const out: string[] = [];
  let o = 5 + skip;
  for (let k = 0; k < n; k++) {
    const nul = f.indexOf(0, o);
    out.push(new TextDecoder().decode(f.subarray(o, nul)));
    o = nul + 1;
  }
  return out;
}

// --- fake server connection and output -----------------------------------------------------

interface FakeServer {
  prepared: Map<string, StatementShape | null>;
  skippingToSync: boolean;
  /** Describes PgGate registered: [server name, swallow, done]. */
  describes: [string | null, boolean, ((shape: StatementShape | null, conn: ServerConn) => void) | null][];
  forcedErrors: string[];
  expectDescribe(name: string | null, swallow: boolean, done: ((shape: StatementShape | null, conn: ServerConn) => void) | null): void;
  expectForcedError(marker: string, substitute: Uint8Array): void;
  unnamedOwner: object | null;
  parses: [string | null, boolean][];
  touched: string[];
  /** Parse answer callbacks, in order: call one with true (false) to play the server accepting (rejecting) that Parse. */
  acceptors: (((accepted: boolean) => void) | null)[];
  expectParse(name: string | null, swallow: boolean, answered?: ((accepted: boolean) => void) | null): void;
  touchPrepared(name: string): void;
  /** Binds PgGate registered: [server name, 0A000 callback]. */
  binds: [string | null, ((name: string) => void) | null][];
  expectBind(name: string | null, changed: ((name: string) => void) | null): void;
  /** Closes PgGate registered: the copy its own Close drops, or null for the client's. */
  closes: (string | null)[];
  expectClose(name: string | null): void;
}

function fakeServer(): FakeServer & ServerConn {
  const s: FakeServer = {
    prepared: new Map(),
    skippingToSync: false,
    describes: [],
    forcedErrors: [],
    expectDescribe(name, swallow, done) {
      s.describes.push([name, swallow, done]);
    },
    expectForcedError(marker) {
      s.forcedErrors.push(marker);
    },
    unnamedOwner: null,
    parses: [],
    touched: [],
    acceptors: [],
    // Like ServerConn: a named Parse counts as prepared from the moment it is sent.
    expectParse(name, swallow, answered = null) {
      s.parses.push([name, swallow]);
      s.acceptors.push(answered);
      if (name) s.prepared.set(name, null);
    },
    touchPrepared(name) {
      s.touched.push(name);
    },
    binds: [],
    expectBind(name, changed) {
      s.binds.push([name, changed]);
    },
    closes: [],
    // Like ServerConn: PgGate's own Close forgets the copy at once.
    expectClose(name) {
      s.closes.push(name);
      if (name !== null) s.prepared.delete(name);
    },
  };
  return s as FakeServer & ServerConn;
}

/** Records copies of what is sent, and whether each was the client's own bytes passed through. */
function recorder() {
  const sent: Uint8Array[] = [];
  const passedThrough: boolean[] = [];
  let current: Uint8Array | null = null;
  return {
    sent,
    passedThrough,
    out: (buf: Uint8Array, start: number, end: number) => {
      sent.push(buf.slice(start, end));
      passedThrough.push(buf === current);
    },
    /** Forwards one client frame, embedded at an offset in a larger chunk like a real read. */
    forward(st: ClientStatements, server: ServerConn, f: Uint8Array): boolean {
      return this.forwardAs(st, server, f) !== Forwarded.NotMine;
    },
    forwardAs(st: ClientStatements, server: ServerConn, f: Uint8Array): Forwarded {
      const chunk = new Uint8Array(f.length + 10);
      chunk.fill(0xee);
      chunk.set(f, 3);
      current = chunk;
      try {
        return st.forward(f[0], chunk, 3, 3 + f.length, server, this.out);
      } finally {
        current = null;
      }
    },
    clear() {
      sent.length = 0;
      passedThrough.length = 0;
    },
  };
}

/** A client without caps whose charged bytes are recorded (StatementOwner). */
function unlimited(caps = { maxPreparedStatements: 0, maxPreparedStatementBytes: 0 }, room = Infinity) {
  const o = {
    statementCaps: caps,
    charged: 0,
    statementBytesFit: (bytes: number) => o.charged + bytes <= room,
    retainStatementBytes: (delta: number) => void (o.charged += delta),
    onShapeLearnt: (_conn: ServerConn) => {},
  };
  return o;
}

let uniq = 0;
/** A query text no other test uses (server names are process-wide). */
const q = (sql = "SELECT $1::int"): string => `${sql} /* ${++uniq} */`;

/** The server name a named Parse was rewritten to. */
function serverNameOf(f: Uint8Array): string {
  expect(f[0]).toBe(PARSE);
  return cstrings(f, 0, 1)[0];
}

// --- tests -----------------------------------------------------------------------------------

describe("Parse", () => {
  test("a named Parse is sent under a pggate_ name; the ParseComplete is forwarded", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const text = q();
    expect(rec.forward(st, server, parse("s1", text, [23]))).toBe(true);
    const name = serverNameOf(rec.sent[0]);
    expect(name).toMatch(/^pggate_[0-9a-z]+$/);
    // Described at once (answer swallowed): the statement's shape as of its Parse.
    expect(rec.sent).toEqual([parse(name, text, [23]), describeMsg("S", name)]);
    expect(server.parses).toEqual([[name, false]]);
    expect(server.describes.map(([n, swallow]) => [n, swallow])).toEqual([[name, true]]);
    expect(st.queryOf("s1")).toBe(text);
    expect(st.size).toBe(1);
  });

  test("the same text and types on a connection that already has it: that copy is closed and parsed afresh (it may predate DDL PgGate never saw)", () => {
    const a = new ClientStatements();
    const b = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(a, server, parse("s1", text, [23]));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();
    server.parses.length = 0;
    server.unnamedOwner = {};

    const owner = server.unnamedOwner;
    rec.forward(b, server, parse("other", text, [23]));
    expect(rec.sent).toEqual([closeMsg("S", name), parse(name, text, [23]), describeMsg("S", name)]);
    expect(server.closes).toEqual([name]);
    expect(server.parses).toEqual([[name, false]]);
    // The server's unnamed statement is untouched.
    expect(server.unnamedOwner).toBe(owner);
    // b's Bind uses the copy just parsed for it with no injection, its shape still on the way.
    rec.clear();
    rec.forward(b, server, bind("", "other", ["1"]));
    expect(rec.sent).toEqual([bind("", name, ["1"])]);
    expect(server.parses).toEqual([[name, false]]);
  });

  test("the unnamed Parse passes through unchanged and makes this client the owner of the server's unnamed statement", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const f = parse("", q(), [25]);
    rec.forward(st, server, f);
    expect(rec.sent).toEqual([f]);
    expect(rec.passedThrough).toEqual([true]);
    expect(server.parses).toEqual([[null, false]]);
    expect(server.unnamedOwner).not.toBeNull();
    expect(st.size).toBe(0);
  });

  test("different parameter types give different server names; the same text from two clients the same name", () => {
    const text = q();
    const names: string[] = [];
    for (const [client, types] of [
      [new ClientStatements(), [23]],
      [new ClientStatements(), [20]],
      [new ClientStatements(), []],
      [new ClientStatements(), [23]],
      [new ClientStatements(), [0]],
    ] as const) {
      const rec = recorder();
      rec.forward(client, fakeServer(), parse("x", text, [...types]));
      names.push(serverNameOf(rec.sent[0]));
    }
    expect(new Set(names.slice(0, 3)).size).toBe(3);
    expect(names[3]).toBe(names[0]);
    expect(names[4]).not.toBe(names[2]);
    // Different text, same types: different name.
    const rec = recorder();
    rec.forward(new ClientStatements(), fakeServer(), parse("x", q(), [23]));
    expect(serverNameOf(rec.sent[0])).not.toBe(names[0]);
  });

  test("other messages are left to the caller", () => {
    const st = new ClientStatements();
    const rec = recorder();
    expect(rec.forward(st, fakeServer(), Execute(""))).toBe(false);
    expect(rec.forward(st, fakeServer(), Sync())).toBe(false);
    expect(rec.sent).toEqual([]);
  });

  test("parseInfo and bindStatement read names and text", () => {
    const f = parse("s9", "SELECT 1", [23]);
    const chunk = new Uint8Array([1, 2, ...f, 3]);
    expect(ClientStatements.parseInfo(chunk, 2, 2 + f.length)).toEqual({ name: "s9", query: "SELECT 1" });
    const b = bind("p1", "s9", ["x"]);
    expect(ClientStatements.bindStatement(b, 0, b.length)).toBe("s9");
  });
});

describe("Bind", () => {
  test("a known statement on a connection lacking it: Parse injected (reply swallowed) before the rewritten Bind", () => {
    const st = new ClientStatements();
    const first = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(st, first, parse("s1", text, [23, 25]));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();

    const second = fakeServer();
    rec.forward(st, second, bind("portal", "s1", ["7", null]));
    expect(rec.sent).toEqual([parse(name, text, [23, 25]), describeMsg("S", name), bind("portal", name, ["7", null])]);
    expect(second.parses).toEqual([[name, true]]);
    expect(second.binds.map(([n]) => n)).toEqual([name]);

    // Once prepared there, later Binds are only rewritten.
    rec.clear();
    rec.forward(st, second, bind("", "s1", ["8", "x"]));
    expect(rec.sent).toEqual([bind("", name, ["8", "x"])]);
    expect(second.parses).toEqual([[name, true]]);
    expect(second.touched).toEqual([name]);
  });

  test("on the connection that parsed it: rewritten only", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("s1", q(), []));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();
    rec.forward(st, server, bind("", "s1"));
    expect(rec.sent).toEqual([bind("", name)]);
    expect(server.parses).toEqual([[name, false]]);
  });

  test("an unknown statement name is forwarded unchanged (the server reports it missing)", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const f = bind("", "never_parsed", ["1"]);
    rec.forward(st, server, f);
    expect(rec.sent).toEqual([f]);
    expect(rec.passedThrough).toEqual([true]);
    expect(server.parses).toEqual([]);
  });

  test("Bind(\"\") re-parses the client's unnamed statement once on another connection", () => {
    const st = new ClientStatements();
    const a = fakeServer();
    const b = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(st, a, parse("", text, [23]));
    rec.clear();

    // Same connection: nothing to inject.
    rec.forward(st, a, bind("", "", ["1"]));
    expect(rec.sent).toEqual([bind("", "", ["1"])]);
    expect(a.parses).toEqual([[null, false]]);

    // Another connection: injected once, reply swallowed.
    rec.clear();
    rec.forward(st, b, bind("", "", ["2"]));
    expect(rec.sent).toEqual([parse("", text, [23]), bind("", "", ["2"])]);
    expect(b.parses).toEqual([[null, true]]);
    rec.clear();
    rec.forward(st, b, bind("", "", ["3"]));
    expect(rec.sent).toEqual([bind("", "", ["3"])]);
    expect(b.parses).toEqual([[null, true]]);
  });

  test("Bind(\"\") re-parses after another client replaced the connection's unnamed statement", () => {
    const mine = new ClientStatements();
    const theirs = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(mine, server, parse("", text));
    rec.forward(theirs, server, parse("", q()));
    rec.clear();
    rec.forward(mine, server, bind("", ""));
    expect(rec.sent).toEqual([parse("", text), bind("", "")]);
    expect(server.parses.at(-1)).toEqual([null, true]);
  });

  test("Bind(\"\") needs no re-parse after a named Parse of a text the connection had (the unnamed statement is left alone)", () => {
    const st = new ClientStatements();
    const other = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const shared = q();
    rec.forward(other, server, parse("o", shared));
    const unnamedText = q();
    rec.forward(st, server, parse("", unnamedText));
    rec.forward(st, server, parse("s", shared)); // already there: closed and parsed again under its name
    rec.clear();
    rec.forward(st, server, bind("", ""));
    expect(rec.sent).toEqual([bind("", "")]);
  });

  test("Bind(\"\") from a client that never sent Parse(\"\") is forwarded unchanged", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, bind("", ""));
    expect(rec.sent).toEqual([bind("", "")]);
    expect(server.parses).toEqual([]);
  });
});

describe("Describe", () => {
  test("Describe 'S' of a named statement is rewritten, with the Parse injected where missing", () => {
    const st = new ClientStatements();
    const a = fakeServer();
    const b = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(st, a, parse("s1", text, [23]));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();

    rec.forward(st, a, describeMsg("S", "s1"));
    expect(rec.sent).toEqual([describeMsg("S", name)]);

    rec.clear();
    rec.forward(st, b, describeMsg("S", "s1"));
    // PgGate's own Describe (swallowed) follows its Parse; then the client's.
    expect(rec.sent).toEqual([parse(name, text, [23]), describeMsg("S", name), describeMsg("S", name)]);
    expect(b.parses).toEqual([[name, true]]);
  });

  test("Describe 'P' and Describe 'S' of an unknown name pass through unchanged", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("s1", q()));
    rec.clear();
    for (const f of [describeMsg("P", "s1"), describeMsg("P", ""), describeMsg("S", "unknown")]) {
      rec.forward(st, server, f);
      expect(rec.sent.at(-1)).toEqual(f);
      expect(rec.passedThrough.at(-1)).toBe(true);
    }
    expect(rec.sent.length).toBe(3);
  });

  test("Describe 'S' of the unnamed statement re-parses it on another connection", () => {
    const st = new ClientStatements();
    const rec = recorder();
    const text = q();
    rec.forward(st, fakeServer(), parse("", text));
    rec.clear();
    const b = fakeServer();
    rec.forward(st, b, describeMsg("S", ""));
    expect(rec.sent).toEqual([parse("", text), describeMsg("S", "")]);
    expect(b.parses).toEqual([[null, true]]);
  });
});

describe("Close", () => {
  test("Close 'S' of a named statement closes a name no server has, and forgets the client's name", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("s1", q()));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();

    rec.forward(st, server, closeMsg("S", "s1"));
    expect(rec.sent).toEqual([closeMsg("S", "pggate_closed")]);
    expect(st.queryOf("s1")).toBeUndefined();
    expect(st.size).toBe(0);
    // The shared server statement stays for other clients.
    expect(server.prepared.has(name)).toBe(true);

    // A later Bind of the closed name is the client's own mistake: forwarded unchanged.
    rec.clear();
    const f = bind("", "s1");
    rec.forward(st, server, f);
    expect(rec.sent).toEqual([f]);
  });

  test("Close 'S' of a name the client never had still answers in order (harmless Close)", () => {
    const st = new ClientStatements();
    const rec = recorder();
    rec.forward(st, fakeServer(), closeMsg("S", "nope"));
    expect(rec.sent).toEqual([closeMsg("S", "pggate_closed")]);
  });

  test("Close 'P' passes through unchanged", () => {
    const st = new ClientStatements();
    const rec = recorder();
    const f = closeMsg("P", "portal");
    rec.forward(st, fakeServer(), f);
    expect(rec.sent).toEqual([f]);
    expect(rec.passedThrough).toEqual([true]);
  });

  test("re-Parse of a closed name maps it again", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(st, server, parse("s1", text));
    const name = serverNameOf(rec.sent[0]);
    rec.forward(st, server, closeMsg("S", "s1"));
    rec.clear();
    rec.forward(st, server, parse("s1", text));
    expect(rec.sent).toEqual([closeMsg("S", name), parse(name, text), describeMsg("S", name)]);
    rec.clear();
    rec.forward(st, server, bind("", "s1"));
    expect(rec.sent).toEqual([bind("", name)]);
  });

  // BUG (src/session/statements.ts forwardDescribeOrClose, `if (name === "")` branch): a client's
  // Close of the unnamed statement is forwarded but server.unnamedOwner is left pointing at
  // whichever client parsed it there. When that client later binds "" on this connection, no
  // Parse is injected and the server answers "unnamed prepared statement does not exist" for a
  // statement the client never closed. Drop `.failing` once fixed (e.g. reset unnamedOwner on Close).
  test("another client's Close of the unnamed statement does not break this client's Bind(\"\")", () => {
    const mine = new ClientStatements();
    const theirs = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    const text = q();
    rec.forward(mine, server, parse("", text));
    rec.forward(theirs, server, closeMsg("S", ""));
    rec.clear();
    rec.forward(mine, server, bind("", ""));
    expect(rec.sent).toEqual([parse("", text), bind("", "")]);
  });
});

describe("acceptLocally (Parse answered without a server)", () => {
  const accept = (st: ClientStatements, f: Uint8Array): boolean => st.acceptLocally(f, 0, f.length);

  test("only a named statement whose text and types a server already accepted for this client", () => {
    const st = new ClientStatements();
    const text = q();
    expect(accept(st, parse("", text))).toBe(false);
    expect(accept(st, parse("s", text, [23]))).toBe(false);
    expect(st.size).toBe(0);

    const rec = recorder();
    const first = fakeServer();
    rec.forward(st, first, parse("x", text, [23]));
    const name = serverNameOf(rec.sent[0]);
    // Sent but not yet accepted: nothing is answered locally.
    expect(accept(st, parse("s", text, [23]))).toBe(false);
    first.acceptors[0]!(true);
    expect(accept(st, parse("s", text, [20]))).toBe(false);
    expect(accept(st, parse("s", text, [23]))).toBe(true);
    expect(st.queryOf("s")).toBe(text);

    // The first server it lands on gets it injected before the Bind.
    rec.clear();
    const server = fakeServer();
    rec.forward(st, server, bind("", "s", ["1"]));
    expect(rec.sent).toEqual([parse(name, text, [23]), describeMsg("S", name), bind("", name, ["1"])]);
    expect(server.parses).toEqual([[name, true]]);
    // An injected Parse is PgGate's, not the client's: nothing to accept for it.
    expect(server.acceptors).toEqual([null]);
  });

  test("a text another client had accepted is not answered locally for this one", () => {
    // The review's leak: one user's accepted text made PgGate answer ParseComplete to another
    // (other user, other database) for a statement PostgreSQL would reject there.
    const text = q();
    const other = new ClientStatements();
    const server = fakeServer();
    recorder().forward(other, server, parse("s1", text));
    server.acceptors[0]!(true);
    expect(accept(other, parse("s2", text))).toBe(true);
    const me = new ClientStatements();
    expect(accept(me, parse("s1", text))).toBe(false);
  });

  test("clients sharing one accepted set (same user, database, parameters) answer each other's texts", () => {
    const text = q();
    const shared = new BoundedSet();
    const a = new ClientStatements();
    const b = new ClientStatements();
    a.useAccepted(shared);
    b.useAccepted(shared);
    const server = fakeServer();
    recorder().forward(a, server, parse("s", text));
    expect(accept(b, parse("s", text))).toBe(false);
    server.acceptors[0]!(true);
    expect(accept(b, parse("s", text))).toBe(true);
  });

  test("AcceptedTexts keys by database, user and parameters, never by a joined string", () => {
    const t = new AcceptedTexts();
    const p = new Map([["application_name", "x"]]);
    t.setFor("app", "x/c", p).add("pggate_1");
    expect(t.setFor("app", "x/c", p).has("pggate_1")).toBe(true);
    expect(t.setFor("app/x", "c", p).has("pggate_1")).toBe(false);
    expect(t.setFor("app", "x/c", new Map()).has("pggate_1")).toBe(false);
    expect(t.setFor("app", "x/c", new Map([["application_name", "y"]])).has("pggate_1")).toBe(false);
  });

  test("a Parse re-sent as unnamed on a connection that has the statement still counts as accepted", () => {
    const text = q();
    const a = new ClientStatements();
    const b = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(a, server, parse("s", text));
    server.acceptors[0]!(true);
    rec.forward(b, server, parse("t", text)); // prepared here already: sent as unnamed Parse
    expect(accept(b, parse("u", text))).toBe(false);
    server.acceptors[1]!(true);
    expect(accept(b, parse("u", text))).toBe(true);
  });
});

describe("texts and names that are not UTF-8 (client_encoding LATIN1 and the like)", () => {
  // BUG (src/session/statements.ts forwardParse, `const key = query + "\0" + typesKey(...)`):
  // the statement key is the query decoded as UTF-8 with replacement, so two texts that differ
  // only in non-UTF-8 bytes (LATIN1 'café' vs 'cafè') share one server name. On a connection
  // that has the first, the second client's Parse is turned into an unnamed Parse and its Bind
  // runs the FIRST text: wrong results. Drop `.failing` once the key uses the raw bytes.
  test("texts differing only in non-UTF-8 bytes get different server names", () => {
    const server = fakeServer();
    const rec = recorder();
    const cafe = raw(...enc.encode(`SELECT 'caf`), 0xe9, ...enc.encode(`' /* ${++uniq} */`));
    const cafe2 = raw(...cafe);
    cafe2[cafe2.indexOf(0xe9)] = 0xe8;
    const a = new ClientStatements();
    const b = new ClientStatements();
    rec.forward(a, server, parse("s", cafe));
    rec.forward(b, server, parse("s", cafe2));
    rec.clear();
    rec.forward(b, server, bind("", "s"));
    const sentName = cstrings(rec.sent.at(-1)!, 0, 2)[1];
    rec.clear();
    rec.forward(a, server, bind("", "s"));
    expect(cstrings(rec.sent.at(-1)!, 0, 2)[1]).not.toBe(sentName);
  });

  // BUG (src/session/statements.ts forwardBind): the portal name is decoded as UTF-8 and
  // re-encoded, so a non-UTF-8 portal name changes on the way to the server and the client's
  // Execute of its portal (forwarded as sent) finds no such portal.
  test("a rewritten Bind keeps the portal name's bytes", () => {
    const st = new ClientStatements();
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("s", q()));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();
    const portal = raw(0x70, 0xe9); // "p" + LATIN1 é
    rec.forward(st, server, bind(portal, "s"));
    expect(rec.sent).toEqual([bind(portal, name)]);
  });

  test("the unnamed statement's bytes are re-sent exactly", () => {
    const st = new ClientStatements();
    const rec = recorder();
    const text = raw(...enc.encode("SELECT '"), 0xe9, 0xff, ...enc.encode("'"));
    rec.forward(st, fakeServer(), parse("", text));
    rec.clear();
    rec.forward(st, fakeServer(), bind("", ""));
    expect(rec.sent[0]).toEqual(parse("", text));
  });

  test("a named statement's bytes are re-sent exactly when injected", () => {
    const st = new ClientStatements();
    const rec = recorder();
    const text = raw(...enc.encode(`SELECT '`), 0xe9, ...enc.encode(`' /* ${++uniq} */`));
    rec.forward(st, fakeServer(), parse("s", text, [25]));
    const name = serverNameOf(rec.sent[0]);
    rec.clear();
    rec.forward(st, fakeServer(), bind("", "s"));
    expect(rec.sent[0]).toEqual(parse(name, text, [25]));
  });
});

describe("statements the client described, used on another connection", () => {
  const shape = (types: number[], row: Uint8Array | null): StatementShape => ({ params: new Uint8Array([0, types.length, ...types.flatMap((t) => [0, 0, 0, t])]), row });
  const rowOf = (name: string, type: number, tableOid = 1000): Uint8Array => {
    const n = enc.encode(name);
    const b = new Uint8Array(2 + n.length + 1 + 18);
    const dv = new DataView(b.buffer);
    dv.setInt16(0, 1);
    b.set(n, 2);
    let o = 2 + n.length + 1;
    dv.setInt32(o, tableOid);
    dv.setInt16(o + 4, 1);
    dv.setInt32(o + 6, type);
    dv.setInt16(o + 10, 4);
    dv.setInt32(o + 12, -1);
    return b;
  };
  /** Prepares and describes `s1` on `first`, playing the server's description `told`. */
  function described(told: StatementShape) {
    const learnt: ServerConn[] = [];
    const st = new ClientStatements(undefined, { ...unlimited(), onShapeLearnt: (conn: ServerConn) => void learnt.push(conn) });
    const first = fakeServer();
    const rec = recorder();
    const text = q("SELECT v FROM t");
    rec.forward(st, first, parse("s1", text, []));
    const name = serverNameOf(rec.sent[0]);
    rec.forward(st, first, describeMsg("S", "s1"));
    const [, swallow, done] = first.describes.at(-1)!;
    expect(swallow).toBe(false);
    first.prepared.set(name, told);
    done!(told, first);
    rec.clear();
    return { st, rec, name, learnt, text };
  }

  test("a connection lacking it: Parse and Describe injected with a Flush, and the Bind held until the shape is known", () => {
    const told = shape([], rowOf("v", 23));
    const { st, rec, name, learnt } = described(told);
    const second = fakeServer();
    expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Hold);
    expect(rec.sent.map((f) => String.fromCharCode(f[0]))).toEqual(["P", "D", "H"]);
    expect(second.describes).toEqual([[name, true, expect.any(Function)]]);
    // The server answers with the same types: the held Bind now goes out, rewritten.
    second.prepared.set(name, shape([], rowOf("v", 23, 2000)));
    second.describes[0][2]!(second.prepared.get(name)!, second);
    expect(learnt).toEqual([second]);
    rec.clear();
    expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Sent);
    expect(rec.sent).toEqual([bind("", name)]);
  });

  /** Plays the server's answer to the last Describe PgGate sent on `server`. */
  const answer = (server: FakeServer & ServerConn, name: string, sh: StatementShape) => {
    server.prepared.set(name, sh);
    server.describes.at(-1)![2]!(sh, server);
  };

  test("a copy of another shape is parsed afresh before use (the use waits); a fresh copy that still differs fails the use with 0A000, as often as it is used", () => {
    const { st, rec, name, learnt } = described(shape([], rowOf("v", 23)));
    const second = fakeServer();
    second.prepared.set(name, shape([], rowOf("v", 20)));
    for (let use = 0; use < 2; use++) {
      rec.clear();
      // The copy there may predate a change the statement's Parse already saw: Close, Parse, Describe, Flush.
      expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Hold);
      expect(rec.sent.map((f) => String.fromCharCode(f[0]))).toEqual(["C", "P", "D", "H"]);
      expect(second.closes.at(-1)).toBe(name);
      answer(second, name, shape([], rowOf("v", 20)));
      expect(learnt.at(-1)).toBe(second);
      rec.clear();
      // The held Bind goes again: the schema changed after the client's Parse.
      expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Sent);
      expect(rec.sent.length).toBe(1);
      expect(String.fromCharCode(rec.sent[0][0])).toBe("D");
      expect(second.forcedErrors.length).toBe(use + 1);
      expect(cstrings(rec.sent[0], 1, 1)[0]).toBe(second.forcedErrors[use]);
    }
    // The change undone (a fresh copy of the statement's own shape): it serves again, as in PostgreSQL.
    rec.clear();
    expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Hold);
    answer(second, name, shape([], rowOf("v", 23)));
    rec.clear();
    expect(rec.forwardAs(st, second, bind("", "s1"))).toBe(Forwarded.Sent);
    expect(rec.sent).toEqual([bind("", name)]);
    expect(second.forcedErrors.length).toBe(2);
  });

  test("the server's own 0A000 on a Bind fails the statement until a fresh copy shows its shape again", () => {
    const { st, rec, name, text } = described(shape([], rowOf("v", 23)));
    const first = fakeServer();
    first.prepared.set(name, shape([], rowOf("v", 23)));
    rec.forward(st, first, bind("", "s1"));
    expect(rec.sent).toEqual([bind("", name)]);
    const [bound, changed] = first.binds.at(-1)!;
    expect(bound).toBe(name);
    // What ServerConn does with the server's 0A000: tells the statement, retires the name, drops its copy.
    changed!(name);
    statementNames.retire(name);
    first.prepared.delete(name);
    rec.clear();
    // The statement moves to a fresh name; its first copy is checked before use.
    expect(rec.forwardAs(st, first, bind("", "s1"))).toBe(Forwarded.Hold);
    const fresh = serverNameOf(rec.sent[0]);
    expect(fresh).not.toBe(name);
    expect(rec.sent.map((f) => String.fromCharCode(f[0]))).toEqual(["P", "D", "H"]);
    answer(first, fresh, shape([], rowOf("v", 25)));
    rec.clear();
    rec.forward(st, first, bind("", "s1"));
    expect(first.forcedErrors.length).toBe(1);
    // A new Parse of the text gets the fresh name too, never the retired one.
    const other = new ClientStatements();
    rec.clear();
    rec.forward(other, fakeServer(), parse("x", text, []));
    expect(serverNameOf(rec.sent[0])).toBe(fresh);
  });

  test("different parameter types are a different shape too; the same types and columns from another table are not", () => {
    const { st, rec, name } = described(shape([23], rowOf("v", 23)));
    const other = fakeServer();
    other.prepared.set(name, shape([23], rowOf("v", 23, 4242)));
    expect(rec.forwardAs(st, other, bind("", "s1", ["1"]))).toBe(Forwarded.Sent);
    expect(other.forcedErrors).toEqual([]);
    const third = fakeServer();
    third.prepared.set(name, shape([25], rowOf("v", 23)));
    expect(rec.forwardAs(st, third, bind("", "s1", ["1"]))).toBe(Forwarded.Hold);
    answer(third, name, shape([25], rowOf("v", 23)));
    rec.forward(st, third, bind("", "s1", ["1"]));
    expect(third.forcedErrors.length).toBe(1);
  });

  test("while the server skips to Sync after an error, nothing is injected: the Bind goes as it is, to be skipped", () => {
    const { st, rec, name } = described(shape([], rowOf("v", 23)));
    const skipping = fakeServer();
    skipping.skippingToSync = true;
    expect(rec.forwardAs(st, skipping, bind("", "s1"))).toBe(Forwarded.Sent);
    expect(rec.sent).toEqual([bind("", name)]);
    expect(skipping.parses).toEqual([]);
  });
});

describe("what a client's statements keep (limits.max_prepared_statements, limits.max_prepared_statement_bytes)", () => {
  test("past the count cap a Parse is not sent nor recorded: the batch fails right there with 54000", () => {
    const owner = unlimited({ maxPreparedStatements: 2, maxPreparedStatementBytes: 0 });
    const st = new ClientStatements(undefined, owner);
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("a", q()));
    rec.forward(st, server, parse("b", q()));
    expect(st.size).toBe(2);
    rec.clear();
    expect(rec.forwardAs(st, server, parse("c", q()))).toBe(Forwarded.Sent);
    expect(st.size).toBe(2);
    // In its place a Describe of a name that does not exist, whose error the client sees replaced.
    expect(rec.sent.length).toBe(1);
    expect(String.fromCharCode(rec.sent[0][0])).toBe("D");
    expect(cstrings(rec.sent[0], 1, 1)[0]).toBe(server.forcedErrors[0]);
    // Parsing a name it keeps again replaces it: no room needed.
    rec.clear();
    rec.forward(st, server, parse("a", q()));
    expect(rec.sent[0][0]).toBe(PARSE);
    expect(st.size).toBe(2);
    // A Close makes room.
    rec.forward(st, server, closeMsg("S", "b"));
    rec.forward(st, server, parse("c", q()));
    expect(st.size).toBe(2);
    expect(server.forcedErrors.length).toBe(1);
  });

  test("bytes are charged at the Parse, given back at Close, DEALLOCATE, a rejected Parse and dispose; the byte cap refuses", () => {
    const owner = unlimited({ maxPreparedStatements: 0, maxPreparedStatementBytes: 3000 });
    const st = new ClientStatements(undefined, owner);
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("a", q("SELECT 1")));
    const one = owner.charged;
    expect(one).toBeGreaterThan(200);
    expect(st.bytes).toBe(one);
    rec.forward(st, server, parse("big", q(`SELECT '${"x".repeat(2000)}'`)));
    expect(st.size).toBe(1);
    expect(server.forcedErrors.length).toBe(1);
    rec.forward(st, server, parse("b", q("SELECT 2")));
    expect(owner.charged).toBeGreaterThan(one);
    rec.forward(st, server, closeMsg("S", "b"));
    expect(owner.charged).toBe(one);
    // The server rejects c: it does not exist, and costs nothing.
    rec.forward(st, server, parse("c", q("SELECT FROM missing")));
    expect(st.size).toBe(2);
    server.acceptors.at(-1)!(false);
    expect(st.size).toBe(1);
    expect(st.queryOf("c")).toBeUndefined();
    expect(owner.charged).toBe(one);
    expect(st.deallocate("a")).toBe(true);
    expect(owner.charged).toBe(0);
    rec.forward(st, server, parse("d", q()));
    rec.forward(st, server, parse("", q()));
    expect(owner.charged).toBeGreaterThan(0);
    st.dispose();
    expect(owner.charged).toBe(0);
    expect(st.size).toBe(0);
  });

  test("a rejected Parse whose name was parsed again meanwhile leaves the newer statement alone", () => {
    const owner = unlimited();
    const st = new ClientStatements(undefined, owner);
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("a", q("SELECT FROM missing")));
    const newer = q("SELECT 1");
    rec.forward(st, server, parse("a", newer));
    server.acceptors[0]!(false);
    expect(st.queryOf("a")).toBe(newer);
    expect(owner.charged).toBe(st.bytes);
    expect(st.bytes).toBeGreaterThan(0);
  });

  test("no room in the memory budget: 53200, nothing recorded", () => {
    const owner = unlimited(undefined, 1000);
    const st = new ClientStatements(undefined, owner);
    const server = fakeServer();
    const rec = recorder();
    rec.forward(st, server, parse("a", q("SELECT 1")));
    rec.forward(st, server, parse("b", q(`SELECT '${"x".repeat(1000)}'`)));
    expect(st.size).toBe(1);
    expect(server.forcedErrors.length).toBe(1);
    expect(st.refusal(1, 2000)?.code).toBe("53200");
  });

  test("while the server skips to Sync, a Parse is neither sent nor recorded (it would not be created)", () => {
    const st = new ClientStatements(undefined, unlimited());
    const server = fakeServer();
    server.skippingToSync = true;
    const rec = recorder();
    expect(rec.forwardAs(st, server, parse("a", q()))).toBe(Forwarded.Sent);
    expect(rec.sent).toEqual([]);
    expect(st.size).toBe(0);
  });

  test("a statement over 1 MiB keeps no decoded text (its Binds go to the primary unclassified)", () => {
    const st = new ClientStatements(undefined, unlimited());
    const rec = recorder();
    const text = q(`SELECT 1 -- ${"x".repeat(1 << 20)}`);
    rec.forward(st, fakeServer(), parse("big", text));
    expect(st.size).toBe(1);
    expect(st.queryOf("big")).toBeUndefined();
    expect(st.bytes).toBeLessThan((1 << 20) + 1000);
    // Sent as a small header and the kept body (not copied into one frame); the bytes are a Parse.
    expect(rec.sent.length).toBe(3);
    const name = serverNameOf(rec.sent[0]);
    expect(cat(...rec.sent.slice(0, 2))).toEqual(parse(name, text));
    // Injected on another connection the same way.
    rec.clear();
    rec.forward(st, fakeServer(), bind("", "big"));
    expect(cat(...rec.sent.slice(0, 2))).toEqual(parse(name, text));
  });

  test("a frame that has its buffer to itself is kept as a view; one inside a larger chunk is copied", () => {
    const st = new ClientStatements(undefined, unlimited());
    const alone = parse("alone", q());
    st.forward(alone[0], alone, 0, alone.length, fakeServer(), () => {});
    expect(st.named.get("alone")!.rest.buffer).toBe(alone.buffer);
    const chunk = cat(parse("inside", q()), Sync());
    st.forward(chunk[0], chunk, 0, chunk.length - 5, fakeServer(), () => {});
    expect(st.named.get("inside")!.rest.buffer).not.toBe(chunk.buffer);
  });
});
