// Result-set messages: RowDescription, DataRow, CommandComplete. Built for admin answers,
// DataRow decoded for PgGate's own lookups (auth_query, health checks).
import { BodyReader } from "../body-reader.ts";
import { Backend } from "../codes.ts";
import { MessageWriter, writeTextValues } from "../writer.ts";

const TEXT_OID = 25;

/** A RowDescription of text columns. */
/** Type OIDs a locally built result may declare, with their typlen (text format throughout). */
export const TYPE_OIDS = {
  text: [TEXT_OID, -1],
  int8: [20, 8],
  float8: [701, 8],
  bool: [16, 1],
  // PgBouncer's console declares these (int4 for counts, numeric for 64-bit totals, bytea for keys).
  int4: [23, 4],
  numeric: [1700, -1],
  bytea: [17, -1],
} as const;
export type ColumnType = keyof typeof TYPE_OIDS;

export function buildRowDescription(columns: readonly string[], types: readonly ColumnType[] = []): Uint8Array {
  const w = new MessageWriter().begin(Backend.RowDescription).int16(columns.length);
  columns.forEach((c, i) => {
    const [oid, len] = TYPE_OIDS[types[i] ?? "text"];
    w.cstring(c).int32(0).int16(0).int32(oid).int16(len).int32(-1).int16(0);
  });
  return w.finish().take();
}

export function buildDataRow(values: readonly (string | null)[]): Uint8Array {
  const w = new MessageWriter().begin(Backend.DataRow).int16(values.length);
  writeTextValues(w, values);
  return w.finish().take();
}

export function buildCommandComplete(tag: string): Uint8Array {
  return new MessageWriter().begin(Backend.CommandComplete).cstring(tag).finish().take();
}

/** Text values of a DataRow body (NULL → null). */
export function decodeDataRow(buf: Uint8Array, start: number, end: number): (string | null)[] {
  const r = new BodyReader(buf, start, end);
  const n = r.int16();
  const dec = new TextDecoder();
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    out.push(len < 0 ? null : dec.decode(r.bytes(len)));
  }
  return out;
}
