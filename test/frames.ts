// The tests' one frame builder and reader, written from the PostgreSQL docs ("Message Formats")
// with DataView and sharing no code with src/protocol, so a codec bug cannot hide in both the code
// under test and its expectations. Every test that builds or reads protocol bytes uses this file.

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// ---- primitives ------------------------------------------------------------------------------

export const i8 = (v: number): Uint8Array => Uint8Array.of(v & 0xff);

export function i16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, v);
  return b;
}

export function i32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v);
  return b;
}

export const text = (s: string): Uint8Array => utf8.encode(s);

/** The protocol's String: UTF-8 bytes (or raw bytes, for texts that are not UTF-8), then NUL. */
export const cstr = (s: string | Uint8Array): Uint8Array => cat(typeof s === "string" ? text(s) : s, Uint8Array.of(0));

export function cat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---- frames ----------------------------------------------------------------------------------

/** A typed frame: type byte, Int32 length (itself included, type byte excluded), body. */
export function typed(type: string, ...body: Uint8Array[]): Uint8Array {
  const b = cat(...body);
  return cat(Uint8Array.of(type.charCodeAt(0)), i32(b.length + 4), b);
}

/** An untyped startup-phase packet: Int32 length (itself included), body. */
export function untyped(...body: Uint8Array[]): Uint8Array {
  const b = cat(...body);
  return cat(i32(b.length + 4), b);
}

/** StartupMessage, protocol 3.0: (name, value) Strings, then a zero byte. */
export function startupMessage(params: Record<string, string> | readonly [string, string][]): Uint8Array {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return untyped(i32(196608), ...pairs.flatMap(([k, v]) => [cstr(k), cstr(v)]), i8(0));
}

export const sslRequest = untyped(i32(80877103));

export const cancelRequest = (processId: number, secretKey: number): Uint8Array => untyped(i32(80877102), i32(processId), i32(secretKey));

/** A DataRow body: Int16 count, then Int32 length + bytes per value (-1 for NULL). */
export function dataRowBody(values: readonly (string | null)[]): Uint8Array {
  return cat(i16(values.length), ...values.map((v) => (v === null ? i32(-1) : cat(i32(text(v).length), text(v)))));
}

/** Error/Notice field list: (type byte, String)*, then a zero byte. */
export function fieldsBody(fields: readonly [string, string][]): Uint8Array {
  return cat(...fields.flatMap(([t, v]) => [i8(t.charCodeAt(0)), cstr(v)]), i8(0));
}

// ---- frontend messages -----------------------------------------------------------------------

export const Query = (sql: string): Uint8Array => typed("Q", cstr(sql));
export const Parse = (name: string, sql: string | Uint8Array, paramTypes: number[] = []): Uint8Array =>
  typed("P", cstr(name), cstr(sql), i16(paramTypes.length), ...paramTypes.map(i32));
/** Bind with text parameters (null = SQL NULL) and no result format codes. */
export const Bind = (portal: string | Uint8Array, stmt: string, params: (string | null)[] = []): Uint8Array =>
  typed("B", cstr(portal), cstr(stmt), i16(0), dataRowBody(params), i16(0));
export const Describe = (what: "S" | "P", name: string): Uint8Array => typed("D", text(what), cstr(name));
export const Execute = (portal: string, maxRows = 0): Uint8Array => typed("E", cstr(portal), i32(maxRows));
export const Close = (what: "S" | "P", name: string): Uint8Array => typed("C", text(what), cstr(name));
export const Sync = (): Uint8Array => typed("S");
export const Flush = (): Uint8Array => typed("H");
export const Terminate = (): Uint8Array => typed("X");

// ---- reading backend bytes -------------------------------------------------------------------

export interface Message {
  type: string;
  body: Uint8Array;
}

/** Splits complete typed frames off `bytes` (a lone 'S'/'N' SSL answer first is type "S1"/"N1"). */
export function messages(bytes: Uint8Array, sslAnswerFirst = false): Message[] {
  const out: Message[] = [];
  let off = 0;
  if (sslAnswerFirst && bytes.length > 0) {
    out.push({ type: `${String.fromCharCode(bytes[0])}1`, body: new Uint8Array() });
    off = 1;
  }
  while (off + 5 <= bytes.length) {
    const len = new DataView(bytes.buffer, bytes.byteOffset + off + 1, 4).getUint32(0);
    if (off + 1 + len > bytes.length) break;
    out.push({ type: String.fromCharCode(bytes[off]), body: bytes.subarray(off + 5, off + 1 + len) });
    off += 1 + len;
  }
  return out;
}

/** Error/Notice fields from `off` on, by field type byte; `end` is just past the closing zero byte. */
function readFields(buf: Uint8Array, off: number): { fields: Map<string, string>; end: number } {
  const fields = new Map<string, string>();
  while (buf[off] !== 0) {
    const nul = buf.indexOf(0, off + 1);
    if (off >= buf.length || nul < 0) throw new Error("unterminated error field list");
    fields.set(String.fromCharCode(buf[off]), utf8Decoder.decode(buf.subarray(off + 1, nul)));
    off = nul + 1;
  }
  return { fields, end: off + 1 };
}

/** The fields of an ErrorResponse or NoticeResponse body, by field type byte. */
export const fieldsOf = (body: Uint8Array): Map<string, string> => readFields(body, 0).fields;

/** SQLSTATE and message of an ErrorResponse body. */
export function errorOf(body: Uint8Array): { code: string; message: string } {
  const f = fieldsOf(body);
  return { code: f.get("C") ?? "", message: f.get("M") ?? "" };
}

/** SQLSTATE of the first ErrorResponse in a byte stream, or null when there is none. */
export function sqlstateIn(bytes: Uint8Array): string | null {
  const e = messages(bytes).find((m) => m.type === "E");
  return e ? errorOf(e.body).code : null;
}

/** A decoded backend message, reduced to what tests assert on. */
export type Msg =
  | { t: "RowDescription"; columns: string[]; typeOids: number[] }
  | { t: "DataRow"; values: (string | null)[] }
  | { t: "CommandComplete"; tag: string }
  | { t: "ReadyForQuery"; status: string }
  | { t: "ErrorResponse"; severity: string; code: string; message: string }
  | { t: "ParameterDescription"; count: number }
  | { t: "ParseComplete" | "BindComplete" | "CloseComplete" | "NoData" | "EmptyQueryResponse" | "PortalSuspended" };

const headerOnly: Record<string, Msg["t"]> = {
  "1": "ParseComplete",
  "2": "BindComplete",
  "3": "CloseComplete",
  n: "NoData",
  I: "EmptyQueryResponse",
  s: "PortalSuspended",
};

/** Decodes a buffer holding exactly one backend message; throws on a bad length or unknown type. */
export function decodeMessage(buf: Uint8Array): Msg {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = String.fromCharCode(buf[0]);
  const len = v.getInt32(1);
  if (len + 1 !== buf.length) throw new Error(`frame '${type}' length ${len} but ${buf.length - 1} bytes follow the type`);
  let off = 5;
  const str = (): string => {
    const nul = buf.indexOf(0, off);
    if (nul < 0) throw new Error("unterminated string");
    const s = utf8Decoder.decode(buf.subarray(off, nul));
    off = nul + 1;
    return s;
  };
  const done = (m: Msg): Msg => {
    if (off !== buf.length) throw new Error(`frame '${type}' has ${buf.length - off} trailing bytes`);
    return m;
  };
  const simple = headerOnly[type];
  if (simple !== undefined) return done({ t: simple } as Msg);
  switch (type) {
    case "T": {
      const n = v.getInt16(off);
      off += 2;
      const columns: string[] = [];
      const typeOids: number[] = [];
      for (let i = 0; i < n; i++) {
        columns.push(str());
        off += 4 + 2; // table oid, attnum
        typeOids.push(v.getInt32(off));
        off += 4 + 2 + 4 + 2; // type oid, typlen, typmod, format
      }
      return done({ t: "RowDescription", columns, typeOids });
    }
    case "D": {
      const n = v.getInt16(off);
      off += 2;
      const values: (string | null)[] = [];
      for (let i = 0; i < n; i++) {
        const l = v.getInt32(off);
        off += 4;
        if (l < 0) {
          values.push(null);
          continue;
        }
        values.push(utf8Decoder.decode(buf.subarray(off, off + l)));
        off += l;
      }
      return done({ t: "DataRow", values });
    }
    case "C":
      return done({ t: "CommandComplete", tag: str() });
    case "Z": {
      const status = String.fromCharCode(buf[off]);
      off += 1;
      return done({ t: "ReadyForQuery", status });
    }
    case "t": {
      const count = v.getInt16(off);
      off += 2 + 4 * count;
      return done({ t: "ParameterDescription", count });
    }
    case "E": {
      const { fields, end } = readFields(buf, off);
      off = end;
      return done({ t: "ErrorResponse", severity: fields.get("V") ?? "", code: fields.get("C") ?? "", message: fields.get("M") ?? "" });
    }
    default:
      throw new Error(`unexpected backend message type '${type}'`);
  }
}
