// What an admin command answers (AdminResult) and its wire form: RowDescription of text columns,
// DataRows, CommandComplete. Validates the shape so a backend slip cannot desynchronize a client.
import { error, SqlState } from "../errors/index.ts";
import { Backend, MessageWriter, buildCommandComplete, buildDataRow, buildRowDescription } from "../protocol/index.ts";

export type AdminValue = string | number | boolean | null;

export interface AdminResult {
  /** Column names (all sent as text); absent for commands that return no rows (RELOAD, PAUSE, ...). */
  columns?: string[];
  rows?: AdminValue[][];
  /** CommandComplete tag: "SHOW" for SHOW results as PgBouncer does, else the command word. */
  tag: string;
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
  return buildRowDescription(r.columns);
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
    out.push(buildRowDescription(r.columns));
    out.push(...encodeDataRows(r, 0, r.rows?.length ?? 0));
  }
  out.push(buildCommandComplete(r.tag));
  return out;
}
