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
