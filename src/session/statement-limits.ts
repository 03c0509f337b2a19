// What a client's prepared statements may hold: at most limits.max_prepared_statements of them
// and limits.max_prepared_statement_bytes together, and only while the process-wide memory budget
// (limits.max_buffered_bytes) has room. Pure: says what a statement costs and why one more is
// refused; ClientStatements keeps the count and fails the Parse.
import { error, type PgError, SqlState } from "../errors/index.ts";

/** Per statement beyond its bytes: the map entry, the statement object, its server name. */
export const STATEMENT_OVERHEAD_BYTES = 200;

/** The per-client caps (0 = no cap), as in the config's `limits`. */
export interface StatementCaps {
  readonly maxPreparedStatements: number;
  readonly maxPreparedStatementBytes: number;
}

/**
 * What keeping a statement costs: the Parse body after the name (query text and parameter
 * types) copied, its text once more when it is kept decoded for routing, and the overhead.
 */
export function statementBytes(nameLength: number, restLength: number, keepsText: boolean): number {
  return STATEMENT_OVERHEAD_BYTES + nameLength + restLength * (keepsText ? 2 : 1);
}

/**
 * Why `adding` more statements of `bytes` in all may not be kept by a client that keeps `kept`,
 * or null when they may. Past a per-client cap: 54000 program_limit_exceeded (a configured
 * limit, as PostgreSQL's own "too many ..." errors; retrying will not help until the client
 * closes some). No room in the budget: 53200 out_of_memory, as PostgreSQL when an allocation
 * fails (class 53, insufficient resources: it may succeed later).
 */
export function refusal(
  kept: { readonly count: number; readonly bytes: number },
  adding: number,
  bytes: number,
  caps: StatementCaps,
  fits: (bytes: number) => boolean,
): PgError | null {
  const maxCount = caps.maxPreparedStatements;
  if (maxCount > 0 && kept.count + adding > maxCount) {
    return error(
      SqlState.ProgramLimitExceeded,
      `too many prepared statements: this session has ${kept.count} (limits.max_prepared_statements = ${maxCount})`,
      "Close or DEALLOCATE statements the session no longer uses.",
    );
  }
  const maxBytes = caps.maxPreparedStatementBytes;
  if (maxBytes > 0 && kept.bytes + bytes > maxBytes) {
    return error(
      SqlState.ProgramLimitExceeded,
      `prepared statements of this session would hold ${kept.bytes + bytes} bytes (limits.max_prepared_statement_bytes = ${maxBytes})`,
      "Close or DEALLOCATE statements the session no longer uses.",
    );
  }
  if (!fits(bytes)) {
    return error(SqlState.OutOfMemory, "out of memory: PgGate has no room for this prepared statement (limits.max_buffered_bytes)", "Retry later.");
  }
  return null;
}
