// MessageWriter and every message builder, checked byte for byte against frames written by hand
// or with test/frames.ts, the tests' own encoder (never with the writer itself).

import { describe, expect, test } from "bun:test";
import {
  AuthCode,
  Backend,
  buildAuthenticationCleartextPassword,
  buildAuthenticationMD5Password,
  buildAuthenticationOk,
  buildAuthenticationSASL,
  buildAuthenticationSASLContinue,
  buildAuthenticationSASLFinal,
  buildBackendKeyData,
  buildCancelRequest,
  buildCommandComplete,
  buildCopyFail,
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
  buildSync,
  buildTerminate,
  encodeErrorFields,
  encodeFrame,
  ErrorField,
  MessageWriter,
  TxStatus,
} from "../../../src/protocol/index.ts";
import { cat, cstr, dataRowBody, fieldsBody, i16, i32, i8, text, typed, untyped } from "../../frames.ts";

const bytes = (...b: number[]): number[] => b;
const arr = (u: Uint8Array): number[] => [...u];

describe("exact bytes, computed by hand", () => {
  test("ReadyForQuery 'I', 'T', 'E'", () => {
    expect(arr(buildReadyForQuery(TxStatus.Idle))).toEqual(bytes(0x5a, 0, 0, 0, 5, 0x49));
    expect(arr(buildReadyForQuery(TxStatus.InTransaction))).toEqual(bytes(0x5a, 0, 0, 0, 5, 0x54));
    expect(arr(buildReadyForQuery(TxStatus.Failed))).toEqual(bytes(0x5a, 0, 0, 0, 5, 0x45));
  });

  test("SSLRequest is 8 bytes: length 8, code 1234/5679", () => {
    expect(arr(buildSSLRequest())).toEqual(bytes(0, 0, 0, 8, 4, 210, 22, 47));
  });

  test("CancelRequest: length 16, code 1234/5678, process id, secret key", () => {
    expect(arr(buildCancelRequest(1234, 0x7fffffff))).toEqual(
      bytes(0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 4, 210, 0x7f, 0xff, 0xff, 0xff),
    );
    // Secret keys are arbitrary 32-bit values: a negative Int32 keeps all four bytes.
    expect(arr(buildCancelRequest(1, -2)).slice(12)).toEqual(bytes(0xff, 0xff, 0xff, 0xfe));
  });

  test("AuthenticationOk, Terminate, Sync, BackendKeyData, ParameterStatus", () => {
    expect(arr(buildAuthenticationOk())).toEqual(bytes(0x52, 0, 0, 0, 8, 0, 0, 0, 0));
    expect(arr(buildTerminate())).toEqual(bytes(0x58, 0, 0, 0, 4));
    expect(arr(buildSync())).toEqual(bytes(0x53, 0, 0, 0, 4));
    expect(arr(buildBackendKeyData(12345, 0x12345678))).toEqual(bytes(0x4b, 0, 0, 0, 12, 0, 0, 0x30, 0x39, 0x12, 0x34, 0x56, 0x78));
    expect(arr(buildParameterStatus("a", "b"))).toEqual(bytes(0x53, 0, 0, 0, 8, 0x61, 0, 0x62, 0));
  });

  test("Query 'SELECT 1': length counts the NUL, not the type byte", () => {
    expect(arr(buildQuery("SELECT 1"))).toEqual(bytes(0x51, 0, 0, 0, 13, ...[..."SELECT 1"].map((c) => c.charCodeAt(0)), 0));
  });

  test("multi-byte UTF-8: the length counts bytes, not UTF-16 code units", () => {
    // é = C3 A9, 中 = E4 B8 AD, 😀 = F0 9F 98 80 (one surrogate pair in JS)
    expect(arr(buildQuery("é中😀"))).toEqual(bytes(0x51, 0, 0, 0, 14, 0xc3, 0xa9, 0xe4, 0xb8, 0xad, 0xf0, 0x9f, 0x98, 0x80, 0));
    expect(arr(buildDataRow(["é"]))).toEqual(bytes(0x44, 0, 0, 0, 12, 0, 1, 0, 0, 0, 2, 0xc3, 0xa9));
  });
});

describe("every builder against the tests' independent encoder", () => {
  const salt = Uint8Array.of(1, 2, 3, 4);
  const data = text("r=abc,s=c2FsdA==,i=4096");
  const cases: [string, Uint8Array, Uint8Array][] = [
    ["AuthenticationCleartextPassword", buildAuthenticationCleartextPassword(), typed("R", i32(3))],
    ["AuthenticationMD5Password", buildAuthenticationMD5Password(salt), typed("R", i32(5), salt)],
    [
      "AuthenticationSASL",
      buildAuthenticationSASL(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
      typed("R", i32(10), cstr("SCRAM-SHA-256-PLUS"), cstr("SCRAM-SHA-256"), i8(0)),
    ],
    ["AuthenticationSASLContinue", buildAuthenticationSASLContinue(data), typed("R", i32(11), data)],
    ["AuthenticationSASLFinal", buildAuthenticationSASLFinal(data), typed("R", i32(12), data)],
    ["PasswordMessage", buildPasswordMessage("md5abc"), typed("p", cstr("md5abc"))],
    ["SASLInitialResponse", buildSASLInitialResponse("SCRAM-SHA-256", data), typed("p", cstr("SCRAM-SHA-256"), i32(data.length), data)],
    ["SASLInitialResponse, empty data", buildSASLInitialResponse("SCRAM-SHA-256", new Uint8Array(0)), typed("p", cstr("SCRAM-SHA-256"), i32(0))],
    ["SASLResponse", buildSASLResponse(data), typed("p", data)],
    [
      "StartupMessage",
      buildStartupMessage(new Map([["user", "alice"], ["database", "app"]])),
      untyped(i32(196608), cstr("user"), cstr("alice"), cstr("database"), cstr("app"), i8(0)),
    ],
    ["NegotiateProtocolVersion", buildNegotiateProtocolVersion(0, ["_pq_.a", "_pq_.b"]), typed("v", i32(0), i32(2), cstr("_pq_.a"), cstr("_pq_.b"))],
    ["NegotiateProtocolVersion, no options", buildNegotiateProtocolVersion(0, []), typed("v", i32(0), i32(0))],
    [
      "RowDescription",
      buildRowDescription(["name", "value"]),
      typed("T", i16(2), ...["name", "value"].map((c) => cat(cstr(c), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)))),
    ],
    ["RowDescription, no columns", buildRowDescription([]), typed("T", i16(0))],
    ["DataRow", buildDataRow(["1", null, "", "héllo"]), typed("D", dataRowBody(["1", null, "", "héllo"]))],
    ["DataRow, no columns", buildDataRow([]), Uint8Array.of(0x44, 0, 0, 0, 6, 0, 0)],
    ["CommandComplete", buildCommandComplete("SHOW"), typed("C", cstr("SHOW"))],
    ["CopyFail", buildCopyFail("client went away: ü"), typed("f", cstr("client went away: ü"))],
    [
      "ErrorResponse",
      encodeErrorFields(
        Backend.ErrorResponse,
        new Map([
          [ErrorField.Severity, "FATAL"],
          [ErrorField.SeverityV, "FATAL"],
          [ErrorField.Code, "08P01"],
          [ErrorField.Message, "invalid message length 3"],
          [ErrorField.Hint, "ünïcode hint"],
        ]),
      ),
      typed("E", fieldsBody([["S", "FATAL"], ["V", "FATAL"], ["C", "08P01"], ["M", "invalid message length 3"], ["H", "ünïcode hint"]])),
    ],
    ["NoticeResponse", encodeErrorFields(Backend.NoticeResponse, new Map([[ErrorField.Message, "hi"]])), typed("N", fieldsBody([["M", "hi"]]))],
    [
      "extended query: Parse, Bind, Describe portal, Execute, Sync",
      buildExtendedQuery("SELECT $1, $2, $3", ["42", null, "ü"]),
      cat(
        typed("P", cstr(""), cstr("SELECT $1, $2, $3"), i16(0)),
        typed("B", cstr(""), cstr(""), i16(0), i16(3), i32(2), text("42"), i32(-1), i32(2), text("ü"), i16(0)),
        typed("D", i8(0x50), cstr("")),
        typed("E", cstr(""), i32(0)),
        Uint8Array.of(0x53, 0, 0, 0, 4),
      ),
    ],
    ["extended query, no parameters", buildExtendedQuery("SELECT 1", []), cat(
      typed("P", cstr(""), cstr("SELECT 1"), i16(0)),
      typed("B", cstr(""), cstr(""), i16(0), i16(0), i16(0)),
      typed("D", i8(0x50), cstr("")),
      typed("E", cstr(""), i32(0)),
      Uint8Array.of(0x53, 0, 0, 0, 4),
    )],
  ];
  for (const [name, built, expected] of cases) {
    test(name, () => {
      expect(arr(built)).toEqual(arr(expected));
    });
  }

  test("AuthCode and Backend constants match the protocol documentation", () => {
    expect([AuthCode.Ok, AuthCode.CleartextPassword, AuthCode.MD5Password, AuthCode.SASL, AuthCode.SASLContinue, AuthCode.SASLFinal]).toEqual([
      0, 3, 5, 10, 11, 12,
    ]);
    expect(String.fromCharCode(Backend.ErrorResponse, Backend.NoticeResponse, Backend.NegotiateProtocolVersion)).toBe("ENv");
  });
});

describe("encodeFrame", () => {
  test("re-frames a body with its type and length", () => {
    expect(arr(encodeFrame(0x52, Uint8Array.of(0, 0, 0, 0)))).toEqual(bytes(0x52, 0, 0, 0, 8, 0, 0, 0, 0));
    expect(arr(encodeFrame(0x31, new Uint8Array(0)))).toEqual(bytes(0x31, 0, 0, 0, 4));
  });

  test("accepts a body that is a view into a larger buffer", () => {
    const big = Uint8Array.of(9, 9, 0x61, 0, 9);
    expect(arr(encodeFrame(0x70, big.subarray(2, 4)))).toEqual(bytes(0x70, 0, 0, 0, 6, 0x61, 0));
  });
});

describe("MessageWriter", () => {
  test("Int8/16/32 are big-endian; negative values are two's complement", () => {
    const w = new MessageWriter().int8(0xab).int16(-1).int16(0x1234).int32(-2).int32(0x01020304);
    expect(arr(w.take())).toEqual(bytes(0xab, 0xff, 0xff, 0x12, 0x34, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4));
  });

  test("grows past its initial size, back-patching lengths written before the growth", () => {
    const w = new MessageWriter(4);
    const big = "x".repeat(10_000);
    w.begin(0x51).cstring(big).finish();
    w.begin(0x64).bytes(new Uint8Array(70_000).fill(7)).finish();
    w.begin(0x53).finish();
    const out = w.take();
    expect(arr(out.subarray(0, 5))).toEqual(bytes(0x51, 0, 0, 0x27, 0x15)); // 4 + 10,000 + 1 = 10,005
    expect(out[5 + 10_000]).toBe(0);
    const at = 5 + 10_001;
    expect(arr(out.subarray(at, at + 5))).toEqual(bytes(0x64, 0, 0x01, 0x11, 0x74)); // 70,004
    expect(arr(out.subarray(at + 5 + 70_000))).toEqual(bytes(0x53, 0, 0, 0, 4));
    expect(out.length).toBe(10_006 + 70_005 + 5);
  });

  test("grows while a string is mid-write: every growth keeps earlier bytes", () => {
    for (let initial = 1; initial <= 24; initial++) {
      const w = new MessageWriter(initial);
      const out = w.begin(0x51).cstring("é中😀é中😀").finish().take();
      expect(arr(out)).toEqual(arr(typed("Q", cstr("é中😀é中😀"))));
    }
  });

  test("an initial size of 0 still works (grows instead of looping forever)", () => {
    expect(arr(new MessageWriter(0).begin(0x58).finish().take())).toEqual(bytes(0x58, 0, 0, 0, 4));
  });

  test("take() returns a copy and resets, so the writer can be reused", () => {
    const w = new MessageWriter(8);
    const first = w.begin(0x51).cstring("a").finish().take();
    const second = w.begin(0x51).cstring("b").finish().take();
    expect(arr(first)).toEqual(arr(typed("Q", cstr("a"))));
    expect(arr(second)).toEqual(arr(typed("Q", cstr("b"))));
  });

  test("begin(0) starts an untyped packet whose length includes itself", () => {
    const out = new MessageWriter().begin(0).int32(80877103).finish().take();
    expect(arr(out)).toEqual(bytes(0, 0, 0, 8, 4, 210, 22, 47));
  });

  test("a lone surrogate is written as U+FFFD, not as invalid UTF-8", () => {
    expect(arr(new MessageWriter().string("\ud800").take())).toEqual(bytes(0xef, 0xbf, 0xbd));
  });
});
