// Query scanning for SELECT / VALUES / TABLE / WITH / DML: writes at any depth, locking clauses,
// SELECT INTO, function-call effects, and the relations a query reads (FROM/JOIN/TABLE items).

import { TokenKind } from "./lexer.ts";
import { stringValue } from "./token-values.ts";
import { NOT_FUNCTION } from "./keywords.ts";
import { builtinEffect } from "./functions.ts";
import { isNodeLocalRelation, isNodeLocalSetting } from "./node-local.ts";
import { isName, isPunct, literalBool, matchParen, matchParenBack, word, type State } from "./tokens.ts";
import type { PinReason } from "./types.ts";
import { FUNCTION, LOCKING, NODE_LOCAL, READ, UNKNOWN, verdict, WRITE, type Verdict } from "./verdicts.ts";

/** What a parenthesis level of a query is, for finding the relations it reads. */
const EXPR = 0;
const QUERY = 1;
const FROM_LIST = 2;

/**
 * SELECT / VALUES / TABLE / WITH / parenthesised queries and DML. One pass finds writes at any
 * depth (writable CTEs), locking clauses, SELECT INTO, function calls, and the relations read in
 * FROM lists (JOINs, commas, parenthesised joins) and TABLE, for node-local ones.
 */
export function classifyQuery(s: State, from: number, to: number): Verdict {
  const toks = s.toks;
  let write = false;
  let locking = false;
  let fnWrite = false;
  let nodeLocal = false;
  let pin: PinReason | null = null;
  let depth = 0;
  // level[depth]: EXPR, QUERY (a FROM here starts a FROM list) or FROM_LIST. Function arguments
  // are EXPR, so extract(year FROM x) or substring(s FROM 2) name no relation.
  const level: number[] = [QUERY];
  // The next token starts a FROM item (after FROM, JOIN, a comma in a FROM list, ONLY, TABLE).
  let item = false;
  // Commas inside ARRAY[a, b] separate no FROM items.
  let brackets = 0;
  for (let i = from; i < to; i++) {
    const t = toks[i]!;
    const kind = t.kind;
    const atItem: boolean = item;
    item = false;
    if (kind === TokenKind.Punct) {
      if (t.value === "(") {
        depth++;
        level[depth] = startsQuery(s, i + 1) ? QUERY : atItem ? FROM_LIST : EXPR;
        item = level[depth] === FROM_LIST;
      } else if (t.value === ")") {
        if (--depth < 0) return UNKNOWN;
      } else if (t.value === ",") {
        item = brackets === 0 && level[depth] === FROM_LIST;
      } else if (t.value === "[") {
        brackets++;
      } else if (t.value === "]") {
        brackets--;
      }
      continue;
    }
    if (kind === TokenKind.Other) return UNKNOWN;
    if (kind !== TokenKind.Ident && kind !== TokenKind.QuotedIdent) continue;
    const next = toks[i + 1];
    const isCall = next !== undefined && i + 1 < to && next.kind === TokenKind.Punct && next.value === "(";
    if (atItem && !isCall && relationItem(s, i, to)) nodeLocal = true;
    if (kind === TokenKind.Ident) {
      const v = t.value;
      switch (v) {
        case "from": {
          // Not IS [NOT] DISTINCT FROM, nor ROWS FROM (functions).
          const prev = word(s, i - 1);
          const w2 = word(s, i - 2);
          if (level[depth] !== EXPR && prev !== "rows" && !(prev === "distinct" && (w2 === "is" || w2 === "not"))) {
            level[depth] = FROM_LIST;
            item = true;
          }
          break;
        }
        case "join":
          item = level[depth] === FROM_LIST;
          break;
        case "only":
          item = atItem;
          break;
        case "table":
          // TABLE name, as a statement or a set operation's operand.
          item = level[depth] !== EXPR && !isPunct(s, i - 1, ".");
          break;
        case "where":
        case "group":
        case "having":
        case "window":
        case "order":
        case "limit":
        case "offset":
        case "fetch":
        case "for":
        case "union":
        case "intersect":
        case "except":
        case "returning":
          if (level[depth] === FROM_LIST) level[depth] = QUERY;
          break;
        case "insert":
        case "delete":
        case "merge":
          if (!isPunct(s, i - 1, ".")) write = true;
          break;
        case "update": {
          if (isPunct(s, i - 1, ".")) break;
          const prev = word(s, i - 1);
          if (prev === "for" || (prev === "key" && word(s, i - 2) === "no")) locking = true;
          else write = true;
          break;
        }
        case "share": {
          const prev = word(s, i - 1);
          if (prev === "for" || (prev === "key" && word(s, i - 2) === "for")) locking = true;
          break;
        }
        case "into": {
          const prev = word(s, i - 1);
          if (prev === "insert" || prev === "merge") break;
          // SELECT ... INTO creates a table.
          write = true;
          if (pin === null && intoIsTemp(s, i + 1)) pin = "temp_table";
          break;
        }
      }
    }
    if (!isCall) continue;
    const effect = callEffect(s, i, from, to);
    if (effect === null) continue;
    if (effect === "write") fnWrite = true;
    else if (effect === "node_local") nodeLocal = true;
    else if (effect !== "read") {
      fnWrite = true;
      if (pin === null) pin = effect;
    }
  }
  if (depth !== 0) return UNKNOWN;
  if (write) return pin === null ? WRITE : verdict("primary", "write", pin);
  if (locking) return pin === null ? LOCKING : verdict("primary", "locking_read", pin);
  if (fnWrite) return pin === null ? FUNCTION : verdict("primary", "function", pin);
  // Pins come only with writes or writing functions, so none is pending here.
  if (nodeLocal) return NODE_LOCAL;
  return READ;
}

/** `(` followed by this starts a subquery: its own FROM lists, not a parenthesised join. */
function startsQuery(s: State, i: number): boolean {
  const w = word(s, i);
  return w === "select" || w === "with" || w === "values" || w === "table";
}

/**
 * A FROM item at i that is not a call: `[schema.]name` is a relation (true when it must be read
 * on the primary); LATERAL and ROWS FROM are syntax. Unknown kinds are recorded in the State.
 */
function relationItem(s: State, i: number, to: number): boolean {
  const t = s.toks[i]!;
  if (t.kind === TokenKind.Ident && (t.value === "lateral" || t.value === "only" || t.value === "rows")) return false;
  let schema: string | null = null;
  let name = t.value;
  let j = i + 1;
  while (j + 1 < to && isPunct(s, j, ".") && isName(s, j + 1)) {
    schema = name;
    name = s.toks[j + 1]!.value;
    j += 2;
  }
  if (isPunct(s, j, "(")) return false; // schema.function(...): a call, see callEffect
  return relationIsNodeLocal(s, schema, name);
}

/** Whether reading relation [schema.]name must happen on the primary, per built-ins and catalog. */
export function relationIsNodeLocal(s: State, schema: string | null, name: string): boolean {
  if (isNodeLocalRelation(schema, name)) return true;
  if (s.ctx.relationKind === undefined) return false;
  const kind = s.ctx.relationKind(name);
  if (kind === undefined) {
    if (!s.unknownRelations.includes(name)) s.unknownRelations.push(name);
    return false;
  }
  return kind !== "other";
}

/** After INTO: TEMP/TEMPORARY, LOCAL|GLOBAL TEMP, or a pg_temp-qualified name. */
function intoIsTemp(s: State, i: number): boolean {
  let w = word(s, i);
  if (w === "local" || w === "global") w = word(s, i + 1);
  return w === "temp" || w === "temporary" || (w === "pg_temp" && isPunct(s, i + 1, "."));
}

type CallEffect = "read" | "write" | "node_local" | PinReason;

/**
 * The routing effect of `name(` at index i, or null when the parenthesis is syntax: a keyword,
 * a type modifier (`::varchar(10)`), an alias column list (`AS t(a)`, `generate_series(1,3) g(i)`,
 * `FROM t x(a)`), a TABLESAMPLE method, or a CTE name with a column list.
 */
function callEffect(s: State, i: number, from: number, to: number): CallEffect | null {
  const toks = s.toks;
  const t = toks[i]!;
  const name = t.value;
  let schema: string | null = null;
  let p = i - 1;
  if (p >= from && isPunct(s, p, ".")) {
    if (!isName(s, p - 1) || p - 1 < from) return null;
    schema = toks[p - 1]!.value;
    p -= 2;
  }
  if (schema === null && t.kind === TokenKind.Ident && NOT_FUNCTION.has(name)) return null;
  if (p >= from) {
    const prev = toks[p]!;
    if (prev.kind === TokenKind.Punct) {
      if (prev.value === "::") return null;
      if (prev.value === ")") {
        const open = matchParenBack(s, p, from);
        if (!(open > from && word(s, open - 1) === "on" && word(s, open - 2) === "distinct")) return null;
      }
      if (prev.value === ",") {
        if (isCteName(s, i + 1, to)) return null;
      }
    } else if (prev.kind === TokenKind.Ident) {
      const pv = prev.value;
      if (pv === "as" || pv === "tablesample" || pv === "into") return null;
      if (pv === "with" || pv === "recursive") {
        if (isCteName(s, i + 1, to)) return null;
      } else if (!NOT_FUNCTION.has(pv)) {
        return null;
      }
    } else if (prev.kind === TokenKind.QuotedIdent) {
      return null;
    }
  }
  return functionEffect(s, schema, name, i + 1, to);
}

/** `name (cols) AS (` or `AS [NOT] MATERIALIZED (`: a CTE definition, not a call. */
function isCteName(s: State, open: number, to: number): boolean {
  const close = matchParen(s, open, to);
  if (close < 0 || word(s, close + 1) !== "as") return false;
  const w = word(s, close + 2);
  return isPunct(s, close + 2, "(") || w === "materialized" || w === "not";
}

/**
 * Built-in tables first for names that change session state (those pins hold whatever the config
 * says), then routing.write_functions, routing.read_functions, the other built-ins, and finally
 * catalog volatility. Config entries match either the bare name or `schema.name`.
 */
function functionEffect(s: State, schema: string | null, name: string, open: number, to: number): CallEffect {
  const builtinScope = schema === null || schema === "pg_catalog";
  const builtin = builtinScope ? builtinEffect(name) : undefined;
  switch (builtin) {
    case "advisory_session":
      return "advisory_lock";
    case "session_other":
      return "dblink_or_other";
    case "set_config":
      return isLocalSetConfig(s, open, to) ? "write" : "set_config";
  }
  const { writeFunctions, readFunctions } = s.ctx;
  const qualified = schema === null ? null : schema + "." + name;
  if (writeFunctions.has(name) || (qualified !== null && writeFunctions.has(qualified))) return "write";
  if (readFunctions.has(name) || (qualified !== null && readFunctions.has(qualified))) return "read";
  if (builtin === "write" || builtin === "read" || builtin === "node_local") return builtin;
  if (builtin === "current_setting") return currentSettingIsNodeLocal(s, open, to) ? "node_local" : "read";
  const vol = s.ctx.volatility(name);
  if (vol === "v") return "write";
  if (vol === undefined && !s.unknown.includes(name)) s.unknown.push(name);
  return "read";
}

/**
 * current_setting(name [, missing_ok]) of a node-local setting, or of a name that is not a
 * literal (a parameter, an expression): that could be transaction_read_only.
 */
function currentSettingIsNodeLocal(s: State, open: number, to: number): boolean {
  const close = matchParen(s, open, to);
  if (close < 0) return true;
  let end = open + 1;
  let depth = 0;
  for (; end < close; end++) {
    const t = s.toks[end]!;
    if (t.kind !== TokenKind.Punct) continue;
    if (t.value === "(" || t.value === "[") depth++;
    else if (t.value === ")" || t.value === "]") depth--;
    else if (t.value === "," && depth === 0) break;
  }
  // 'name' or 'name'::text
  if (end - open === 4 && isPunct(s, open + 2, "::") && isName(s, open + 3)) end = open + 2;
  const t = s.toks[open + 1]!;
  if (end !== open + 2) return true;
  if (t.kind !== TokenKind.String && t.kind !== TokenKind.EscapeString && t.kind !== TokenKind.DollarString) return true;
  return isNodeLocalSetting(stringValue(s.sql, t));
}

/** set_config(name, value, is_local) with a literal true third argument. */
function isLocalSetConfig(s: State, open: number, to: number): boolean {
  const close = matchParen(s, open, to);
  if (close < 0) return false;
  let depth = 0;
  let arg = 0;
  let argStart = open + 1;
  for (let i = open + 1; i < close; i++) {
    const t = s.toks[i]!;
    if (t.kind !== TokenKind.Punct) continue;
    if (t.value === "(" || t.value === "[") depth++;
    else if (t.value === ")" || t.value === "]") depth--;
    else if (t.value === "," && depth === 0) {
      arg++;
      argStart = i + 1;
    }
  }
  return arg === 2 && literalBool(s, argStart, close) === true;
}
