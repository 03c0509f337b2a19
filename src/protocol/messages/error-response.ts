// ErrorResponse / NoticeResponse field lists ("Error and Notice Message Fields"). The one
// encoder for every error PgGate raises lives in src/errors; this file only knows the wire shape.
import { BodyReader } from "../body-reader.ts";
import { Backend } from "../codes.ts";
import { MessageWriter } from "../writer.ts";

/** Field type bytes we use by name. */
export const ErrorField = {
  Severity: 0x53, // 'S' (localised)
  SeverityV: 0x56, // 'V' (never localised)
  Code: 0x43, // 'C'
  Message: 0x4d, // 'M'
  Detail: 0x44, // 'D'
  Hint: 0x48, // 'H'
  Routine: 0x52, // 'R' (drivers such as postgres.js re-prepare on RevalidateCachedQuery)
} as const;

export type ErrorFields = Map<number, string>;

export function decodeErrorFields(buf: Uint8Array, start: number, end: number): ErrorFields {
  const r = new BodyReader(buf, start, end);
  const fields: ErrorFields = new Map();
  while (r.remaining > 0) {
    const t = r.int8();
    if (t === 0) break;
    fields.set(t, r.cstring());
  }
  return fields;
}

export function encodeErrorFields(type: typeof Backend.ErrorResponse | typeof Backend.NoticeResponse, fields: ErrorFields): Uint8Array {
  const w = new MessageWriter().begin(type);
  for (const [t, v] of fields) w.int8(t).cstring(v);
  return w.int8(0).finish().take();
}
