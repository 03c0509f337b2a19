// Per-statement routing verdicts: dispatch on the first keyword, then query scanning (writes at
// any depth, locking clauses, function calls, relations read) and the utility statements. Pure
// over tokens: catalog facts come from the ClassifyContext, unknown ones are only recorded.

import { stringValue, TokenKind } from "./lexer.ts";
import { NOT_FUNCTION } from "./keywords.ts";
import { builtinEffect } from "./functions.ts";
import { isNodeLocalRelation, isNodeLocalSetting } from "./node-local.ts";
import {
  isName,
  isPunct,
  literalBool,
  matchParen,
  matchParenBack,
  readOnlyMode,
  word,
  type State,
} from "./tokens.ts";
import type { PggateSet, PinReason, Reason, Route, TxnEffect } from "./types.ts";

/** One statement's verdict. Shared constant instances are never handed out. */
export interface Verdict {
  route: Route;
  reason: Reason;
  pin: PinReason | null;
  txn: TxnEffect;
  pggateSet: PggateSet | null;
}

function verdict(route: Route, reason: Reason, pin: PinReason | null = null, txn: TxnEffect = null): Verdict {
  return { route, reason, pin, txn, pggateSet: null };
}

const READ = verdict("replica", "read");
const WRITE = verdict("primary", "write");
const DDL = verdict("primary", "ddl");
const UTILITY = verdict("primary", "utility");
const UNKNOWN = verdict("primary", "unknown");
const SESSION = verdict("primary", "session");
const COPY_FROM = verdict("primary", "copy_from");
const LOCKING = verdict("primary", "locking_read");
const FUNCTION = verdict("primary", "function");
const NODE_LOCAL = verdict("primary", "node_local");
const TXN_OTHER = verdict("primary", "transaction");
const BEGIN = verdict("primary", "transaction", null, "begin");
const BEGIN_RO = verdict("replica", "transaction", null, "begin_read_only");
const COMMIT = verdict("primary", "transaction", null, "commit");
const ROLLBACK = verdict("primary", "transaction", null, "rollback");
const SAVEPOINT = verdict("primary", "transaction", null, "savepoint");
const SET_TXN_RO = verdict("replica", "transaction", null, "set_transaction_read_only");
export const PIN_SET = verdict("primary", "session", "set");
const PIN_ROLE = verdict("primary", "session", "role");
const PIN_PREPARE = verdict("primary", "session", "prepare");
const PIN_LISTEN = verdict("primary", "session", "listen");
const PIN_HOLD = verdict("primary", "session", "hold_cursor");
const PIN_LOAD = verdict("primary", "session", "dblink_or_other");
const TEMP_DDL = verdict("primary", "ddl", "temp_table");

export function classifyStatement(s: State, from: number, to: number): Verdict {
  const first = s.toks[from]!;
  if (first.kind === TokenKind.Punct && first.value === "(") return classifyQuery(s, from, to);
  if (first.kind !== TokenKind.Ident) return UNKNOWN;
  switch (first.value) {
    case "select":
    case "values":
    case "table":
    case "with":
    case "insert":
    case "update":
    case "delete":
    case "merge":
      return classifyQuery(s, from, to);
    case "show":
      return hasOther(s, from, to) ? UNKNOWN : classifyShow(s, from + 1);
    case "explain":
      return classifyExplain(s, from, to);
    case "copy":
      return classifyCopy(s, from, to);
    case "create":
      return classifyCreate(s, from, to);
    case "alter":
    case "drop":
    case "truncate":
    case "comment":
    case "grant":
    case "revoke":
    case "reindex":
    case "cluster":
    case "security":
    case "import":
    case "reassign":
      return DDL;
    case "vacuum":
    case "analyze":
    case "analyse":
    case "checkpoint":
    case "lock":
    case "refresh":
      return UTILITY;
    case "call":
    case "do":
    case "notify":
      return WRITE;
    case "listen":
      return PIN_LISTEN;
    case "load":
      return PIN_LOAD;
    case "unlisten":
    case "execute":
    case "deallocate":
    case "fetch":
    case "move":
    case "close":
    case "discard":
      return SESSION;
    case "prepare":
      return word(s, from + 1) === "transaction" ? TXN_OTHER : PIN_PREPARE;
    case "declare":
      return classifyDeclare(s, from, to);
    case "set":
      return classifySet(s, from, to, false);
    case "reset":
      return classifySet(s, from, to, true);
    case "begin":
      return classifyBegin(s, from + 1, to);
    case "start":
      return word(s, from + 1) === "transaction" ? classifyBegin(s, from + 1, to) : UNKNOWN;
    case "commit":
    case "end":
      return word(s, from + 1) === "prepared" ? TXN_OTHER : COMMIT;
    case "rollback":
    case "abort": {
      let i = from + 1;
      const w = word(s, i);
      if (w === "work" || w === "transaction") i++;
      if (word(s, i) === "to") return SAVEPOINT;
      return word(s, i) === "prepared" ? TXN_OTHER : ROLLBACK;
    }
    case "savepoint":
    case "release":
      return SAVEPOINT;
    default:
      return UNKNOWN;
  }
}

function hasOther(s: State, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.toks[i]!.kind === TokenKind.Other) return true;
  return false;
}

/** SHOW ALL and SHOW of a node-local setting (transaction_read_only, ...) ask the primary. */
function classifyShow(s: State, i: number): Verdict {
  const t = s.toks[i];
  if (t === undefined || !isName(s, i)) return READ;
  if (t.kind === TokenKind.Ident && t.value === "all") return NODE_LOCAL;
  return !isPunct(s, i + 1, ".") && isNodeLocalSetting(t.value) ? NODE_LOCAL : READ;
}

/** What a parenthesis level of a query is, for finding the relations it reads. */
const EXPR = 0;
const QUERY = 1;
const FROM_LIST = 2;

/**
 * SELECT / VALUES / TABLE / WITH / parenthesised queries and DML. One pass finds writes at any
 * depth (writable CTEs), locking clauses, SELECT INTO, function calls, and the relations read in
 * FROM lists (JOINs, commas, parenthesised joins) and TABLE, for node-local ones.
 */
function classifyQuery(s: State, from: number, to: number): Verdict {
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
function relationIsNodeLocal(s: State, schema: string | null, name: string): boolean {
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

/** CREATE: DDL; temporary objects pin the session. */
function classifyCreate(s: State, from: number, to: number): Verdict {
  let i = from + 1;
  if (word(s, i) === "or" && word(s, i + 1) === "replace") i += 2;
  let w = word(s, i);
  if (w === "global" || w === "local") w = word(s, i + 1);
  if (w === "temp" || w === "temporary") {
    // ON COMMIT DROP: the table is gone when its transaction ends, so nothing outlives it.
    for (let j = i + 1; j + 2 < to; j++) {
      if (word(s, j) === "on" && word(s, j + 1) === "commit" && word(s, j + 2) === "drop") return DDL;
    }
    return TEMP_DDL;
  }
  // Objects created in, or (for views) depending on, pg_temp are temporary too.
  for (let j = i; j + 1 < to; j++) {
    if (word(s, j) === "pg_temp" && isPunct(s, j + 1, ".")) return TEMP_DDL;
  }
  return DDL;
}

/** DECLARE name ... CURSOR [WITH HOLD] FOR query: only WITH HOLD outlives the transaction. */
function classifyDeclare(s: State, from: number, to: number): Verdict {
  for (let i = from + 2; i < to; i++) {
    const w = word(s, i);
    if (w === "for") break;
    if (w === "with" && word(s, i + 1) === "hold") return PIN_HOLD;
  }
  return SESSION;
}

function classifyBegin(s: State, from: number, to: number): Verdict {
  return readOnlyMode(s, from, to) === true ? BEGIN_RO : BEGIN;
}

/**
 * EXPLAIN [ANALYZE] [VERBOSE] stmt | EXPLAIN (option [value], ...) stmt. Only ANALYZE executes
 * the statement; without it any explainable statement is a read.
 */
function classifyExplain(s: State, from: number, to: number): Verdict {
  let i = from + 1;
  let analyze = false;
  if (isPunct(s, i, "(")) {
    const close = matchParen(s, i, to);
    if (close < 0) return UNKNOWN;
    let j = i + 1;
    while (j < close) {
      const name = word(s, j);
      let end = j + 1;
      while (end < close && !isPunct(s, end, ",")) end++;
      if (name === "analyze" || name === "analyse") {
        // An unrecognised value counts as ANALYZE on: the server either rejects it or executes.
        analyze = end === j + 1 || literalBool(s, j + 1, end) !== false;
      }
      j = end + 1;
    }
    i = close + 1;
  } else {
    for (;;) {
      const w = word(s, i);
      if (w === "analyze" || w === "analyse") analyze = true;
      else if (w !== "verbose") break;
      i++;
    }
  }
  if (i >= to) return UNKNOWN;
  if (analyze) return classifyStatement(s, i, to);
  const inner = classifyStatement({ sql: s.sql, toks: s.toks, ctx: s.ctx, unknown: [], unknownRelations: [] }, i, to);
  if (inner.reason === "unknown") return UNKNOWN;
  // EXPLAIN EXECUTE needs the prepared statement, which lives on the client's primary connection.
  if (word(s, i) === "execute") return SESSION;
  return READ;
}

/** COPY table [(cols)] FROM|TO ..., COPY (query) TO ...; only TO STDOUT may run on a replica. */
function classifyCopy(s: State, from: number, to: number): Verdict {
  let i = from + 1;
  if (word(s, i) === "binary") i++;
  if (isPunct(s, i, "(")) {
    const close = matchParen(s, i, to);
    if (close < 0 || close === i + 1 || word(s, close + 1) !== "to") return UNKNOWN;
    const inner = classifyStatement(s, i + 1, close);
    if (inner.route === "primary") return inner;
    return word(s, close + 2) === "stdout" ? READ : UTILITY;
  }
  if (!isName(s, i)) return UNKNOWN;
  let schema: string | null = null;
  let name = s.toks[i]!.value;
  i++;
  while (isPunct(s, i, ".") && isName(s, i + 1)) {
    schema = name;
    name = s.toks[i + 1]!.value;
    i += 2;
  }
  if (isPunct(s, i, "(")) {
    const close = matchParen(s, i, to);
    if (close < 0) return UNKNOWN;
    i = close + 1;
  }
  const w = word(s, i);
  if (w === "from") return COPY_FROM;
  if (w !== "to") return UNKNOWN;
  if (word(s, i + 1) !== "stdout") return UTILITY;
  // An unlogged table's rows exist only on the primary.
  return relationIsNodeLocal(s, schema, name) ? NODE_LOCAL : READ;
}

/**
 * SET / RESET. Pins unless LOCAL or transaction-scoped; SET ROLE and SESSION AUTHORIZATION pin as
 * "role"; `SET pggate.route|min_lsn` fills pggateSet instead (classify() keeps it only when it is
 * the sole statement).
 */
function classifySet(s: State, from: number, to: number, isReset: boolean): Verdict {
  let i = from + 1;
  let local = false;
  if (!isReset) {
    const w = word(s, i);
    if (w === "local") {
      local = true;
      i++;
    } else if (w === "session") {
      const w2 = word(s, i + 1);
      if (w2 === "characteristics") return PIN_SET;
      if (w2 !== "authorization") i++;
    }
  }
  const w = word(s, i);
  if (!isReset && w === "transaction") {
    return readOnlyMode(s, i + 1, to) === true ? SET_TXN_RO : TXN_OTHER;
  }
  if (!isReset && w === "constraints") return TXN_OTHER;
  if (w === "role" || (w === "session" && word(s, i + 1) === "authorization")) return local ? SESSION : PIN_ROLE;
  if (i >= to) return UNKNOWN;
  const pggate = pggateName(s, i, to);
  if (pggate !== null && !local) {
    const value = isReset ? "default" : pggateValue(s, pggate.next, to, pggate.name);
    if (value === null) return UNKNOWN;
    return { route: "primary", reason: "session", pin: null, txn: null, pggateSet: { name: pggate.name, value } };
  }
  return local ? SESSION : PIN_SET;
}

/** `pggate.route` / `pggate.min_lsn` (any quoting) at index i. */
function pggateName(s: State, i: number, to: number): { name: PggateSet["name"]; next: number } | null {
  let full: string;
  let next: number;
  if (isName(s, i) && isPunct(s, i + 1, ".") && isName(s, i + 2) && i + 2 < to) {
    full = s.toks[i]!.value + "." + s.toks[i + 2]!.value;
    next = i + 3;
  } else if (s.toks[i]!.kind === TokenKind.QuotedIdent) {
    full = s.toks[i]!.value;
    next = i + 1;
  } else {
    return null;
  }
  full = full.toLowerCase();
  if (full === "pggate.route") return { name: "route", next };
  if (full === "pggate.min_lsn") return { name: "min_lsn", next };
  return null;
}

/** The value after `=` or `TO`: a literal's content, a word, or the raw text (e.g. 0/16B3748). */
function pggateValue(s: State, i: number, to: number, name: PggateSet["name"]): string | null {
  const t = s.toks[i];
  if (t === undefined || i >= to) return null;
  if (!(t.kind === TokenKind.Operator && t.value === "=") && word(s, i) !== "to") return null;
  i++;
  if (i >= to) return null;
  const first = s.toks[i]!;
  let value: string;
  if (to - i === 1 && first.kind !== TokenKind.Number && first.kind !== TokenKind.Operator) {
    value = first.kind === TokenKind.Ident || first.kind === TokenKind.QuotedIdent ? first.value : stringValue(s.sql, first);
  } else {
    value = s.sql.slice(first.start, s.toks[to - 1]!.end);
  }
  value = value.trim();
  return name === "route" ? value.toLowerCase() : value;
}
