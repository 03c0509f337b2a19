// Requests PgGate answers itself, without a server: SET pggate.route / pggate.min_lsn (not
// forwarded: the server would reject the unknown parameter). Pure: parses and validates, the
// session applies the result and sends the replies.
import { error, SqlState, type PgError } from "../errors/index.ts";
import { parseLsn } from "../health/lsn.ts";

export type PggateSetting = { name: "route"; route: "primary" | "replica" | "auto" } | { name: "min_lsn"; lsn: bigint };

/** Parses `SET pggate.<name> = value`; an invalid value is the ERROR PostgreSQL would give (22023). */
export function parsePggateSet(name: "route" | "min_lsn", value: string): PggateSetting | PgError {
  if (name === "min_lsn") {
    const lsn = parseLsn(value.replace(/^'|'$/g, ""));
    if (lsn === null) {
      return error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.min_lsn": "${value}"`, "Use a WAL position like 0/16B3748, e.g. a pggate.write_lsn seen on another connection.");
    }
    return { name, lsn };
  }
  const v = value.toLowerCase();
  if (v !== "primary" && v !== "replica" && v !== "auto") {
    return error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.route": "${value}"`, "Allowed values: primary, replica, auto.");
  }
  return { name, route: v };
}

/**
 * `DEALLOCATE [PREPARE] name | ALL` as the only statement of a Query, or null. Unquoted names
 * fold to lower case as PostgreSQL folds them; a quoted name keeps its spelling.
 */
export function parseDeallocate(sql: string): { all: true } | { name: string } | null {
  const m = /^\s*deallocate\s+(?:prepare\s+)?(?:(all)|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))\s*;?\s*$/i.exec(sql);
  if (!m) return null;
  if (m[1]) return { all: true };
  if (m[2] !== undefined) return { name: m[2].replace(/""/g, '"') };
  return { name: m[3].toLowerCase() };
}
