// Token-walking helpers shared by the statement classifiers: lookups by index, parenthesis
// matching, boolean literals. Read-only over a lexed statement; no routing decisions here.

import { TokenKind, type Token } from "./lexer.ts";
import { stringValue } from "./token-values.ts";
import type { ClassifyContext } from "./types.ts";

/** Per-call state shared by the statement classifiers. */
export interface State {
  sql: string;
  toks: Token[];
  ctx: ClassifyContext;
  /** Unknown user functions, deduplicated, in order of appearance. */
  unknown: string[];
  /** Relations of unknown kind, deduplicated, in order of appearance. */
  unknownRelations: string[];
}

export function word(s: State, i: number): string {
  const t = s.toks[i];
  return t !== undefined && t.kind === TokenKind.Ident ? t.value : "";
}

export function isPunct(s: State, i: number, p: string): boolean {
  const t = s.toks[i];
  return t !== undefined && t.kind === TokenKind.Punct && t.value === p;
}

export function isName(s: State, i: number): boolean {
  const t = s.toks[i];
  return t !== undefined && (t.kind === TokenKind.Ident || t.kind === TokenKind.QuotedIdent);
}

/** Index of the `)` matching the `(` at `open`, or -1 if it is not closed before `to`. */
export function matchParen(s: State, open: number, to: number): number {
  let depth = 0;
  for (let i = open; i < to; i++) {
    const t = s.toks[i]!;
    if (t.kind !== TokenKind.Punct) continue;
    if (t.value === "(") depth++;
    else if (t.value === ")" && --depth === 0) return i;
  }
  return -1;
}

/** Index of the `(` matching the `)` at `close`, or -1. */
export function matchParenBack(s: State, close: number, from: number): number {
  let depth = 0;
  for (let i = close; i >= from; i--) {
    const t = s.toks[i]!;
    if (t.kind !== TokenKind.Punct) continue;
    if (t.value === ")") depth++;
    else if (t.value === "(" && --depth === 0) return i;
  }
  return -1;
}

/** PostgreSQL parse_bool: true/false, yes/no, on/off, 1/0 and unique prefixes. */
export function parseBool(text: string): boolean | null {
  const v = text.trim().toLowerCase();
  if (v.length === 0) return null;
  if ("true".startsWith(v) || "yes".startsWith(v) || v === "on" || v === "1") return true;
  if ("false".startsWith(v) || "no".startsWith(v) || (v.length >= 2 && "off".startsWith(v)) || v === "0") return false;
  return null;
}

/** A boolean literal spanning tokens [from, to): true, 'on', 1, true::boolean, ...; null if not one. */
export function literalBool(s: State, from: number, to: number): boolean | null {
  if (to - from === 3 && isPunct(s, from + 1, "::") && isName(s, from + 2)) to = from + 1;
  if (to - from !== 1) return null;
  const t = s.toks[from]!;
  switch (t.kind) {
    case TokenKind.Ident:
      return parseBool(t.value);
    case TokenKind.Number:
    case TokenKind.String:
    case TokenKind.EscapeString:
    case TokenKind.DollarString:
      return parseBool(t.kind === TokenKind.Number ? s.sql.slice(t.start, t.end) : stringValue(s.sql, t));
    default:
      return null;
  }
}

/** Last READ ONLY / READ WRITE among transaction modes in [from, to); null when neither appears. */
export function readOnlyMode(s: State, from: number, to: number): boolean | null {
  let ro: boolean | null = null;
  for (let i = from; i + 1 < to; i++) {
    if (word(s, i) !== "read") continue;
    const next = word(s, i + 1);
    if (next === "only") ro = true;
    else if (next === "write") ro = false;
  }
  return ro;
}
