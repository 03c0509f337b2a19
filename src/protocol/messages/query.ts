// Query-side messages PgGate builds for its own backend work (auth_query lookups, resets,
// health checks) and decodes for routing: Query, Parse, Bind, Describe, Execute, Sync, Terminate.
import { BodyReader } from "../body-reader.ts";
import { Frontend } from "../codes.ts";
import { MessageWriter, writeTextValues } from "../writer.ts";

export function buildQuery(sql: string): Uint8Array {
  return new MessageWriter(sql.length + 8).begin(Frontend.Query).cstring(sql).finish().take();
}

export function decodeQuery(buf: Uint8Array, start: number, end: number): string {
  return new BodyReader(buf, start, end).cstring();
}

export function decodeParse(buf: Uint8Array, start: number, end: number): { name: string; query: string } {
  const r = new BodyReader(buf, start, end);
  return { name: r.cstring(), query: r.cstring() };
}

/** An unnamed-statement round trip with text parameters: Parse, Bind, Describe portal, Execute, Sync. */
export function buildExtendedQuery(sql: string, params: readonly (string | null)[]): Uint8Array {
  const w = new MessageWriter(sql.length + 64);
  w.begin(Frontend.Parse).cstring("").cstring(sql).int16(0).finish();
  w.begin(Frontend.Bind).cstring("").cstring("").int16(0).int16(params.length);
  writeTextValues(w, params);
  w.int16(0).finish();
  w.begin(Frontend.Describe).int8(0x50).cstring("").finish();
  w.begin(Frontend.Execute).cstring("").int32(0).finish();
  w.begin(Frontend.Sync).finish();
  return w.take();
}

export function buildTerminate(): Uint8Array {
  return new MessageWriter(5).begin(Frontend.Terminate).finish().take();
}

export function buildSync(): Uint8Array {
  return new MessageWriter(5).begin(Frontend.Sync).finish().take();
}

export function buildCopyFail(reason: string): Uint8Array {
  return new MessageWriter().begin(Frontend.CopyFail).cstring(reason).finish().take();
}
