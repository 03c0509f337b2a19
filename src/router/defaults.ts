// Which settings a SQL string returns to their session reset value (the value the client gave at
// startup, on a dedicated connection): RESET, SET ... TO DEFAULT and its other spellings, DISCARD
// ALL, set_config(name, NULL, ...). Pure over the lexer's tokens; decides nothing about routing.
import { lex, TokenKind, type Token } from "./lexer.ts";
import { splitStatements, stringValue } from "./token-values.ts";
import { parseBool } from "./tokens.ts";

/** One setting returned to its reset value; `name` null means every setting (RESET ALL, DISCARD ALL). */
export interface SettingToDefault {
  /** As written: unquoted parts folded to lower case, quoted ones kept (GUC names are case-insensitive). */
  name: string | null;
  /** SET LOCAL / set_config(..., true): for the rest of the transaction only. */
  local: boolean;
}

/**
 * Cheap gate: a string without any of these words returns nothing to its default. Most SQL
 * carries none of them, so the lexer runs only on the few that might.
 */
const MAYBE = /reset|discard|default|local|names|set_config/i;

/**
 * The settings `sql` returns to their reset value, in order, or null when none. Covers every
 * spelling of PostgreSQL's grammar (gram.y, VariableSetStmt / VariableResetStmt): RESET name,
 * RESET TIME ZONE, RESET ALL, DISCARD ALL, SET [SESSION | LOCAL] name {TO | =} DEFAULT,
 * SET [SESSION | LOCAL] TIME ZONE {DEFAULT | LOCAL}, SET [SESSION | LOCAL] NAMES [DEFAULT]
 * (client_encoding), and set_config('name', NULL, is_local) with literal arguments.
 */
export function settingsToDefault(sql: string): SettingToDefault[] | null {
  if (!MAYBE.test(sql)) return null;
  const { tokens, unterminated } = lex(sql);
  if (unterminated) return null;
  const out: SettingToDefault[] = [];
  for (const r of splitStatements(tokens)) {
    const one = statementToDefault(sql, tokens, r.from, r.to);
    if (one !== null) out.push(one);
    findSetConfigNull(sql, tokens, r.from, r.to, out);
  }
  return out.length > 0 ? out : null;
}

function word(toks: readonly Token[], i: number, to: number): string {
  const t = toks[i];
  return i < to && t !== undefined && t.kind === TokenKind.Ident ? t.value : "";
}

function statementToDefault(sql: string, toks: readonly Token[], from: number, to: number): SettingToDefault | null {
  const first = word(toks, from, to);
  if (first === "discard") return word(toks, from + 1, to) === "all" && from + 2 === to ? { name: null, local: false } : null;
  if (first === "reset") {
    const w = word(toks, from + 1, to);
    if (w === "all" && from + 2 === to) return { name: null, local: false };
    if (w === "time" && word(toks, from + 2, to) === "zone" && from + 3 === to) return { name: "timezone", local: false };
    const name = varName(toks, from + 1, to);
    return name !== null && name.next === to ? { name: name.name, local: false } : null;
  }
  if (first !== "set") return null;
  let i = from + 1;
  let local = false;
  const scope = word(toks, i, to);
  if (scope === "local") {
    local = true;
    i++;
  } else if (scope === "session") {
    // SET SESSION AUTHORIZATION / CHARACTERISTICS are not settings; SET SESSION name is.
    const next = word(toks, i + 1, to);
    if (next === "authorization" || next === "characteristics") return null;
    i++;
  }
  const w = word(toks, i, to);
  if (w === "time" && word(toks, i + 1, to) === "zone") {
    const v = word(toks, i + 2, to);
    return (v === "default" || v === "local") && i + 3 === to ? { name: "timezone", local } : null;
  }
  if (w === "names") {
    // NAMES opt_encoding: DEFAULT or nothing resets client_encoding.
    if (i + 1 === to || (word(toks, i + 1, to) === "default" && i + 2 === to)) return { name: "client_encoding", local };
    return null;
  }
  if (w === "role" || w === "transaction" || w === "constraints" || w === "authorization") return null;
  const name = varName(toks, i, to);
  if (name === null) return null;
  const op = toks[name.next];
  const isTo = word(toks, name.next, to) === "to" || (op !== undefined && name.next < to && op.kind === TokenKind.Operator && op.value === "=");
  // DEFAULT is a reserved word: `TO DEFAULT` is its own production, never part of a value list.
  if (isTo && word(toks, name.next + 1, to) === "default" && name.next + 2 === to) return { name: name.name, local };
  return null;
}

/** var_name: ColId ('.' ColId)*; null when there is none at `i`. */
function varName(toks: readonly Token[], i: number, to: number): { name: string; next: number } | null {
  const part = (k: number): string | null => {
    const t = toks[k];
    if (k >= to || t === undefined) return null;
    return t.kind === TokenKind.Ident || t.kind === TokenKind.QuotedIdent ? t.value : null;
  };
  let name = part(i);
  if (name === null) return null;
  let next = i + 1;
  while (next + 1 < to && toks[next]!.kind === TokenKind.Punct && toks[next]!.value === ".") {
    const p = part(next + 1);
    if (p === null) break;
    name += "." + p;
    next += 2;
  }
  return { name, next };
}

/**
 * set_config('name', NULL, is_local) resets `name` to its reset value (the function is not
 * strict). Only literal arguments are understood: with any other is_local, whether the change
 * outlives the transaction is unknown, and a wrong guess would be worse than none.
 */
function findSetConfigNull(sql: string, toks: readonly Token[], from: number, to: number, out: SettingToDefault[]): void {
  for (let i = from; i + 6 < to; i++) {
    const t = toks[i]!;
    if (t.kind !== TokenKind.Ident || t.value !== "set_config") continue;
    const open = toks[i + 1]!;
    const nameTok = toks[i + 2]!;
    if (open.kind !== TokenKind.Punct || open.value !== "(") continue;
    if (nameTok.kind !== TokenKind.String && nameTok.kind !== TokenKind.EscapeString && nameTok.kind !== TokenKind.DollarString) continue;
    if (!(toks[i + 3]!.kind === TokenKind.Punct && toks[i + 3]!.value === ",") || word(toks, i + 4, to) !== "null") continue;
    if (!(toks[i + 5]!.kind === TokenKind.Punct && toks[i + 5]!.value === ",")) continue;
    const close = toks[i + 7];
    if (i + 7 >= to || close === undefined || close.kind !== TokenKind.Punct || close.value !== ")") continue;
    const arg = toks[i + 6]!;
    const local = arg.kind === TokenKind.Ident ? parseBool(arg.value) : arg.kind === TokenKind.String ? parseBool(stringValue(sql, arg)) : null;
    if (local === null) continue;
    out.push({ name: stringValue(sql, nameTok).trim(), local });
  }
}
