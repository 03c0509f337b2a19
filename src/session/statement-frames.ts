// The frames ClientStatements sends on its own (Parse, Describe, Close of PgGate's names, forced
// failures) and the identity of a statement's text. Builds bytes and registers the replies they
// will produce; decides nothing.
import { encodePgError, Errors } from "../errors/index.ts";
import { Frontend, MessageWriter } from "../protocol/index.ts";
import type { ServerConn } from "../server/server-conn.ts";

/** Sends frame bytes to the server in order (views or freshly built frames). */
export type FrameOut = (buf: Uint8Array, start: number, end: number) => void;

/** A name no server statement has: closing it is a harmless no-op that still yields CloseComplete. */
export const NOOP_NAME = "pggate_closed";

/** The substitute error frame for uses of a stale statement. */
const CACHED_PLAN_CHANGED = encodePgError(Errors.cachedPlanChanged());

let nextMarker = 1;

const FLUSH = new Uint8Array([Frontend.Flush, 0, 0, 0, 4]);

/** Flush: the answers to what was sent must come now, not at the Sync still to be sent. */
export function sendFlush(out: FrameOut): void {
  out(FLUSH, 0, FLUSH.length);
}

/** Describe 'S' of `name` (a PgGate name: ASCII). */
export function sendDescribe(out: FrameOut, name: string): void {
  const f = new MessageWriter(name.length + 8).begin(Frontend.Describe).int8(0x53).cstring(name).finish().take();
  out(f, 0, f.length);
}

/** Close 'S' of `name` (a PgGate name: ASCII). */
export function sendClose(out: FrameOut, name: string): void {
  const f = new MessageWriter(name.length + 8).begin(Frontend.Close).int8(0x53).cstring(name).finish().take();
  out(f, 0, f.length);
}

/** Above this, a Parse body is sent as a view after its own small header (see sendParse). */
const VIEW_BODY_BYTES = 64 * 1024;

/**
 * A Parse of `rest` (query, NUL, parameter types) as statement `name` (a PgGate name: ASCII).
 * A large body is not copied into a new frame: the header and name go as a small buffer, the
 * body as a view of the bytes kept (a 4 MB statement is otherwise copied once more per send).
 */
export function sendParse(out: FrameOut, name: string, rest: Uint8Array): void {
  if (rest.length <= VIEW_BODY_BYTES) {
    const f = new MessageWriter(rest.length + name.length + 8).begin(Frontend.Parse).cstring(name).bytes(rest).finish().take();
    out(f, 0, f.length);
    return;
  }
  const head = new MessageWriter(name.length + 8).int8(Frontend.Parse).int32(4 + name.length + 1 + rest.length).cstring(name).take();
  out(head, 0, head.length);
  out(rest, 0, rest.length);
}

/**
 * In place of a use of a stale statement: the 0A000 a dedicated connection raises, where it
 * raises it (see failHere).
 */
export function failStale(server: ServerConn, out: FrameOut): void {
  failHere(server, out, CACHED_PLAN_CHANGED);
}

/**
 * Makes the batch fail at this point of the message stream with `substitute` (an ErrorResponse):
 * a Describe of a statement that does not exist fails there on the server, which then skips to
 * the Sync as after any error (a transaction aborts), and the client is shown `substitute`.
 */
export function failHere(server: ServerConn, out: FrameOut, substitute: Uint8Array): void {
  const marker = `pggate_fail_${(nextMarker++).toString(36)}`;
  server.expectForcedError(marker, substitute);
  sendDescribe(out, marker);
}

/**
 * Identity of a statement: the SHA-256 of the raw bytes of query text and parameter types (not
 * of decoded text, so clients in encodings other than UTF-8 never share a name for different
 * statements). A digest keeps the process-wide name map at a few dozen bytes per statement
 * whatever its size. It must resist collisions, not merely spread well: two texts with one key
 * share a server statement, so a client able to craft a collision with another user's statement
 * would have its SQL run under the other's name. Finding a SHA-256 collision is computationally
 * infeasible; a fast 64-bit hash such as Bun.hash (wyhash) is not built to resist a chosen one,
 * and verifying would mean keeping every text in the shared map, which is what this avoids.
 */
export function statementKey(rest: Uint8Array): string {
  return Bun.SHA256.hash(rest, "base64") as unknown as string;
}

/**
 * `rest` (a view of the frame `buf[start, end)`) as something that may be kept: the view itself
 * when the frame has its buffer to itself (a large message, allocated whole by the frame reader;
 * views stay valid, see FrameSink), else a copy, so a small statement never pins a socket chunk.
 */
export function ownCopy(buf: Uint8Array, start: number, end: number, rest: Uint8Array): Uint8Array {
  return start === 0 && end === buf.length && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? rest : rest.slice();
}
