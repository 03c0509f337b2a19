// Test-only wire helpers for the admin console: builds frontend frames and decodes backend frames
// by hand with DataView, independently of src/protocol, so a codec bug cannot hide in both.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A typed frame: type byte, int32 length (self-inclusive), body. */
export function frame(type: string, ...parts: Uint8Array[]): Uint8Array {
  const bodyLen = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(5 + bodyLen);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + bodyLen);
  let off = 5;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const cstr = (s: string): Uint8Array => {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
};
export const i16 = (v: number): Uint8Array => {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, v);
  return out;
};
export const i32 = (v: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v);
  return out;
};
export const byte = (c: string): Uint8Array => Uint8Array.of(c.charCodeAt(0));

export const Query = (sql: string) => frame("Q", cstr(sql));
export const Parse = (name: string, sql: string, paramTypes: number[] = []) =>
  frame("P", cstr(name), cstr(sql), i16(paramTypes.length), ...paramTypes.map(i32));
/** Bind with text parameters and no result format codes. */
export const Bind = (portal: string, stmt: string, params: string[] = []) =>
  frame(
    "B",
    cstr(portal),
    cstr(stmt),
    i16(0),
    i16(params.length),
    ...params.flatMap((p) => [i32(enc.encode(p).length), enc.encode(p)]),
    i16(0),
  );
export const Describe = (what: "S" | "P", name: string) => frame("D", byte(what), cstr(name));
export const Execute = (portal: string, maxRows = 0) => frame("E", cstr(portal), i32(maxRows));
export const Close = (what: "S" | "P", name: string) => frame("C", byte(what), cstr(name));
export const Sync = () => frame("S");
export const Flush = () => frame("H");
export const Terminate = () => frame("X");

/** A decoded backend message, reduced to what tests assert on. */
export type Msg =
  | { t: "RowDescription"; columns: string[]; typeOids: number[] }
  | { t: "DataRow"; values: (string | null)[] }
  | { t: "CommandComplete"; tag: string }
  | { t: "ReadyForQuery"; status: string }
  | { t: "ErrorResponse"; severity: string; code: string; message: string }
  | { t: "ParameterDescription"; count: number }
  | {
      t:
        | "ParseComplete"
        | "BindComplete"
        | "CloseComplete"
        | "NoData"
        | "EmptyQueryResponse"
        | "PortalSuspended";
    };

const headerOnly: Record<string, Msg["t"]> = {
  "1": "ParseComplete",
  "2": "BindComplete",
  "3": "CloseComplete",
  n: "NoData",
  I: "EmptyQueryResponse",
  s: "PortalSuspended",
};

/** Decodes a buffer holding exactly one backend message; throws on a bad length or unknown type. */
export function decode(buf: Uint8Array): Msg {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = String.fromCharCode(buf[0]);
  const len = v.getInt32(1);
  if (len + 1 !== buf.length) throw new Error(`frame '${type}' length ${len} but ${buf.length - 1} bytes follow the type`);
  let off = 5;
  const str = (): string => {
    const nul = buf.indexOf(0, off);
    if (nul < 0) throw new Error("unterminated string");
    const s = dec.decode(buf.subarray(off, nul));
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
        values.push(dec.decode(buf.subarray(off, off + l)));
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
      const fields = new Map<string, string>();
      while (buf[off] !== 0) {
        const f = String.fromCharCode(buf[off]);
        off += 1;
        fields.set(f, str());
      }
      off += 1;
      return done({
        t: "ErrorResponse",
        severity: fields.get("V") ?? "",
        code: fields.get("C") ?? "",
        message: fields.get("M") ?? "",
      });
    }
    default:
      throw new Error(`unexpected backend message type '${type}'`);
  }
}

/** Lets queued microtasks and timers run so the console can finish what it can. */
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
