// Lexer: every token kind, PostgreSQL comment/quote rules, statement splitting, and a fuzz run
// proving that no input makes it throw.

import { describe, expect, test } from "bun:test";
import { lex, splitStatements, stringValue, tokenText, TokenKind, type Token } from "../../../src/router/index.ts";

type Kind = (typeof TokenKind)[keyof typeof TokenKind];

/** [kind, source text] for each token. */
function shape(sql: string): Array<[Kind, string]> {
  return lex(sql).tokens.map((t: Token) => [t.kind, tokenText(sql, t)]);
}

const K = TokenKind;

describe("token kinds", () => {
  test.each<[string, Array<[Kind, string]>]>([
    ["select", [[K.Ident, "select"]]],
    ["SeLeCt _x1$y", [[K.Ident, "SeLeCt"], [K.Ident, "_x1$y"]]],
    ['"Quoted ""Id"""', [[K.QuotedIdent, '"Quoted ""Id"""']]],
    ['U&"d\\0061t"', [[K.QuotedIdent, 'U&"d\\0061t"']]],
    ["'it''s'", [[K.String, "'it''s'"]]],
    ["N'nat'", [[K.String, "N'nat'"]]],
    ["E'a\\'b'", [[K.EscapeString, "E'a\\'b'"]]],
    ["e'\\\\'", [[K.EscapeString, "e'\\\\'"]]],
    ["U&'\\0041'", [[K.UnicodeString, "U&'\\0041'"]]],
    ["u&'x'", [[K.UnicodeString, "u&'x'"]]],
    ["B'1010'", [[K.BitString, "B'1010'"]]],
    ["x'1F'", [[K.BitString, "x'1F'"]]],
    ["$$body$$", [[K.DollarString, "$$body$$"]]],
    ["$fn$ a $$ b $fn$", [[K.DollarString, "$fn$ a $$ b $fn$"]]],
    ["$_t1$x$_t1$", [[K.DollarString, "$_t1$x$_t1$"]]],
    ["42", [[K.Number, "42"]]],
    ["3.14", [[K.Number, "3.14"]]],
    [".5", [[K.Number, ".5"]]],
    ["1e10 2.5E-3", [[K.Number, "1e10"], [K.Number, "2.5E-3"]]],
    ["0x1F 0o17 0b101 1_000", [[K.Number, "0x1F"], [K.Number, "0o17"], [K.Number, "0b101"], [K.Number, "1_000"]]],
    ["$1 $23", [[K.Param, "$1"], [K.Param, "$23"]]],
    ["+ - * / <> != >= ||", [[K.Operator, "+"], [K.Operator, "-"], [K.Operator, "*"], [K.Operator, "/"], [K.Operator, "<>"], [K.Operator, "!="], [K.Operator, ">="], [K.Operator, "||"]]],
    ["@> ->> #- ~~* ?|", [[K.Operator, "@>"], [K.Operator, "->>"], [K.Operator, "#-"], [K.Operator, "~~*"], [K.Operator, "?|"]]],
    ["; ( ) , . [ ] :: :", [[K.Punct, ";"], [K.Punct, "("], [K.Punct, ")"], [K.Punct, ","], [K.Punct, "."], [K.Punct, "["], [K.Punct, "]"], [K.Punct, "::"], [K.Punct, ":"]]],
    ["a := 1", [[K.Ident, "a"], [K.Operator, ":="], [K.Number, "1"]]],
    ["\\ { }", [[K.Other, "\\"], [K.Other, "{"], [K.Other, "}"]]],
    ["$ x", [[K.Other, "$"], [K.Ident, "x"]]],
    ["$abc x", [[K.Other, "$"], [K.Ident, "abc"], [K.Ident, "x"]]],
    ["a.b", [[K.Ident, "a"], [K.Punct, "."], [K.Ident, "b"]]],
    ["x::int[]", [[K.Ident, "x"], [K.Punct, "::"], [K.Ident, "int"], [K.Punct, "["], [K.Punct, "]"]]],
    ["1..2", [[K.Number, "1"], [K.Punct, "."], [K.Number, ".2"]]],
  ])("%p", (sql, expected) => {
    expect(shape(sql)).toEqual(expected);
    expect(lex(sql).unterminated).toBe(false);
  });

  test("identifiers fold ASCII only; quoted ones keep case and unescape", () => {
    const { tokens } = lex('SELECT MyCol, "MyCol", "a""b", ÄBC');
    expect(tokens.map((t) => t.value)).toEqual(["select", "mycol", ",", "MyCol", ",", 'a"b', ",", "Äbc"]);
    expect(tokens[3]!.kind).toBe(K.QuotedIdent);
  });

  test("literal values", () => {
    const sql = "'it''s' E'a\\nb\\'c' $t$x'y$t$ $$$$ U&'d''x' B'10' N'n'";
    const values = lex(sql).tokens.map((t) => stringValue(sql, t));
    expect(values).toEqual(["it's", "a\nb'c", "x'y", "", "d'x", "10", "n"]);
  });

  test("unterminated literal values run to the end of input", () => {
    for (const [sql, value] of [["$$abc", "abc"], ["$t$ab$t", "ab$t"], ["'abc", "abc"], ["E'a\\nb", "a\nb"]] as const) {
      const r = lex(sql);
      expect(r.unterminated).toBe(true);
      expect(stringValue(sql, r.tokens[0]!)).toBe(value);
    }
  });

  test("operators stop where a comment starts", () => {
    expect(shape("1+--c\n2")).toEqual([[K.Number, "1"], [K.Operator, "+"], [K.Number, "2"]]);
    expect(shape("1+/*c*/2")).toEqual([[K.Number, "1"], [K.Operator, "+"], [K.Number, "2"]]);
  });

  test("a $ inside an identifier does not start a dollar quote", () => {
    expect(shape("a$$b$$")).toEqual([[K.Ident, "a$$b$$"]]);
  });
});

describe("comments", () => {
  test("line comments end at newline and keep their text", () => {
    const r = lex("SELECT 1 -- pggate:primary\nFROM t");
    expect(r.tokens.length).toBe(4);
    expect(r.comments).toEqual([{ start: 9, end: 26, text: " pggate:primary", block: false }]);
  });

  test("line comment ending at \\r", () => {
    expect(shape("a --x\rb").map((x) => x[1])).toEqual(["a", "b"]);
  });

  test("block comments nest", () => {
    const sql = "SELECT /* a /* b */ still comment; DELETE */ 1";
    const r = lex(sql);
    expect(shape(sql)).toEqual([[K.Ident, "SELECT"], [K.Number, "1"]]);
    expect(r.comments.length).toBe(1);
    expect(r.comments[0]!.text).toBe(" a /* b */ still comment; DELETE ");
    expect(r.unterminated).toBe(false);
  });

  test("deeply nested comments", () => {
    expect(shape("/*/*/**/*/*/x")).toEqual([[K.Ident, "x"]]);
  });

  test("comment markers inside strings and identifiers are text", () => {
    expect(shape("'/*' \"--\" $$/*$$")).toEqual([[K.String, "'/*'"], [K.QuotedIdent, '"--"'], [K.DollarString, "$$/*$$"]]);
  });
});

describe("dollar quotes", () => {
  test("an inner different tag is content", () => {
    expect(shape("$a$ $b$ delete $b$ $a$ x")).toEqual([[K.DollarString, "$a$ $b$ delete $b$ $a$"], [K.Ident, "x"]]);
  });

  test("tags are case sensitive", () => {
    const r = lex("$T$ x $t$ y $T$");
    expect(r.tokens.length).toBe(1);
    expect(r.unterminated).toBe(false);
  });

  test("a digit cannot start a tag: $1 is a parameter", () => {
    expect(shape("$1$")).toEqual([[K.Param, "$1"], [K.Other, "$"]]);
  });

  test("a tag may contain digits after the first char", () => {
    expect(shape("$a1$ x $a1$")).toEqual([[K.DollarString, "$a1$ x $a1$"]]);
  });
});

describe("unterminated input", () => {
  test.each([
    "SELECT 'abc",
    "SELECT E'abc\\'",
    'SELECT "abc',
    "SELECT $$abc",
    "SELECT $tag$ abc $tag",
    "SELECT /* abc",
    "SELECT /* a /* b */",
    "SELECT U&'abc",
    "SELECT B'101",
    "SELECT N'x",
    'SELECT U&"x',
  ])("%p is flagged, not thrown", (sql) => {
    const r = lex(sql);
    expect(r.unterminated).toBe(true);
    const last = r.comments.length > 0 ? r.comments[r.comments.length - 1]!.end : r.tokens[r.tokens.length - 1]!.end;
    expect(last).toBe(sql.length);
  });

  test("an unterminated line comment is fine", () => {
    expect(lex("SELECT 1 -- x").unterminated).toBe(false);
  });
});

describe("splitStatements", () => {
  function texts(sql: string): string[] {
    const { tokens } = lex(sql);
    return splitStatements(tokens).map((r) => sql.slice(tokens[r.from]!.start, tokens[r.to - 1]!.end));
  }

  test("top-level semicolons split; empty statements vanish", () => {
    expect(texts("SELECT 1; SELECT 2;;  ; SELECT 3;")).toEqual(["SELECT 1", "SELECT 2", "SELECT 3"]);
  });

  test("semicolons in strings, comments, dollar quotes and identifiers do not split", () => {
    expect(texts("SELECT ';', \";\", $$;$$ /* ; */ -- ;\n; SELECT 2")).toEqual(["SELECT ';', \";\", $$;$$", "SELECT 2"]);
  });

  test("semicolons inside parentheses do not split", () => {
    expect(texts("SELECT (1; 2); SELECT 3")).toEqual(["SELECT (1; 2)", "SELECT 3"]);
  });

  test("BEGIN ATOMIC bodies keep their semicolons", () => {
    const sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3";
    expect(texts(sql)).toEqual([
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
      "SELECT 3",
    ]);
  });

  test("BEGIN outside CREATE is a transaction statement", () => {
    expect(texts("BEGIN; SELECT 1; END")).toEqual(["BEGIN", "SELECT 1", "END"]);
  });

  test("no tokens, no statements", () => {
    expect(splitStatements(lex("  /* x */ -- y").tokens)).toEqual([]);
  });
});

describe("fuzz", () => {
  // Deterministic xorshift so a failure reproduces.
  let seed = 0x9e3779b9;
  function rand(n: number): number {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  }
  const pieces = [
    "'", '"', "$", "$$", "$a$", "$1", "/*", "*/", "--", "\n", "\r", ";", "(", ")", ",", ".", "::", ":",
    "E'", "U&'", "U&\"", "B'", "X'", "N'", "\\", "''", '""', " ", "\t", "select", "insert", "a", "Z",
    "1", "1.5e", "0x", "_", "+", "-", "*", "/", "<", ">", "=", "!", "@", "#", "%", "^", "&", "|", "`",
    "?", "[", "]", "{", "}", "é", "\u0000", "\uffff", "😀", "\ud800",
  ];

  test("5,000 random SQL-ish strings never throw and tokens stay in bounds and ordered", () => {
    for (let n = 0; n < 5000; n++) {
      let sql = "";
      const len = rand(40);
      for (let i = 0; i < len; i++) sql += pieces[rand(pieces.length)];
      let r: ReturnType<typeof lex>;
      try {
        r = lex(sql);
      } catch (e) {
        throw new Error(`lex threw on ${JSON.stringify(sql)}: ${String(e)}`);
      }
      let prev = 0;
      for (const t of r.tokens) {
        if (t.start < prev || t.end <= t.start || t.end > sql.length) {
          throw new Error(`bad token ${JSON.stringify(t)} in ${JSON.stringify(sql)}`);
        }
        prev = t.end;
        stringValue(sql, t);
      }
      splitStatements(r.tokens);
    }
  });
});
