// Decoders against hand-built fixture frames, build → decode round trips for every builder, and
// malformed bodies: a decoder either returns what the sender meant or throws ProtocolError.

import { describe, expect, test } from "bun:test";
import {
  AuthCode,
  Backend,
  BodyReader,
  buildAuthenticationCleartextPassword,
  buildAuthenticationMD5Password,
  buildAuthenticationOk,
  buildAuthenticationSASL,
  buildAuthenticationSASLContinue,
  buildAuthenticationSASLFinal,
  buildBackendKeyData,
  buildCancelRequest,
  buildCommandComplete,
  buildDataRow,
  buildExtendedQuery,
  buildNegotiateProtocolVersion,
  buildParameterStatus,
  buildPasswordMessage,
  buildQuery,
  buildReadyForQuery,
  buildRowDescription,
  buildSASLInitialResponse,
  buildSASLResponse,
  buildSSLRequest,
  buildStartupMessage,
  buildTerminate,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeDataRow,
  decodeErrorFields,
  decodeParameterStatus,
  decodeParse,
  decodePasswordMessage,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeStartupPacket,
  encodeErrorFields,
  ErrorField,
  FrameReader,
  Frontend,
  ProtocolError,
  TxStatus,
  UNTYPED,
  type ErrorFields,
} from "../../../src/protocol/index.ts";
import { cat, cstr, i32, i8, text, untyped } from "../../frames.ts";
import { backend, bigValue, errorFields, frontend, noticeFields, parameterStatuses, startupPacket, startupParams, type FixtureStream } from "./fixtures.ts";

type Body = [buf: Uint8Array, start: number, end: number];

/** The body range of a typed frame (header skipped), as the session hands it to a decoder. */
const body = (frame: Uint8Array): Body => [frame, 5, frame.length];

const frameNamed = (fx: FixtureStream, name: string): Uint8Array => {
  const fr = fx.frames.find((f) => f.name === name);
  if (!fr) throw new Error(`no fixture frame ${name}`);
  return fr.bytes;
};

const fieldMap = (fields: [string, string][]): Map<number, string> => new Map(fields.map(([t, v]) => [t.charCodeAt(0), v]));

/** Splits a buffer of back-to-back typed frames into [type, frame] pairs via FrameReader. */
function frames(bytes: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  new FrameReader(1 << 20).push(bytes, (type, buf, start, end) => out.push([type, buf.subarray(start, end)]));
  return out;
}

describe("decoders on hand-built fixture frames", () => {
  test("ParameterStatus: every one in the backend stream", () => {
    const got = backend.frames.filter((f) => f.type === Backend.ParameterStatus).map((f) => decodeParameterStatus(...body(f.bytes)));
    expect(got).toEqual([...parameterStatuses, ["TimeZone", "UTC"]].map(([name, value]) => ({ name, value })));
  });

  test("BackendKeyData", () => {
    expect(decodeBackendKeyData(...body(frameNamed(backend, "BackendKeyData")))).toEqual({ processId: 12345, secretKey: 0x12345678 });
  });

  test("AuthenticationOk", () => {
    expect(decodeAuthentication(...body(frameNamed(backend, "AuthenticationOk")))).toEqual({
      code: AuthCode.Ok,
      data: new Uint8Array(0),
      mechanisms: [],
    });
  });

  test("ErrorResponse and NoticeResponse fields, multi-byte text included", () => {
    expect(decodeErrorFields(...body(frameNamed(backend, "ErrorResponse")))).toEqual(fieldMap(errorFields));
    expect(decodeErrorFields(...body(frameNamed(backend, "NoticeResponse")))).toEqual(fieldMap(noticeFields));
  });

  test("DataRow: values, NULL, empty string, no columns, 70 KB", () => {
    expect(decodeDataRow(...body(frameNamed(backend, "DataRow 1 alice")))).toEqual(["1", "alice"]);
    expect(decodeDataRow(...body(frameNamed(backend, "DataRow 2 NULL")))).toEqual(["2", null]);
    expect(decodeDataRow(...body(frameNamed(backend, "DataRow empty string")))).toEqual(["4", ""]);
    expect(decodeDataRow(...body(frameNamed(backend, "DataRow empty")))).toEqual([]);
    const big = decodeDataRow(...body(frameNamed(backend, "DataRow 70 KB")));
    expect(big[0]).toBe("3");
    expect(big[1]).toBe(bigValue);
  });

  test("decoders read a frame in place inside the whole stream buffer", () => {
    // The session decodes views of a socket chunk: start is not 0 and bytes follow `end`.
    const got: unknown[] = [];
    new FrameReader(1 << 20).push(backend.bytes, (type, buf, start, end) => {
      if (type === Backend.ParameterStatus) got.push(decodeParameterStatus(buf, start + 5, end).name);
      if (type === Backend.CommandComplete) got.push(decodeQuery(buf, start + 5, end));
    });
    expect(got).toEqual([...parameterStatuses.map(([k]) => k), "SELECT 4", "COPY 2", "TimeZone"]);
  });

  test("StartupMessage from the frontend stream", () => {
    expect(decodeStartupPacket(startupPacket, 0, startupPacket.length)).toEqual({
      kind: "startup",
      major: 3,
      minor: 0,
      params: new Map(startupParams),
      unknownOptions: [],
    });
  });

  test("Query and Parse from the frontend stream", () => {
    expect(decodeQuery(...body(frameNamed(frontend, "Query")))).toBe("SELECT 1;");
    expect(decodeParse(...body(frameNamed(frontend, "Parse")))).toEqual({ name: "s1", query: "SELECT $1::int, 'ünï'" });
  });
});

describe("round trips: build → frame → decode", () => {
  test("ReadyForQuery carries its status byte", () => {
    for (const s of [TxStatus.Idle, TxStatus.InTransaction, TxStatus.Failed]) {
      const [[type, f]] = frames(buildReadyForQuery(s));
      expect(type).toBe(Backend.ReadyForQuery);
      expect(new BodyReader(...body(f)).int8()).toBe(s);
    }
  });

  test("ParameterStatus with empty and multi-byte values", () => {
    for (const [name, value] of [["application_name", ""], ["TimeZone", "Europe/Zürich"], ["x", "中文😀"]]) {
      expect(decodeParameterStatus(...body(buildParameterStatus(name, value)))).toEqual({ name, value });
    }
  });

  test("BackendKeyData keeps the full signed 32-bit range", () => {
    for (const [processId, secretKey] of [[1, 0], [2147483647, -2147483648], [4242, -1]]) {
      expect(decodeBackendKeyData(...body(buildBackendKeyData(processId, secretKey)))).toEqual({ processId, secretKey });
    }
  });

  test("NegotiateProtocolVersion: newest minor, count, option names", () => {
    const r = new BodyReader(...body(buildNegotiateProtocolVersion(0, ["_pq_.compression", "_pq_.x"])));
    expect([r.int32(), r.int32(), r.cstring(), r.cstring(), r.remaining]).toEqual([0, 2, "_pq_.compression", "_pq_.x", 0]);
  });

  test("Authentication requests", () => {
    const salt = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    const data = text("v=dGVzdA==");
    expect(decodeAuthentication(...body(buildAuthenticationOk()))).toEqual({ code: AuthCode.Ok, data: new Uint8Array(0), mechanisms: [] });
    expect(decodeAuthentication(...body(buildAuthenticationCleartextPassword())).code).toBe(AuthCode.CleartextPassword);
    expect(decodeAuthentication(...body(buildAuthenticationMD5Password(salt)))).toEqual({ code: AuthCode.MD5Password, data: salt, mechanisms: [] });
    expect(decodeAuthentication(...body(buildAuthenticationSASL(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])))).toEqual({
      code: AuthCode.SASL,
      data: new Uint8Array(0),
      mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
    });
    expect(decodeAuthentication(...body(buildAuthenticationSASLContinue(data)))).toEqual({ code: AuthCode.SASLContinue, data, mechanisms: [] });
    expect(decodeAuthentication(...body(buildAuthenticationSASLFinal(data)))).toEqual({ code: AuthCode.SASLFinal, data, mechanisms: [] });
  });

  test("PasswordMessage, SASLInitialResponse, SASLResponse", () => {
    expect(decodePasswordMessage(...body(buildPasswordMessage("pässwörd")))).toBe("pässwörd");
    const data = text("n,,n=,r=rOprNGfwEbeRWgbNEkqO");
    expect(decodeSASLInitialResponse(...body(buildSASLInitialResponse("SCRAM-SHA-256", data)))).toEqual({ mechanism: "SCRAM-SHA-256", data });
    expect(decodeSASLInitialResponse(...body(buildSASLInitialResponse("SCRAM-SHA-256", new Uint8Array(0))))).toEqual({
      mechanism: "SCRAM-SHA-256",
      data: new Uint8Array(0),
    });
    const f = buildSASLResponse(data);
    expect(f[0]).toBe(Frontend.PasswordMessage);
    expect(new BodyReader(...body(f)).rest()).toEqual(data);
  });

  test("StartupMessage, SSLRequest, CancelRequest", () => {
    const params = new Map([["user", "jörg"], ["database", "app"], ["options", "-c search_path=x"]]);
    const startup = buildStartupMessage(params);
    expect(decodeStartupPacket(startup, 0, startup.length)).toEqual({ kind: "startup", major: 3, minor: 0, params, unknownOptions: [] });
    const ssl = buildSSLRequest();
    expect(decodeStartupPacket(ssl, 0, ssl.length)).toEqual({ kind: "ssl" });
    const cancel = buildCancelRequest(31337, -123456789);
    expect(decodeStartupPacket(cancel, 0, cancel.length)).toEqual({ kind: "cancel", processId: 31337, secretKey: -123456789 });
    // Each is exactly one untyped frame for the reader.
    for (const p of [startup, ssl, cancel]) {
      const seen: number[] = [];
      new FrameReader(1 << 20, true).push(p, (type, _b, start, end) => seen.push(type, end - start));
      expect(seen).toEqual([UNTYPED, p.length]);
    }
  });

  test("Query and Terminate", () => {
    for (const sql of ["SELECT 1", "", "SELECT 'é中😀'", "x".repeat(100_000)]) {
      const [[type, f]] = frames(buildQuery(sql));
      expect(type).toBe(Frontend.Query);
      expect(decodeQuery(...body(f))).toBe(sql);
    }
    expect(frames(buildTerminate()).map(([t, f]) => [t, f.length])).toEqual([[Frontend.Terminate, 5]]);
  });

  test("extended query: Parse decodes, Bind carries the parameters, one Sync ends it", () => {
    const out = frames(buildExtendedQuery("SELECT $1, $2", ["ü", null]));
    expect(out.map(([t]) => String.fromCharCode(t)).join("")).toBe("PBDES");
    expect(decodeParse(...body(out[0][1]))).toEqual({ name: "", query: "SELECT $1, $2" });
    const b = new BodyReader(...body(out[1][1]));
    expect([b.cstring(), b.cstring(), b.int16(), b.int16()]).toEqual(["", "", 0, 2]);
    expect(new TextDecoder().decode(b.bytes(b.int32()))).toBe("ü");
    expect(b.int32()).toBe(-1);
    expect([b.int16(), b.remaining]).toEqual([0, 0]);
  });

  test("RowDescription: text columns, and DataRow / CommandComplete", () => {
    const r = new BodyReader(...body(buildRowDescription(["database", "clients"])));
    expect(r.int16()).toBe(2);
    for (const name of ["database", "clients"]) {
      // name, table OID, column number, type OID (text = 25), typlen, typmod, format (text)
      const col = [r.cstring(), r.int32(), r.int16(), r.int32(), r.int16(), r.int32(), r.int16()];
      expect(col).toEqual([name, 0, 0, 25, 0xffff, -1, 0]); // BodyReader.int16 is unsigned
    }
    expect(r.remaining).toBe(0);
    const values = ["pggate", null, "", "中文😀", "x".repeat(70_000)];
    expect(decodeDataRow(...body(buildDataRow(values)))).toEqual(values);
    expect(decodeQuery(...body(buildCommandComplete("SELECT 42")))).toBe("SELECT 42");
  });

  test("ErrorResponse / NoticeResponse via encodeErrorFields keep field order and text", () => {
    const fields: ErrorFields = new Map([
      [ErrorField.Severity, "FATAL"],
      [ErrorField.SeverityV, "FATAL"],
      [ErrorField.Code, "28P01"],
      [ErrorField.Message, 'password authentication failed for user "jörg"'],
      [ErrorField.Detail, ""],
    ]);
    for (const type of [Backend.ErrorResponse, Backend.NoticeResponse]) {
      const [[t, f]] = frames(encodeErrorFields(type, fields));
      expect(t).toBe(type);
      const got = decodeErrorFields(...body(f));
      expect([...got]).toEqual([...fields]);
    }
    expect(decodeErrorFields(...body(encodeErrorFields(Backend.ErrorResponse, new Map())))).toEqual(new Map());
  });
});

describe("decodeStartupPacket edge cases", () => {
  const decode = (p: Uint8Array) => decodeStartupPacket(p, 0, p.length);

  test("_pq_ options are reported, not kept as parameters; a minor version is kept", () => {
    const p = untyped(i32(0x00030002), cstr("user"), cstr("u"), cstr("_pq_.compression"), cstr("on"), i8(0));
    expect(decode(p)).toEqual({ kind: "startup", major: 3, minor: 2, params: new Map([["user", "u"]]), unknownOptions: ["_pq_.compression"] });
  });

  test("GSSENCRequest", () => {
    expect(decode(untyped(i32(80877104)))).toEqual({ kind: "gssenc" });
  });

  test("protocol 2.0 and 4.0 are refused", () => {
    expect(() => decode(untyped(i32(0x00020000), cstr("user"), cstr("u"), i8(0)))).toThrow(/unsupported frontend protocol 2\.0/);
    expect(() => decode(untyped(i32(0x00040000), cstr("user"), cstr("u"), i8(0)))).toThrow(ProtocolError);
  });

  test("no user is refused, as PostgreSQL does", () => {
    expect(() => decode(untyped(i32(196608), cstr("database"), cstr("app"), i8(0)))).toThrow(/no PostgreSQL user name/);
    expect(() => decode(untyped(i32(196608), i8(0)))).toThrow(ProtocolError);
  });

  test("a name without a value, an unterminated string, a short CancelRequest: ProtocolError", () => {
    expect(() => decode(untyped(i32(196608), cstr("user")))).toThrow(ProtocolError);
    expect(() => decode(untyped(i32(196608), cstr("user"), text("alice")))).toThrow(ProtocolError);
    expect(() => decode(untyped(i32(80877102), i32(1)))).toThrow(ProtocolError);
  });

  test("packet read in place: start is honoured", () => {
    const buf = cat(Uint8Array.of(0xff, 0xff, 0xff), startupPacket, Uint8Array.of(0xff));
    expect(decodeStartupPacket(buf, 3, 3 + startupPacket.length).kind).toBe("startup");
  });
});

describe("malformed bodies throw ProtocolError, never read past the frame", () => {
  // Each body is cut short; what follows `end` in the buffer would make an over-read succeed.
  const trailer = cat(i8(0), i32(0), cstr("tail"), i8(0));
  const cases: [string, (...b: Body) => unknown, Uint8Array][] = [
    ["ParameterStatus without value", decodeParameterStatus, cstr("name")],
    ["ParameterStatus unterminated", decodeParameterStatus, text("name")],
    ["BackendKeyData 6 bytes", decodeBackendKeyData, cat(i32(1), Uint8Array.of(0, 0))],
    ["Authentication 2 bytes", decodeAuthentication, Uint8Array.of(0, 0)],
    ["AuthenticationSASL unterminated mechanism", decodeAuthentication, cat(i32(10), text("SCRAM"))],
    ["ErrorResponse unterminated field", decodeErrorFields, cat(i8(0x4d), text("oops"))],
    ["Query unterminated", decodeQuery, text("SELECT 1")],
    ["Parse without query", decodeParse, cstr("s1")],
    ["DataRow count beyond values", decodeDataRow, cat(Uint8Array.of(0, 2), i32(1), text("a"))],
    ["DataRow value longer than the frame", decodeDataRow, cat(Uint8Array.of(0, 1), i32(10), text("abc"))],
    ["PasswordMessage unterminated", decodePasswordMessage, text("secret")],
    ["SASLInitialResponse data longer than frame", decodeSASLInitialResponse, cat(cstr("SCRAM-SHA-256"), i32(100), text("n,,"))],
    ["SASLInitialResponse without length", decodeSASLInitialResponse, cstr("SCRAM-SHA-256")],
  ];
  for (const [name, decode, b] of cases) {
    test(name, () => {
      const buf = cat(b, trailer);
      expect(() => decode(buf, 0, b.length)).toThrow(ProtocolError);
    });
  }

  test("DataRow NULL (-1) is null, and SASLInitialResponse length -1 means no initial response", () => {
    expect(decodeDataRow(cat(Uint8Array.of(0, 1), i32(-1)), 0, 6)).toEqual([null]);
    const b = cat(cstr("SCRAM-SHA-256"), i32(-1));
    expect(decodeSASLInitialResponse(b, 0, b.length)).toEqual({ mechanism: "SCRAM-SHA-256", data: new Uint8Array(0) });
  });
});
