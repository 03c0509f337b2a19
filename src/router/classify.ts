// classify(sql): where a query string may run outside a transaction, and what session or
// transaction state it touches. Pure: no I/O, no caching (cache.ts), no transaction tracking.

import { lex } from "./lexer.ts";
import { splitStatements } from "./token-values.ts";
import { classifyStatement } from "./statement.ts";
import { PIN_SET } from "./verdicts.ts";
import type { State } from "./tokens.ts";
import type { Classification, ClassifyContext, PggateSet, PinReason, Reason, Route, TxnEffect } from "./types.ts";

export type {
  CatalogLookup,
  Classification,
  ClassifyContext,
  PggateSet,
  PinReason,
  Reason,
  RelationKind,
  Route,
  TxnEffect,
  Volatility,
} from "./types.ts";

/**
 * Whether `c` names functions or relations the catalog does not know yet: the caller should
 * have them looked up, and must not keep the verdict (it changes once they are known).
 */
export function awaitsCatalog(c: Classification): boolean {
  return c.unknownFunctions.length > 0 || c.unknownRelations.length > 0;
}

/** A `pggate:primary` / `pggate:replica` hint in any comment; primary wins if both appear. */
function findHint(comments: readonly { text: string }[]): "primary" | "replica" | null {
  let hint: "primary" | "replica" | null = null;
  for (const c of comments) {
    const text = c.text.toLowerCase();
    let at = text.indexOf("pggate:");
    while (at >= 0) {
      let j = at + 7;
      while (text.charCodeAt(j) === 32) j++;
      if (text.startsWith("primary", j) && !isWordChar(text.charCodeAt(j + 7))) return "primary";
      if (text.startsWith("replica", j) && !isWordChar(text.charCodeAt(j + 7))) hint = "replica";
      at = text.indexOf("pggate:", at + 7);
    }
  }
  return hint;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * Classifies a query string (one or many statements). Route semantics:
 * - "replica" only when every statement is a read and nothing pins; an empty string (or only
 *   comments) is a read with statements = 0.
 * - BEGIN is "primary"/"transaction": the session layer decides where a transaction runs. BEGIN
 *   READ ONLY and SET TRANSACTION READ ONLY are "replica"/"transaction". COMMIT, ROLLBACK and
 *   savepoint commands are "primary", except after a BEGIN READ ONLY earlier in the same string.
 * - Unknown functions: route "primary", reason "function", listed in unknownFunctions, only when
 *   nothing else already sends the string to the primary. Relations of unknown kind likewise, in
 *   unknownRelations, with reason "node_local" unless a function is unknown too.
 * - Node-local reads (reason "node_local") go to the primary: the client must see what a primary
 *   connection shows.
 * - A pggate:primary hint forces the primary; a pggate:replica hint relaxes only decisions made
 *   by function calls and node-local reads (someone watching a replica's pg_stat_* views asks for
 *   it so), not writes, DDL, pins, transaction control or unparsable input.
 * - reason is that of the first statement that sent the string to the primary; pin is the first.
 */
export function classify(sql: string, ctx: ClassifyContext): Classification {
  const { tokens, comments, unterminated } = lex(sql);
  const forced = comments.length === 0 ? null : findHint(comments);
  const ranges = splitStatements(tokens);
  const count = ranges.length;
  if (unterminated) {
    return { route: "primary", reason: "unknown", pin: null, txn: null, forced, unknownFunctions: [], unknownRelations: [], pggateSet: null, schema: false, statements: count };
  }
  const s: State = { sql, toks: tokens, ctx, unknown: [], unknownRelations: [] };
  let route: Route = "replica";
  let reason: Reason | null = null;
  let replicaReason: Reason | null = null;
  let pin: PinReason | null = null;
  let txn: TxnEffect = null;
  let pggateSet: PggateSet | null = null;
  let schema = false;
  // Whether every statement sent to the primary went there only for what a replica hint relaxes.
  let relaxable = true;
  let readOnlyTxn = false;
  for (let k = 0; k < count; k++) {
    const r = ranges[k]!;
    let v = classifyStatement(s, r.from, r.to);
    if (v.schema) schema = true;
    if (v.pggateSet !== null) {
      if (count === 1) pggateSet = v.pggateSet;
      else v = PIN_SET;
    }
    let stmtRoute = v.route;
    if (v.txn !== null) {
      txn = v.txn;
      if (v.txn === "begin_read_only") readOnlyTxn = true;
      else if (v.txn === "begin") readOnlyTxn = false;
      else if (readOnlyTxn && (v.txn === "commit" || v.txn === "rollback" || v.txn === "savepoint")) {
        stmtRoute = "replica";
        if (v.txn !== "savepoint") readOnlyTxn = false;
      }
    }
    if (pin === null) pin = v.pin;
    if (stmtRoute === "primary") {
      if (reason === null) reason = v.reason;
      route = "primary";
      if ((v.reason !== "function" && v.reason !== "node_local") || v.pin !== null) relaxable = false;
    } else if (replicaReason === null && v.reason !== "read") {
      replicaReason = v.reason;
    }
  }
  let unknownFunctions: string[] = [];
  let unknownRelations: string[] = [];
  if (route === "replica") {
    reason = replicaReason ?? "read";
    if (s.unknownRelations.length > 0) {
      route = "primary";
      reason = "node_local";
      unknownRelations = s.unknownRelations;
    }
    if (s.unknown.length > 0) {
      route = "primary";
      reason = "function";
      unknownFunctions = s.unknown;
    }
  }
  const pending = unknownFunctions.length > 0 || unknownRelations.length > 0;
  if (forced === "primary" && route === "replica") {
    route = "primary";
    reason = "forced";
  } else if (forced === "primary" && pending) {
    reason = "forced";
    unknownFunctions = [];
    unknownRelations = [];
  } else if (forced === "replica" && route === "primary" && relaxable && (reason === "function" || reason === "node_local")) {
    route = "replica";
    reason = "forced";
    unknownFunctions = [];
    unknownRelations = [];
  }
  return { route, reason: reason ?? "read", pin, txn, forced, unknownFunctions, unknownRelations, pggateSet, schema, statements: count };
}
