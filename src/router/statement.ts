// Per-statement routing verdicts: dispatch on the first keyword, and the utility statements
// (SHOW, EXPLAIN, COPY, CREATE, DECLARE, BEGIN, SET/RESET). Queries are scanned in query.ts.
// Pure over tokens: catalog facts come from the ClassifyContext, unknown ones are only recorded.

import { TokenKind } from "./lexer.ts";
import { stringValue } from "./token-values.ts";
import { isNodeLocalSetting } from "./node-local.ts";
import { isName, isPunct, literalBool, matchParen, readOnlyMode, word, type State } from "./tokens.ts";
import type { PggateSet } from "./types.ts";
import { classifyQuery, relationIsNodeLocal } from "./query.ts";
import {
  BEGIN,
  BEGIN_RO,
  COMMIT,
  COPY_FROM,
  DDL,
  DDL_SAME_TYPES,
  NODE_LOCAL,
  PIN_HOLD,
  PIN_LISTEN,
  PIN_LOAD,
  PIN_PREPARE,
  PIN_ROLE,
  PIN_SET,
  READ,
  ROLLBACK,
  SAVEPOINT,
  SESSION,
  SET_TXN_RO,
  TEMP_DDL,
  TXN_OTHER,
  UNKNOWN,
  UTILITY,
  WRITE,
  type Verdict,
} from "./verdicts.ts";

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
    case "import":
      return DDL;
    case "truncate":
    case "comment":
    case "grant":
    case "revoke":
    case "reindex":
    case "cluster":
    case "security":
    case "reassign":
      return DDL_SAME_TYPES;
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
    return { route: "primary", reason: "session", pin: null, txn: null, pggateSet: { name: pggate.name, value }, schema: false };
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
