// LISTEN / UNLISTEN statements read as PostgreSQL's grammar reads them: the channel is a ColId,
// folded and truncated like any identifier (scan.l, truncate_identifier). Pure: the session
// decides what to do with them; anything this does not recognise is left to the server.

import { lex, TokenKind, type Token } from "./lexer.ts";
import { splitStatements } from "./token-values.ts";

export type ListenOp = { kind: "listen"; channel: string } | { kind: "unlisten"; channel: string } | { kind: "unlisten_all" };

/** One LISTEN / UNLISTEN statement. */
export interface ListenStatement {
  op: ListenOp;
  /** The channel as written when PostgreSQL truncates it (it then sends NOTICE 42622), else null. */
  truncatedFrom: string | null;
}

/** NAMEDATALEN - 1: the longest identifier PostgreSQL keeps, in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Reserved and type_func_name keywords (PostgreSQL 15 kwlist.h): not a ColId, so `LISTEN select`
 * is a syntax error — the server's to report.
 */
const NOT_COL_ID = new Set(
  `all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
  create current_catalog current_date current_role current_time current_timestamp current_user
  default deferrable desc distinct do else end except false fetch for foreign from grant group
  having in initially intersect into lateral leading limit localtime localtimestamp not null offset
  on only or order placing primary references returning select session_user some symmetric table
  then to trailing true union unique user using variadic when where window with
  authorization binary collation concurrently cross current_schema freeze full ilike inner is
  isnull join left like natural notnull outer overlaps right similar tablesample verbose`.split(/\s+/),
);

const utf8 = new TextEncoder();

/**
 * `name` cut to MAX_IDENTIFIER_BYTES of UTF-8 without splitting a character (pg_mbcliplen), or
 * null when it fits.
 */
export function truncateIdentifier(name: string): string | null {
  if (name.length <= MAX_IDENTIFIER_BYTES / 3) return null;
  const bytes = utf8.encode(name);
  if (bytes.length <= MAX_IDENTIFIER_BYTES) return null;
  let cut = MAX_IDENTIFIER_BYTES;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return new TextDecoder().decode(bytes.subarray(0, cut));
}

function statement(sql: string, toks: readonly Token[], from: number, to: number): ListenStatement | null {
  const first = toks[from];
  if (first.kind !== TokenKind.Ident || (first.value !== "listen" && first.value !== "unlisten") || to - from !== 2) return null;
  const t = toks[from + 1];
  if (first.value === "unlisten" && t.kind === TokenKind.Operator && t.value === "*") return { op: { kind: "unlisten_all" }, truncatedFrom: null };
  let written: string;
  if (t.kind === TokenKind.Ident) {
    if (NOT_COL_ID.has(t.value)) return null;
    written = t.value;
  } else if (t.kind === TokenKind.QuotedIdent) {
    // U&"..." escapes are the server's to decode; "" is an error there (zero-length identifier).
    if (sql.charCodeAt(t.start) !== 0x22 || t.value.length === 0) return null;
    written = t.value;
  } else return null;
  const truncated = truncateIdentifier(written);
  const channel = truncated ?? written;
  return { op: first.value === "listen" ? { kind: "listen", channel } : { kind: "unlisten", channel }, truncatedFrom: truncated === null ? null : written };
}

/**
 * The statements of `sql` when it consists of LISTEN / UNLISTEN statements only (at least one),
 * each well-formed; null when anything else is in it, or any of them is not (the server answers).
 */
export function parseListenOnly(sql: string): ListenStatement[] | null {
  const { tokens, unterminated } = lex(sql);
  if (unterminated) return null;
  const ranges = splitStatements(tokens);
  if (ranges.length === 0) return null;
  const out: ListenStatement[] = [];
  for (const r of ranges) {
    const s = statement(sql, tokens, r.from, r.to);
    if (s === null) return null;
    out.push(s);
  }
  return out;
}

/** The well-formed LISTEN / UNLISTEN statements among the others of `sql`, in order. */
export function listenStatementsIn(sql: string): ListenStatement[] {
  const { tokens, unterminated } = lex(sql);
  if (unterminated) return [];
  const out: ListenStatement[] = [];
  for (const r of splitStatements(tokens)) {
    const s = statement(sql, tokens, r.from, r.to);
    if (s !== null) out.push(s);
  }
  return out;
}

/** `channel` as an identifier PostgreSQL reads back unchanged: always quoted. */
export function quoteChannel(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}

const WS = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

function startsWithWord(buf: Uint8Array, at: number, end: number, w: string): boolean {
  if (end - at < w.length + 1) return false;
  for (let k = 0; k < w.length; k++) if ((buf[at + k] | 0x20) !== w.charCodeAt(k)) return false;
  const next = buf[at + w.length];
  return WS(next) || next === 0x22 /* " */ || next === 0x2a /* * */;
}

/**
 * Whether the SQL text at `buf[at, end)` starts (after whitespace) with LISTEN or UNLISTEN: a
 * byte peek, so nobody's batches are decoded just to look for them.
 */
export function startsWithListen(buf: Uint8Array, at: number, end: number): boolean {
  let i = at;
  while (i < end && WS(buf[i])) i++;
  const c = buf[i] | 0x20;
  return (c === 0x6c && startsWithWord(buf, i, end, "listen")) || (c === 0x75 && startsWithWord(buf, i, end, "unlisten"));
}

/**
 * Which of the words NOTIFY (bit 1) and LISTEN (bit 2, also within UNLISTEN) occur anywhere in
 * `buf[at, end)`, ignoring case: a cheap over-approximation (a column notify_at counts too) that
 * spares decoding the text of statements that mention neither.
 */
export function mentionsNotifyOrListen(buf: Uint8Array, at: number, end: number): number {
  let found = 0;
  for (let i = at; i < end - 5; i++) {
    const c = buf[i] | 0x20;
    if (c === 0x6e /* n */) {
      if ((buf[i + 1] | 0x20) === 0x6f && (buf[i + 2] | 0x20) === 0x74 && (buf[i + 3] | 0x20) === 0x69 && (buf[i + 4] | 0x20) === 0x66 && (buf[i + 5] | 0x20) === 0x79) found |= 1;
    } else if (c === 0x6c /* l */) {
      if ((buf[i + 1] | 0x20) === 0x69 && (buf[i + 2] | 0x20) === 0x73 && (buf[i + 3] | 0x20) === 0x74 && (buf[i + 4] | 0x20) === 0x65 && (buf[i + 5] | 0x20) === 0x6e) found |= 2;
    }
  }
  return found;
}
