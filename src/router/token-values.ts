// What the router reads out of the lexer's tokens: a token's text, a string literal's value, and
// the statements of a multi-statement string. The scanning itself is lexer.ts's.
import { TokenKind, type StatementRange, type Token } from "./lexer.ts";

const QUOTE = 39;
const BACKSLASH = 92;

/** The source text of a token. */
export function tokenText(sql: string, t: Token): string {
  return sql.slice(t.start, t.end);
}

/**
 * The content of a string-literal token: quotes removed and '' (and, for E'', the common backslash
 * escapes) resolved. U&'' escapes and bit strings are returned as written between the quotes.
 */
export function stringValue(sql: string, t: Token): string {
  switch (t.kind) {
    case TokenKind.String: {
      const open = sql.indexOf("'", t.start);
      return unquote(sql.slice(open + 1, closeOf(sql, t)));
    }
    case TokenKind.UnicodeString:
      return unquote(sql.slice(t.start + 3, closeOf(sql, t)));
    case TokenKind.BitString:
      return sql.slice(t.start + 2, closeOf(sql, t));
    case TokenKind.EscapeString:
      return unescapeE(sql.slice(t.start + 2, closeOf(sql, t)));
    case TokenKind.DollarString: {
      const tagEnd = sql.indexOf("$", t.start + 1) + 1;
      const tag = sql.slice(t.start, tagEnd);
      const closed = t.end - tag.length >= tagEnd && sql.startsWith(tag, t.end - tag.length);
      return sql.slice(tagEnd, closed ? t.end - tag.length : t.end);
    }
    default:
      return t.value;
  }
}

/** End of a quoted literal's body: before the closing quote, or the token end if unterminated. */
function closeOf(sql: string, t: Token): number {
  const last = t.end - 1;
  const minBody = t.kind === TokenKind.UnicodeString ? t.start + 3 : t.kind === TokenKind.String && sql.charCodeAt(t.start) === QUOTE ? t.start + 1 : t.start + 2;
  return last >= minBody && sql.charCodeAt(last) === QUOTE ? last : t.end;
}

function unquote(body: string): string {
  return body.indexOf("''") >= 0 ? body.replaceAll("''", "'") : body;
}

function unescapeE(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === QUOTE && body.charCodeAt(i + 1) === QUOTE) {
      out += "'";
      i++;
    } else if (c === BACKSLASH && i + 1 < body.length) {
      const e = body[++i];
      out += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "b" ? "\b" : e === "f" ? "\f" : e;
    } else {
      out += body[i];
    }
  }
  return out;
}

/**
 * Splits tokens into statements on `;` outside parentheses. Inside CREATE statements a
 * `BEGIN ATOMIC ... END` body (SQL-standard function bodies, PostgreSQL 14+) keeps its `;`s, the
 * way psql's scanner counts BEGIN/CASE against END. Empty statements are dropped.
 */
export function splitStatements(tokens: readonly Token[]): StatementRange[] {
  const out: StatementRange[] = [];
  let from = 0;
  let depth = 0;
  let atomic = 0;
  let isCreate = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === TokenKind.Punct) {
      const v = t.value;
      if (v === "(") depth++;
      else if (v === ")") {
        if (depth > 0) depth--;
      } else if (v === ";" && depth === 0 && atomic === 0) {
        if (i > from) out.push({ from, to: i });
        from = i + 1;
        isCreate = false;
      }
    } else if (t.kind === TokenKind.Ident) {
      const v = t.value;
      if (i === from) {
        isCreate = v === "create";
      } else if (isCreate) {
        if (atomic === 0) {
          if (v === "begin") {
            const next = tokens[i + 1];
            if (next !== undefined && next.kind === TokenKind.Ident && next.value === "atomic") atomic = 1;
          }
        } else if (v === "begin" || v === "case") {
          atomic++;
        } else if (v === "end") {
          atomic--;
        }
      }
    }
  }
  if (tokens.length > from) out.push({ from, to: tokens.length });
  return out;
}
