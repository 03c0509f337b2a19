// auth.hba's /regex matcher: a table of patterns against names with the answers PostgreSQL's ARE
// engine gives (hba.c compiles with the C collation: case-sensitive, ASCII classes, a search
// unless anchored), patterns that backtrack exponentially in JavaScript answered at once, every
// refusal with the offset it names, and the size limit on expanded bounds.

import { describe, expect, test } from "bun:test";
import { compileHbaRegex, HbaRegexError } from "../../../src/auth/hba-regex.ts";

describe("compileHbaRegex: matches as PostgreSQL's ARE does", () => {
  const cases: [string, string, boolean][] = [
    // Literals; a search unless anchored.
    ["adm", "badmin", true],
    ["adm", "ad", false],
    ["^adm", "xadm", false],
    ["adm$", "admx", false],
    ["^adm$", "adm", true],
    ["^adm$", "admin", false],
    ["^ADM", "adm", false],
    ["^$", "", true],
    ["^$", "a", false],
    ["a^b", "a^b", false],
    // . is any character, newline included (ARE without newline sensitivity).
    ["^a.c$", "abc", true],
    ["^a.c$", "a\nc", true],
    ["^a.c$", "ac", false],
    ["^.$", "é", true],
    ["^.$", "😀", true],
    ["^..$", "😀", false],
    // Escapes: class shorthands are ASCII under the C collation; punctuation is itself.
    ["^\\d+$", "2024", true],
    ["^\\d+$", "٣", false],
    ["^\\w+$", "svc_etl9", true],
    ["^\\w+$", "é", false],
    ["^\\w+$", "a-b", false],
    ["^\\s$", "\t", true],
    ["^\\s$", "\u00a0", false],
    ["^\\D+$", "abc", true],
    ["^\\D+$", "a1", false],
    ["^\\S$", " ", false],
    ["^\\W$", "-", true],
    ["^a\\.b$", "a.b", true],
    ["^a\\.b$", "axb", false],
    ["^\\$\\^\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\\\/$", "$^()[]{}*+?|\\/", true],
    ["^a\\tb$", "a\tb", true],
    // Bracket expressions.
    ["^[a-c]+$", "cab", true],
    ["^[a-c]+$", "abd", false],
    ["^[^a-c]+$", "xyz", true],
    ["^[^a-c]+$", "xaz", false],
    ["^[]a]+$", "]a]", true],
    ["^[^]a]$", "]", false],
    ["^[a-]$", "-", true],
    ["^[-a]$", "-", true],
    ["^[\\d_]+$", "1_2", true],
    ["^[\\]]$", "]", true],
    ["^[à-ÿ]$", "é", true],
    ["^[A-Z]$", "a", false],
    ["[.]", "a", false],
    ["[.]", ".", true],
    // Groups and alternation.
    ["^(app|web)_\\w+$", "web_1", true],
    ["^(app|web)_\\w+$", "db_1", false],
    ["^(?:app|web)$", "app", true],
    ["^a|b$", "ax", true],
    ["^a|b$", "xb", true],
    ["^a|b$", "xbx", false],
    ["^(a|)$", "", true],
    ["^()$", "", true],
    // Quantifiers, bounds, lazy forms (which never change whether there is a match).
    ["^a*$", "", true],
    ["^a+$", "", false],
    ["^ab?c$", "ac", true],
    ["^ab?c$", "abbc", false],
    ["^db\\d{2,4}$", "db123", true],
    ["^db\\d{2,4}$", "db1", false],
    ["^db\\d{2,4}$", "db12345", false],
    ["^a{3}$", "aaa", true],
    ["^a{3}$", "aaaa", false],
    ["^a{2,}$", "aaaaa", true],
    ["^a{2,}$", "a", false],
    ["^a{0}b$", "b", true],
    ["^(ab){2}$", "abab", true],
    ["^(ab){2}$", "ab", false],
    ["^a+?b$", "aaab", true],
    ["^a*?$", "aa", true],
    ["^(a|ab)(c|bcd)(d*)$", "abcd", true],
    // A { not followed by a digit, and a lone } or ], are ordinary characters.
    ["^x{$", "x{", true],
    ["^x{a}$", "x{a}", true],
    ["^a}]$", "a}]", true],
    // Nested and overlapping repetition: exponential for a backtracking engine, plain here.
    ["^(a+)+$", "aaaa", true],
    ["^(a+)+$", "aaaa!", false],
    ["^(a|a)*$", "aaa", true],
    ["^(a|aa)+$", "aaaaaaaaab", false],
    ["^(a*)*b$", "aaaa", false],
    ["^(.*a){5}$", "aaaaa", true],
    ["^(.*a){5}$", "aaaa", false],
    // Names are matched by code point.
    ["^😀{2}$", "😀😀", true],
    ["^[😀-😂]$", "😁", true],
  ];
  test.each(cases)("/%s/ on %j -> %p", (pattern, name, expected) => {
    expect(compileHbaRegex(pattern).test(name)).toBe(expected);
  });

  test("the source is kept as written", () => {
    expect(compileHbaRegex("^db\\d{2,4}$").source).toBe("^db\\d{2,4}$");
  });
});

describe("compileHbaRegex: linear time", () => {
  test("nested quantifiers against crafted names: 20 names of 40 a's and a mismatch return at once", () => {
    const regex = compileHbaRegex("^(a+)+$");
    const names = Array.from({ length: 20 }, (_, i) => "a".repeat(40 + i) + "!");
    expect(names.map((n) => regex.test(n))).toEqual(names.map(() => false));
  });

  test("other classic catastrophic shapes over long names", () => {
    const long = "a".repeat(5000) + "!";
    for (const p of ["^(a|aa)+$", "^(a|a?)+$", "^(.*a){20}$", "^(\\w+\\s?)*$", "(x+x+)+y"]) {
      expect(compileHbaRegex(p).test(long)).toBe(false);
    }
  });
});

describe("compileHbaRegex: refusals name the offset", () => {
  const cases: [string, string, number, RegExp][] = [
    ["unbalanced (", "^(ab", 1, /parentheses \(\) not balanced/],
    ["unbalanced )", "ab)", 2, /parentheses \(\) not balanced/],
    ["unbalanced [", "a[bc", 1, /brackets \[\] not balanced/],
    ["back reference", "^(a)\\1$", 4, /back references \(\\1\) are not supported/],
    ["lookahead", "^(?=adm)", 1, /lookahead and lookbehind constraints are not supported/],
    ["negative lookahead", "^(?!adm)", 1, /lookahead and lookbehind/],
    ["lookbehind", "(?<=a)b", 0, /lookahead and lookbehind/],
    ["embedded options", "(?i)adm", 0, /only supported as the non-capturing group/],
    ["word boundary \\y", "\\yadm", 0, /escape \\y is not supported/],
    ["JavaScript's \\b", "\\badm", 0, /escape \\b is not supported/],
    ["\\A", "\\Aadm", 0, /escape \\A is not supported/],
    ["hex escape", "\\x41", 0, /escape \\x is not supported/],
    ["trailing backslash", "adm\\", 3, /invalid escape \\ sequence/],
    ["quantifier first", "*adm", 0, /quantifier operand invalid/],
    ["quantifier after |", "a|+b", 2, /quantifier operand invalid/],
    ["quantifier after (", "(?:*a)", 3, /quantifier operand invalid/],
    ["bound first", "{2}a", 0, /quantifier operand invalid/],
    ["quantifier on a quantifier", "a**", 2, /a quantifier cannot follow a quantifier/],
    ["bound on a quantifier", "a+{2}", 2, /a quantifier cannot follow a quantifier/],
    ["quantified anchor", "^*a", 1, /an anchor cannot repeat/],
    ["bound m > n", "a{3,2}", 1, /invalid repetition count\(s\): \{m,n\} needs m <= n/],
    ["bound over 255", "a{256}", 1, /invalid repetition count\(s\): at most 255/],
    ["unterminated bound", "a{2", 1, /invalid repetition count\(s\)/],
    ["bound with junk", "a{2,x}", 1, /invalid repetition count\(s\)/],
    ["POSIX class", "[[:alpha:]]", 1, /POSIX classes/],
    ["reversed range", "[z-a]", 1, /invalid character range/],
    ["range to a class", "[a-\\d]", 3, /\\d is not supported in a bracket expression or as a range end/],
    ["negated class in brackets", "[\\D]", 1, /\\D is not supported in a bracket expression/],
    ["expanded bounds too large", "(a{255}){255}", 0, /too complex \(more than 10000 states/],
    ["groups nested too deep", "(".repeat(101) + ")".repeat(101), 100, /groups nested more than 100 deep/],
  ];
  test.each(cases)("%s", (_name, pattern, index, message) => {
    let err: unknown = null;
    try {
      compileHbaRegex(pattern);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HbaRegexError);
    expect((err as HbaRegexError).message).toMatch(message);
    expect((err as HbaRegexError).index).toBe(index);
  });
});
