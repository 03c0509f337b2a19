// Startup-phase packets ("Message Formats": StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest): decode what clients send, build what PgGate sends to servers.
import { BodyReader } from "../body-reader.ts";
import { StartupCode } from "../codes.ts";
import { ProtocolError } from "../errors.ts";
import { MessageWriter } from "../writer.ts";

export type StartupPacket =
  | { kind: "startup"; major: number; minor: number; params: Map<string, string>; unknownOptions: string[] }
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; processId: number; secretKey: number };

/** Decodes an untyped packet `buf[start, end)` (length word included). */
export function decodeStartupPacket(buf: Uint8Array, start: number, end: number): StartupPacket {
  const r = new BodyReader(buf, start + 4, end);
  const code = r.int32();
  switch (code) {
    case StartupCode.SSLRequest:
      return { kind: "ssl" };
    case StartupCode.GSSENCRequest:
      return { kind: "gssenc" };
    case StartupCode.CancelRequest:
      return { kind: "cancel", processId: r.int32(), secretKey: r.int32() };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) throw new ProtocolError(`unsupported frontend protocol ${major}.${minor}: server supports 3.0`);
  const params = new Map<string, string>();
  const unknownOptions: string[] = [];
  // Name/value pairs end with an empty name. "_pq_." names are protocol options we may not
  // understand; they are reported back in NegotiateProtocolVersion, never forwarded.
  while (r.remaining > 1) {
    const name = r.cstring();
    if (name === "") break;
    const value = r.cstring();
    if (name.startsWith("_pq_.")) unknownOptions.push(name);
    else params.set(name, value);
  }
  if (!params.has("user")) throw new ProtocolError("no PostgreSQL user name specified in startup packet");
  return { kind: "startup", major, minor, params, unknownOptions };
}

/** NAMEDATALEN - 1: the most bytes a PostgreSQL name (role, database) holds. */
export const MAX_NAME_BYTES = 63;

/**
 * `name` cut to MAX_NAME_BYTES of UTF-8, as PostgreSQL truncates over-long names: the server
 * cuts the StartupMessage's user and database there (ProcessStartupPacket), so a longer name
 * logs in as the role the shorter one names. The cut falls on a character boundary, as
 * truncate_identifier cuts identifiers (CREATE ROLE, CREATE DATABASE): the server's own cut is
 * bytewise, but a name split mid-character matches no role it could have created.
 */
export function truncateName(name: string): string {
  if (name.length * 3 <= MAX_NAME_BYTES) return name; // a UTF-16 unit is at most 3 UTF-8 bytes
  let bytes = 0;
  let end = 0;
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > MAX_NAME_BYTES) return name.slice(0, end);
    end += ch.length;
  }
  return name;
}

export function buildStartupMessage(params: ReadonlyMap<string, string>): Uint8Array {
  const w = new MessageWriter().begin(0).int32(StartupCode.ProtocolV3);
  for (const [k, v] of params) w.cstring(k).cstring(v);
  return w.int8(0).finish().take();
}

export function buildSSLRequest(): Uint8Array {
  return new MessageWriter(8).begin(0).int32(StartupCode.SSLRequest).finish().take();
}

export function buildCancelRequest(processId: number, secretKey: number): Uint8Array {
  return new MessageWriter(16).begin(0).int32(StartupCode.CancelRequest).int32(processId).int32(secretKey).finish().take();
}
