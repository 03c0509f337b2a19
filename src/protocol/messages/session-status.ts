// Session-status messages: ReadyForQuery, ParameterStatus, BackendKeyData,
// NegotiateProtocolVersion — decoded from servers, built for clients.
import { BodyReader } from "../body-reader.ts";
import { Backend } from "../codes.ts";
import { MessageWriter } from "../writer.ts";

export function buildReadyForQuery(status: number): Uint8Array {
  return new MessageWriter(6).begin(Backend.ReadyForQuery).int8(status).finish().take();
}

export function buildParameterStatus(name: string, value: string): Uint8Array {
  return new MessageWriter().begin(Backend.ParameterStatus).cstring(name).cstring(value).finish().take();
}

export function decodeParameterStatus(buf: Uint8Array, start: number, end: number): { name: string; value: string } {
  const r = new BodyReader(buf, start, end);
  return { name: r.cstring(), value: r.cstring() };
}

export function buildBackendKeyData(processId: number, secretKey: number): Uint8Array {
  return new MessageWriter(13).begin(Backend.BackendKeyData).int32(processId).int32(secretKey).finish().take();
}

export function decodeBackendKeyData(buf: Uint8Array, start: number, end: number): { processId: number; secretKey: number } {
  const r = new BodyReader(buf, start, end);
  return { processId: r.int32(), secretKey: r.int32() };
}

/** Tells a client asking for 3.x (x > 0) or for `_pq_.` options what we support: 3.0, none. */
export function buildNegotiateProtocolVersion(newestMinor: number, unsupported: readonly string[]): Uint8Array {
  const w = new MessageWriter().begin(Backend.NegotiateProtocolVersion).int32(newestMinor).int32(unsupported.length);
  for (const o of unsupported) w.cstring(o);
  return w.finish().take();
}
