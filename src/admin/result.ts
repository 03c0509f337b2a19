// What an admin command answers (AdminResult) and its wire form: RowDescription of text columns,
// DataRows, CommandComplete. Validates the shape so a backend slip cannot desynchronize a client.
import { error, SqlState } from "../errors/index.ts";
import { Backend, MessageWriter, buildCommandComplete, buildDataRow, buildRowDescription, type ColumnType } from "../protocol/index.ts";

export type AdminValue = string | number | boolean | null;

export interface AdminResult {
  /** Column names; absent for commands that return no rows (RELOAD, PAUSE, ...). */
  columns?: string[];
  /** Column types when the values cannot tell (an empty result); see columnTypes. */
  types?: ColumnType[];
  rows?: AdminValue[][];
  /** CommandComplete tag: "SHOW" for SHOW results as PgBouncer does, else the command word. */
  tag: string;
}

/**
 * Each column's type, from its values: all integers int8, any fraction float8, booleans bool,
 * else text (psql aligns numbers right; drivers hand back numbers, as from PgBouncer). A column
 * with no non-null value is text.
 */
export function columnTypes(r: AdminResult): ColumnType[] {
  const rows = r.rows ?? [];
  return (r.columns ?? []).map((_, i) => {
    let type: ColumnType | null = null;
    for (const row of rows) {
      const v = row[i];
      if (v === null || v === undefined) continue;
      const t: ColumnType = typeof v === "boolean" ? "bool" : typeof v === "number" ? (Number.isInteger(v) ? "int8" : "float8") : "text";
      if (type === null || type === t) type = t;
      else if ((type === "int8" && t === "float8") || (type === "float8" && t === "int8")) type = "float8";
      else return "text";
    }
    return r.types?.[i] ?? type ?? "text";
  });
}

/** PostgreSQL's text form of a value: decimal numbers, t/f booleans, SQL NULL for null. */
export function formatValue(v: AdminValue): string | null {
  if (v === null) return null;
  if (typeof v === "boolean") return v ? "t" : "f";
  if (typeof v === "string") return v;
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  // String(1e21) is "1e+21"; whole numbers always go out as plain digits.
  return Number.isInteger(v) ? BigInt(v).toString() : String(v);
}

/** Throws ERROR XX000 when rows do not fit the columns; a client would misparse such frames. */
export function checkResult(r: AdminResult): void {
  const rows = r.rows ?? [];
  if (r.columns === undefined) {
    if (rows.length > 0) throw error(SqlState.InternalError, `admin result "${r.tag}" has rows but no columns`);
    return;
  }
  const width = r.columns.length;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].length !== width) {
      throw error(
        SqlState.InternalError,
        `admin result "${r.tag}" row ${i + 1} has ${rows[i].length} values for ${width} columns`,
      );
    }
  }
}

/** RowDescription for a result with columns, NoData otherwise (the reply to Describe). */
export function encodeDescription(r: AdminResult): Uint8Array {
  if (r.columns === undefined) return new MessageWriter(5).begin(Backend.NoData).finish().take();
  return buildRowDescription(r.columns, columnTypes(r));
}

/** DataRows for rows [from, to). */
export function encodeDataRows(r: AdminResult, from: number, to: number): Uint8Array[] {
  const rows = r.rows ?? [];
  const out: Uint8Array[] = [];
  for (let i = from; i < Math.min(to, rows.length); i++) out.push(buildDataRow(rows[i].map(formatValue)));
  return out;
}

/** A whole simple-Query answer: RowDescription + DataRows + CommandComplete, or CommandComplete alone. */
export function encodeResult(r: AdminResult): Uint8Array[] {
  checkResult(r);
  const out: Uint8Array[] = [];
  if (r.columns !== undefined) {
    out.push(buildRowDescription(r.columns, columnTypes(r)));
    out.push(...encodeDataRows(r, 0, r.rows?.length ?? 0));
  }
  out.push(buildCommandComplete(r.tag));
  return out;
}
