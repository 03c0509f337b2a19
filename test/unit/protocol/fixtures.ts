// Protocol fixture streams built by hand with test/frames.ts, which shares no code with
// src/protocol, so a codec bug cannot hide in both the code under test and its expectations.
import { cat, cstr, dataRowBody, fieldsBody, i16, i32, i8, sslRequest, startupMessage, text, typed } from "../../frames.ts";

/** One frame as it appears on the wire; `type` is 0 for an untyped startup-phase packet. */
export interface FixtureFrame {
  name: string;
  type: number;
  bytes: Uint8Array;
}

export interface FixtureStream {
  name: string;
  frames: readonly FixtureFrame[];
  /** All frames back to back. */
  bytes: Uint8Array;
  /** How many leading frames are untyped startup packets (the sink flips to typed after them). */
  untypedPrefix: number;
}

function stream(name: string, frames: FixtureFrame[], untypedPrefix = 0): FixtureStream {
  return { name, frames, bytes: cat(...frames.map((f) => f.bytes)), untypedPrefix };
}

const f = (name: string, bytes: Uint8Array): FixtureFrame => ({
  name,
  type: name.startsWith("startup:") ? 0 : bytes[0],
  bytes,
});

// ---- backend stream --------------------------------------------------------------------------

export const BIG_VALUE_LENGTH = 70 * 1024;
/** A 70 KB column value: bigger than one 64 KB socket read, so it always spans chunks in Bun. */
export const bigValue = "é✓" + "x".repeat(BIG_VALUE_LENGTH - 8) + "end"; // é is 2 UTF-8 bytes, ✓ is 3

export const errorFields: [string, string][] = [
  ["S", "ERROR"],
  ["V", "ERROR"],
  ["C", "42P01"],
  ["M", 'relation "nope" does not exist'],
  ["P", "15"],
  ["F", "parse_relation.c"],
  ["L", "1449"],
  ["R", "parserOpenTable"],
];

export const noticeFields: [string, string][] = [
  ["S", "NOTICE"],
  ["V", "NOTICE"],
  ["C", "00000"],
  ["M", "table « t » does not exist, skipping"],
];

export const parameterStatuses: [string, string][] = [
  ["application_name", ""],
  ["client_encoding", "UTF8"],
  ["DateStyle", "ISO, MDY"],
  ["integer_datetimes", "on"],
  ["is_superuser", "off"],
  ["server_version", "17.2"],
  ["session_authorization", "alice"],
  ["standard_conforming_strings", "on"],
  ["TimeZone", "Europe/Berlin"],
];

/** RowDescription column: name, table OID, attnum, type OID, typlen, typmod, format. */
const column = (name: string, typeOid: number, typlen: number): Uint8Array =>
  cat(cstr(name), i32(16384), i16(1), i32(typeOid), i16(typlen), i32(-1), i16(0));

/** What a server sends for: login, SELECT, a failing query, COPY TO, extended query, LISTEN. */
export const backend: FixtureStream = stream("backend", [
  // Hand-written bytes for the simplest messages: no encoder at all.
  f("AuthenticationOk", Uint8Array.of(0x52, 0, 0, 0, 8, 0, 0, 0, 0)),
  ...parameterStatuses.map(([k, v]) => f(`ParameterStatus ${k}`, typed("S", cstr(k), cstr(v)))),
  f("BackendKeyData", Uint8Array.of(0x4b, 0, 0, 0, 12, 0, 0, 0x30, 0x39, 0x12, 0x34, 0x56, 0x78)),
  f("ReadyForQuery I", Uint8Array.of(0x5a, 0, 0, 0, 5, 0x49)),
  f("RowDescription", typed("T", i16(2), column("id", 23, 4), column("name", 25, -1))),
  f("DataRow 1 alice", typed("D", dataRowBody(["1", "alice"]))),
  f("DataRow 2 NULL", typed("D", dataRowBody(["2", null]))),
  f("DataRow empty", Uint8Array.of(0x44, 0, 0, 0, 6, 0, 0)),
  f("DataRow 70 KB", typed("D", dataRowBody(["3", bigValue]))),
  f("DataRow empty string", typed("D", dataRowBody(["4", ""]))),
  f("CommandComplete SELECT 4", typed("C", cstr("SELECT 4"))),
  f("ReadyForQuery I", Uint8Array.of(0x5a, 0, 0, 0, 5, 0x49)),
  f("ErrorResponse", typed("E", fieldsBody(errorFields))),
  f("ReadyForQuery E", Uint8Array.of(0x5a, 0, 0, 0, 5, 0x45)),
  f("NoticeResponse", typed("N", fieldsBody(noticeFields))),
  f("CopyOutResponse", typed("H", i8(0), i16(2), i16(0), i16(0))),
  f("CopyData 1", typed("d", text("1\talice\n"))),
  f("CopyData 2", typed("d", text("2\tbob\n"))),
  f("CopyDone", Uint8Array.of(0x63, 0, 0, 0, 4)),
  f("CommandComplete COPY 2", typed("C", cstr("COPY 2"))),
  f("ReadyForQuery T", Uint8Array.of(0x5a, 0, 0, 0, 5, 0x54)),
  f("ParseComplete", Uint8Array.of(0x31, 0, 0, 0, 4)),
  f("BindComplete", Uint8Array.of(0x32, 0, 0, 0, 4)),
  f("NoData", Uint8Array.of(0x6e, 0, 0, 0, 4)),
  f("EmptyQueryResponse", Uint8Array.of(0x49, 0, 0, 0, 4)),
  f("CloseComplete", Uint8Array.of(0x33, 0, 0, 0, 4)),
  f("ParameterStatus after SET", typed("S", cstr("TimeZone"), cstr("UTC"))),
  f("NotificationResponse", typed("A", i32(4242), cstr("jobs"), cstr('{"id": 7, "note": "héllo ✓"}'))),
  f("ReadyForQuery I", Uint8Array.of(0x5a, 0, 0, 0, 5, 0x49)),
]);

/** The backend stream without its 70 KB row: small enough to split at every pair of offsets. */
export const backendSmall: FixtureStream = stream(
  "backend without the 70 KB row",
  backend.frames.filter((fr) => fr.name !== "DataRow 70 KB"),
);

// ---- frontend streams ------------------------------------------------------------------------

export const startupParams: [string, string][] = [
  ["user", "alice"],
  ["database", "app"],
  ["application_name", "psql"],
  ["client_encoding", "UTF8"],
];

export const startupPacket = startupMessage(startupParams);

const frontendTyped: FixtureFrame[] = [
  f("Query", typed("Q", cstr("SELECT 1;"))),
  f("Parse", typed("P", cstr("s1"), cstr("SELECT $1::int, 'ünï'"), i16(1), i32(23))),
  f("Bind", typed("B", cstr(""), cstr("s1"), i16(1), i16(0), i16(1), i32(2), text("42"), i16(1), i16(1))),
  f("Describe", typed("D", i8(0x50), cstr(""))),
  f("Execute", typed("E", cstr(""), i32(0))),
  f("Sync", Uint8Array.of(0x53, 0, 0, 0, 4)),
  f("Query COPY", typed("Q", cstr("COPY t FROM STDIN"))),
  f("CopyData 1", typed("d", text("1\talice\n"))),
  f("CopyData 2", typed("d", text("2\tbøb\n"))),
  f("CopyDone", Uint8Array.of(0x63, 0, 0, 0, 4)),
  f("Flush", Uint8Array.of(0x48, 0, 0, 0, 4)),
  f("Close", typed("C", i8(0x53), cstr("s1"))),
  f("Sync", Uint8Array.of(0x53, 0, 0, 0, 4)),
  f("Terminate", Uint8Array.of(0x58, 0, 0, 0, 4)),
];

/** What a client sends: startup packet (untyped), simple and extended query, COPY FROM, Terminate. */
export const frontend: FixtureStream = stream("frontend", [f("startup:StartupMessage", startupPacket), ...frontendTyped], 1);

/** The same after an SSLRequest that was answered 'N': two untyped packets before typed ones. */
export const frontendAfterSsl: FixtureStream = stream(
  "frontend after SSLRequest",
  [f("startup:SSLRequest", sslRequest), f("startup:StartupMessage", startupPacket), ...frontendTyped.slice(0, 2), frontendTyped.at(-1)!],
  2,
);

// ---- randomness ------------------------------------------------------------------------------

/** The shared seeded PRNG (re-exported so protocol tests keep importing it from here). */
export { prng } from "../prng.ts";

/** Integer in [lo, hi]. */
export const randInt = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** Byte-for-byte equality via memcmp (the 70 KB row is compared many thousand times). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
