// Statement verdicts: the Verdict shape and the shared constant verdicts every classifier returns.
// Leaf module of the statement classifiers (statement.ts, query.ts), so they import it acyclically.

import type { PggateSet, PinReason, Reason, Route, TxnEffect } from "./types.ts";

/** One statement's verdict. Shared constant instances are never handed out. */
export interface Verdict {
  route: Route;
  reason: Reason;
  pin: PinReason | null;
  txn: TxnEffect;
  pggateSet: PggateSet | null;
  /** It may change what names resolve to or the types a query yields (see Classification.schema). */
  schema: boolean;
}

export function verdict(route: Route, reason: Reason, pin: PinReason | null = null, txn: TxnEffect = null, schema = false): Verdict {
  return { route, reason, pin, txn, pggateSet: null, schema };
}

export const READ = verdict("replica", "read");
export const WRITE = verdict("primary", "write");
export const DDL = verdict("primary", "ddl", null, null, true);
/** DDL that changes no query's types (TRUNCATE, GRANT, COMMENT, REINDEX, ...). */
export const DDL_SAME_TYPES = verdict("primary", "ddl");
export const UTILITY = verdict("primary", "utility");
export const UNKNOWN = verdict("primary", "unknown");
export const SESSION = verdict("primary", "session");
export const COPY_FROM = verdict("primary", "copy_from");
export const LOCKING = verdict("primary", "locking_read");
export const FUNCTION = verdict("primary", "function");
export const NODE_LOCAL = verdict("primary", "node_local");
export const TXN_OTHER = verdict("primary", "transaction");
export const BEGIN = verdict("primary", "transaction", null, "begin");
export const BEGIN_RO = verdict("replica", "transaction", null, "begin_read_only");
export const COMMIT = verdict("primary", "transaction", null, "commit");
export const ROLLBACK = verdict("primary", "transaction", null, "rollback");
export const SAVEPOINT = verdict("primary", "transaction", null, "savepoint");
export const SET_TXN_RO = verdict("replica", "transaction", null, "set_transaction_read_only");
export const PIN_SET = verdict("primary", "session", "set");
export const PIN_ROLE = verdict("primary", "session", "role");
export const PIN_PREPARE = verdict("primary", "session", "prepare");
export const PIN_LISTEN = verdict("primary", "session", "listen");
export const PIN_HOLD = verdict("primary", "session", "hold_cursor");
export const PIN_LOAD = verdict("primary", "session", "dblink_or_other");
export const TEMP_DDL = verdict("primary", "ddl", "temp_table", null, true);
