// SQL tokenizer following PostgreSQL's lexical rules (src/backend/parser/scan.l) and statement
// splitting on top-level `;`. Walks char codes; never throws; never decides routing.

import { internedWord } from "./intern.ts";

/** Token kinds. Literal kinds carry an empty `value`; read them with `tokenText` / `stringValue`. */
export const TokenKind = {
  /** Unquoted identifier or keyword; `value` is lower-cased (ASCII only, as PostgreSQL folds). */
  Ident: 1,
  /** "..." or U&"..."; `value` is the content with "" collapsed, case preserved. */
  QuotedIdent: 2,
  /** '...' and N'...' (standard_conforming_strings = on: backslash is an ordinary char). */
  String: 3,
  /** E'...' with backslash escapes. */
  EscapeString: 4,
  /** U&'...'. */
  UnicodeString: 5,
  /** B'...' and X'...'. */
  BitString: 6,
  /** $$...$$ and $tag$...$tag$. */
  DollarString: 7,
  Number: 8,
  /** $1, $2, ...; `value` is the text. */
  Param: 9,
  /** A run of operator characters; `value` is the text. */
  Operator: 10,
  /** One of ; ( ) , . [ ] : :: ; `value` is the text. */
  Punct: 11,
  /** A character SQL has no use for (`\`, `{`, a lone `$`): makes a statement unclassifiable. */
  Other: 12,
} as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export interface Token {
  kind: TokenKind;
  /** UTF-16 offsets into the lexed string, end exclusive. */
  start: number;
  end: number;
  value: string;
}

export interface Comment {
  start: number;
  end: number;
  /** The body without `--`, `/*`, `*\/`. */
  text: string;
  block: boolean;
}

export interface LexResult {
  tokens: Token[];
  comments: Comment[];
  /** A string, quoted identifier, dollar quote or block comment ran to the end of input. */
  unterminated: boolean;
}

/** Token index range [from, to) of one statement, without its `;`. */
export interface StatementRange {
  from: number;
  to: number;
}

const TAB = 9;
const CR = 13;
const LF = 10;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const DOLLAR = 36;
const PERCENT = 37;
const AMP = 38;
const QUOTE = 39;
const LPAREN = 40;
const RPAREN = 41;
const STAR = 42;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const SLASH = 47;
const D0 = 48;
const D9 = 57;
const COLON = 58;
const SEMI = 59;
const LT = 60;
const EQ = 61;
const GT = 62;
const QMARK = 63;
const AT = 64;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const CARET = 94;
const UNDERSCORE = 95;
const BACKTICK = 96;
const PIPE = 124;
const TILDE = 126;

function isDigit(c: number): boolean {
  return c >= D0 && c <= D9;
}

/** scan.l ident_start: [A-Za-z\200-\377_]. */
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === UNDERSCORE || c >= 128;
}

/** scan.l ident_cont adds digits and `$`. */
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR;
}

/** scan.l dolq_cont: like ident_cont but without `$`. */
function isDollarTagCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/** scan.l self/op_chars, minus the self chars handled as punctuation. */
function isOpChar(c: number): boolean {
  switch (c) {
    case PLUS: case MINUS: case STAR: case SLASH: case LT: case GT: case EQ: case TILDE: case BANG:
    case AT: case HASH: case PERCENT: case CARET: case AMP: case PIPE: case BACKTICK: case QMARK:
      return true;
    default:
      return false;
  }
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Index just past the closing quote of a literal whose body starts at `i`, or -1 at EOF.
 * `doubling`: a doubled quote is an escaped quote. `backslash`: `\x` escapes x (E'' strings).
 */
function scanQuoted(sql: string, i: number, quote: number, doubling: boolean, backslash: boolean): number {
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === quote) {
      if (doubling && sql.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += backslash && c === BACKSLASH ? 2 : 1;
  }
  return -1;
}

/** Lower-cases ASCII letters only, like PostgreSQL's downcase_identifier for multibyte encodings. */
function foldIdentifier(text: string, hasNonAscii: boolean): string {
  if (!hasNonAscii) return text.toLowerCase();
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : text[i];
  }
  return out;
}

export function lex(sql: string): LexResult {
  const tokens: Token[] = [];
  const comments: Comment[] = [];
  let unterminated = false;
  const n = sql.length;
  let i = 0;

  while (i < n) {
    const c = sql.charCodeAt(i);
    const c1 = sql.charCodeAt(i + 1);

    if (c === SPACE || (c >= TAB && c <= CR)) {
      i++;
      continue;
    }

    if (c === MINUS && c1 === MINUS) {
      let j = i + 2;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === LF || d === CR) break;
        j++;
      }
      comments.push({ start: i, end: j, text: sql.slice(i + 2, j), block: false });
      i = j;
      continue;
    }

    if (c === SLASH && c1 === STAR) {
      // Block comments nest in PostgreSQL, unlike the SQL standard's C-style comments.
      let depth = 1;
      let j = i + 2;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === SLASH && sql.charCodeAt(j + 1) === STAR) {
          depth++;
          j += 2;
        } else if (d === STAR && sql.charCodeAt(j + 1) === SLASH) {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else {
          j++;
        }
      }
      if (depth > 0) {
        unterminated = true;
        comments.push({ start: i, end: n, text: sql.slice(i + 2, n), block: true });
        i = n;
      } else {
        comments.push({ start: i, end: j, text: sql.slice(i + 2, j - 2), block: true });
        i = j;
      }
      continue;
    }

    if (isIdentStart(c)) {
      // Literal prefixes: E'', B'', X'', N'', U&'' and U&"".
      if (c1 === QUOTE) {
        const p = c | 0x20;
        if (p === 101 /* e */) {
          const end = scanQuoted(sql, i + 2, QUOTE, true, true);
          if (end < 0) unterminated = true;
          tokens.push({ kind: TokenKind.EscapeString, start: i, end: end < 0 ? n : end, value: "" });
          i = end < 0 ? n : end;
          continue;
        }
        if (p === 98 /* b */ || p === 120 /* x */) {
          const end = scanQuoted(sql, i + 2, QUOTE, false, false);
          if (end < 0) unterminated = true;
          tokens.push({ kind: TokenKind.BitString, start: i, end: end < 0 ? n : end, value: "" });
          i = end < 0 ? n : end;
          continue;
        }
        if (p === 110 /* n */) {
          const end = scanQuoted(sql, i + 2, QUOTE, true, false);
          if (end < 0) unterminated = true;
          tokens.push({ kind: TokenKind.String, start: i, end: end < 0 ? n : end, value: "" });
          i = end < 0 ? n : end;
          continue;
        }
      }
      if ((c | 0x20) === 117 /* u */ && c1 === AMP) {
        const c2 = sql.charCodeAt(i + 2);
        if (c2 === QUOTE) {
          const end = scanQuoted(sql, i + 3, QUOTE, true, false);
          if (end < 0) unterminated = true;
          tokens.push({ kind: TokenKind.UnicodeString, start: i, end: end < 0 ? n : end, value: "" });
          i = end < 0 ? n : end;
          continue;
        }
        if (c2 === DQUOTE) {
          i = quotedIdent(sql, i, i + 3, tokens);
          if (i < 0) {
            unterminated = true;
            i = n;
          }
          continue;
        }
      }
      let j = i + 1;
      let hasUpper = c >= 65 && c <= 90;
      let hasNonAscii = c >= 128;
      let hash = hasUpper ? c + 32 : c;
      while (j < n) {
        let d = sql.charCodeAt(j);
        if (!isIdentCont(d)) break;
        if (d >= 65 && d <= 90) {
          hasUpper = true;
          d += 32;
        } else if (d >= 128) {
          hasNonAscii = true;
        }
        hash = (Math.imul(hash, 31) + d) | 0;
        j++;
      }
      // Known words come from the intern table: no slice, no toLowerCase on the hot path.
      const value = internedWord(sql, i, j, hash) ?? (hasUpper ? foldIdentifier(sql.slice(i, j), hasNonAscii) : sql.slice(i, j));
      tokens.push({ kind: TokenKind.Ident, start: i, end: j, value });
      i = j;
      continue;
    }

    if (isDigit(c) || (c === DOT && isDigit(c1))) {
      const end = scanNumber(sql, i);
      tokens.push({ kind: TokenKind.Number, start: i, end, value: "" });
      i = end;
      continue;
    }

    switch (c) {
      case QUOTE: {
        const end = scanQuoted(sql, i + 1, QUOTE, true, false);
        if (end < 0) unterminated = true;
        tokens.push({ kind: TokenKind.String, start: i, end: end < 0 ? n : end, value: "" });
        i = end < 0 ? n : end;
        continue;
      }
      case DQUOTE: {
        const end = quotedIdent(sql, i, i + 1, tokens);
        if (end < 0) {
          unterminated = true;
          i = n;
        } else {
          i = end;
        }
        continue;
      }
      case DOLLAR: {
        if (isDigit(c1)) {
          let j = i + 2;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
          tokens.push({ kind: TokenKind.Param, start: i, end: j, value: sql.slice(i, j) });
          i = j;
          continue;
        }
        if (c1 === DOLLAR || (isIdentStart(c1) && c1 !== DOLLAR)) {
          let k = i + 1;
          while (k < n && isDollarTagCont(sql.charCodeAt(k))) k++;
          if (sql.charCodeAt(k) === DOLLAR) {
            const tag = sql.slice(i, k + 1);
            const close = sql.indexOf(tag, k + 1);
            if (close < 0) {
              unterminated = true;
              tokens.push({ kind: TokenKind.DollarString, start: i, end: n, value: "" });
              i = n;
            } else {
              tokens.push({ kind: TokenKind.DollarString, start: i, end: close + tag.length, value: "" });
              i = close + tag.length;
            }
            continue;
          }
        }
        // scan.l dolqfailed: a lone `$` is not SQL.
        tokens.push({ kind: TokenKind.Other, start: i, end: i + 1, value: "$" });
        i++;
        continue;
      }
      case SEMI:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: ";" });
        i++;
        continue;
      case LPAREN:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: "(" });
        i++;
        continue;
      case RPAREN:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: ")" });
        i++;
        continue;
      case COMMA:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: "," });
        i++;
        continue;
      case DOT:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: "." });
        i++;
        continue;
      case LBRACKET:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: "[" });
        i++;
        continue;
      case RBRACKET:
        tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: "]" });
        i++;
        continue;
      case COLON:
        if (c1 === COLON) {
          tokens.push({ kind: TokenKind.Punct, start: i, end: i + 2, value: "::" });
          i += 2;
        } else if (c1 === EQ) {
          tokens.push({ kind: TokenKind.Operator, start: i, end: i + 2, value: ":=" });
          i += 2;
        } else {
          tokens.push({ kind: TokenKind.Punct, start: i, end: i + 1, value: ":" });
          i++;
        }
        continue;
    }

    if (isOpChar(c)) {
      // An operator never contains the start of a comment (scan.l {operator} rule).
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (!isOpChar(d)) break;
        const e = sql.charCodeAt(j + 1);
        if ((d === MINUS && e === MINUS) || (d === SLASH && e === STAR)) break;
        j++;
      }
      tokens.push({ kind: TokenKind.Operator, start: i, end: j, value: sql.slice(i, j) });
      i = j;
      continue;
    }

    tokens.push({ kind: TokenKind.Other, start: i, end: i + 1, value: sql[i] ?? "" });
    i++;
  }

  return { tokens, comments, unterminated };
}

/** Numbers per scan.l: decimal, 0x/0o/0b integers, underscores, fractions, exponents. */
function scanNumber(sql: string, i: number): number {
  const n = sql.length;
  const c1 = sql.charCodeAt(i + 1) | 0x20;
  if (sql.charCodeAt(i) === D0 && (c1 === 120 || c1 === 111 || c1 === 98)) {
    let j = i + 2;
    while (j < n) {
      const d = sql.charCodeAt(j);
      if (!isHexDigit(d) && d !== UNDERSCORE) break;
      j++;
    }
    if (j > i + 2) return j;
  }
  let j = i;
  while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === UNDERSCORE)) j++;
  // `1..2` is not a fraction (scan.l numericfail).
  if (sql.charCodeAt(j) === DOT && sql.charCodeAt(j + 1) !== DOT) {
    j++;
    while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === UNDERSCORE)) j++;
  }
  if ((sql.charCodeAt(j) | 0x20) === 101 /* e */) {
    const s = sql.charCodeAt(j + 1);
    if (isDigit(s)) j += 2;
    else if ((s === PLUS || s === MINUS) && isDigit(sql.charCodeAt(j + 2))) j += 3;
    else return j;
    while (j < n && isDigit(sql.charCodeAt(j))) j++;
  }
  return j;
}

/** Pushes a quoted identifier whose body starts at `body`; returns the end index or -1 at EOF. */
function quotedIdent(sql: string, start: number, body: number, tokens: Token[]): number {
  const end = scanQuoted(sql, body, DQUOTE, true, false);
  const stop = end < 0 ? sql.length : end - 1;
  let value = sql.slice(body, stop);
  if (value.indexOf('""') >= 0) value = value.replaceAll('""', '"');
  tokens.push({ kind: TokenKind.QuotedIdent, start, end: end < 0 ? sql.length : end, value });
  return end;
}
