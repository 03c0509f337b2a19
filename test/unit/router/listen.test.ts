// LISTEN / UNLISTEN as PostgreSQL's grammar reads them (channel names fold and truncate like any
// identifier), the byte peeks the session uses, and which batches PgGate answers itself.
import { describe, expect, test } from "bun:test";
import { listenStatementsIn, mentionsNotifyOrListen, parseListenOnly, quoteChannel, startsWithListen } from "../../../src/router/index.ts";
import { listenBatch, listenNotices } from "../../../src/session/listen-answers.ts";
import { Bind, cat, Describe, Execute, Parse, Query, Sync, text } from "../../frames.ts";

const ops = (sql: string) => parseListenOnly(sql)?.map((s) => s.op) ?? null;

describe("parseListenOnly", () => {
  test.each<[string, unknown]>([
    ["LISTEN ch", [{ kind: "listen", channel: "ch" }]],
    ["listen CH_1", [{ kind: "listen", channel: "ch_1" }]],
    ['LISTEN "Big Ch"', [{ kind: "listen", channel: "Big Ch" }]],
    ['LISTEN "a""b"', [{ kind: "listen", channel: 'a"b' }]],
    ["  UNLISTEN Foo ; ", [{ kind: "unlisten", channel: "foo" }]],
    ["UNLISTEN *", [{ kind: "unlisten_all" }]],
    ["/* c */ LISTEN a; -- x\n UNLISTEN *", [{ kind: "listen", channel: "a" }, { kind: "unlisten_all" }]],
    ["LISTEN ÄÖ", [{ kind: "listen", channel: "ÄÖ" }]],
    // Left to the server (its error, or other statements in the string).
    ["LISTEN", null],
    ["LISTEN *", null],
    ["LISTEN select", null],
    ["LISTEN user", null],
    ['LISTEN ""', null],
    ['LISTEN U&"\\0061"', null],
    ["LISTEN 'ch'", null],
    ["LISTEN a b", null],
    ["LISTEN a.b", null],
    ["LISTEN a; SELECT 1", null],
    ['LISTEN "open', null],
    ["", null],
  ])("%p", (sql, want) => {
    expect(ops(sql)).toEqual(want as never);
  });

  test("channel names are cut to 63 bytes without splitting a character, as truncate_identifier does", () => {
    const [s] = parseListenOnly(`LISTEN ${"a".repeat(70)}`)!;
    expect(s.op).toEqual({ kind: "listen", channel: "a".repeat(63) });
    expect(s.truncatedFrom).toBe("a".repeat(70));
    // 62 ASCII bytes then a 2-byte character: it does not fit whole, so it goes.
    const [t] = parseListenOnly(`LISTEN "${"b".repeat(62)}é${"c".repeat(5)}"`)!;
    expect(t.op).toEqual({ kind: "listen", channel: "b".repeat(62) });
    expect(parseListenOnly(`LISTEN ${"d".repeat(63)}`)![0].truncatedFrom).toBeNull();
    expect(listenNotices(parseListenOnly(`LISTEN ${"a".repeat(70)}; LISTEN b`)!)).toHaveLength(1);
  });

  test("listenStatementsIn finds them among other statements", () => {
    expect(listenStatementsIn("SELECT 1; LISTEN a; UNLISTEN *; SELECT 'listen b'").map((s) => s.op)).toEqual([{ kind: "listen", channel: "a" }, { kind: "unlisten_all" }]);
    expect(listenStatementsIn("SELECT listen_count FROM t")).toEqual([]);
  });

  test("quoteChannel reads back as the same name", () => {
    expect(quoteChannel('a"B')).toBe('"a""B"');
    expect(ops(`LISTEN ${quoteChannel('a"B c')}`)).toEqual([{ kind: "listen", channel: 'a"B c' }]);
  });
});

describe("byte peeks", () => {
  const peek = (s: string) => {
    const b = text(s);
    return startsWithListen(b, 0, b.length);
  };
  test.each<[string, boolean]>([
    ["LISTEN a", true],
    ["\n\tlisten a", true],
    ['LISTEN"a"', true],
    ["UNLISTEN *", true],
    ["unlisten*", true],
    ["LISTENER", false],
    ["LISTEN", false],
    ["SELECT 1", false],
    ["/* c */ LISTEN a", false],
  ])("startsWithListen %p", (sql, want) => {
    expect(peek(sql)).toBe(want);
  });

  test("mentionsNotifyOrListen: bit 1 NOTIFY, bit 2 LISTEN, any case, anywhere", () => {
    const m = (s: string) => {
      const b = text(s);
      return mentionsNotifyOrListen(b, 0, b.length);
    };
    expect(m("SELECT 1")).toBe(0);
    expect(m("NOTIFY a")).toBe(1);
    expect(m("select pg_Notify('a', 'b')")).toBe(1);
    expect(m("BEGIN; UNLISTEN x")).toBe(2);
    expect(m("listen a; notify a")).toBe(3);
    expect(m("notif")).toBe(0);
  });
});

describe("listenBatch: what PgGate answers itself", () => {
  const frames = (...fs: Uint8Array[]) => {
    const all = cat(...fs);
    const out: { type: number; buf: Uint8Array; start: number; end: number }[] = [];
    let at = 0;
    while (at < all.length) {
      const len = new DataView(all.buffer, all.byteOffset + at + 1, 4).getInt32(0);
      out.push({ type: all[at], buf: all, start: at, end: at + 1 + len });
      at += 1 + len;
    }
    return out;
  };
  const batch = (...fs: Uint8Array[]) => {
    const q = frames(...fs);
    return listenBatch(q, q.length);
  };
  test("a Query of LISTEN / UNLISTEN only, one or several", () => {
    expect(batch(Query("LISTEN a; LISTEN b"))?.target).toHaveLength(2);
    expect(batch(Query("LISTEN a; SELECT 1"))).toBeNull();
  });
  test("the unnamed extended batch of one statement; anything else goes to the server", () => {
    const b = batch(Parse("", "LISTEN a"), Describe("S", ""), Bind("", ""), Describe("P", ""), Execute(""), Sync());
    expect(b?.steps).toEqual(["parse", "describe_statement", "bind", "describe_portal", "execute"]);
    expect(b?.executes).toBe(true);
    expect(batch(Parse("", "LISTEN a"), Sync())?.executes).toBe(false);
    expect(batch(Parse("s1", "LISTEN a"), Bind("", "s1"), Execute(""), Sync())).toBeNull();
    expect(batch(Parse("", "LISTEN a; LISTEN b"), Bind("", ""), Execute(""), Sync())).toBeNull();
    expect(batch(Parse("", "LISTEN a"), Bind("", ""), Execute(""), Parse("", "SELECT 1"), Sync())).toBeNull();
  });
});
