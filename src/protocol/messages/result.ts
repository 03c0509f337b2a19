// Result-set messages: RowDescription, DataRow, CommandComplete. Built for admin answers,
// DataRow decoded for PgGate's own lookups (auth_query, health checks).
import { BodyReader } from "../body-reader.ts";
import { Backend } from "../codes.ts";
import { MessageWriter, writeTextValues } from "../writer.ts";

const TEXT_OID = 25;

/** A RowDescription of text columns. */
export function buildRowDescription(columns: readonly string[]): Uint8Array {
  const w = new MessageWriter().begin(Backend.RowDescription).int16(columns.length);
  for (const c of columns) w.cstring(c).int32(0).int16(0).int32(TEXT_OID).int16(-1).int32(-1).int16(0);
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
