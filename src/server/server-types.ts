// What a server connection shows the layers above: its errors, the consumer interface an
// attached client implements, and the reply-type tables the forwarding path consults. No I/O.
import { Backend, ErrorField, type ErrorFields } from "../protocol/index.ts";
import type { ServerTlsMode } from "../config/types.ts";
import type { Link } from "../net/link.ts";
import type { NodeTarget } from "./node-target.ts";

/** The connection as onServerClose names it (ServerConn; declared narrowly to avoid a cycle). */
export interface ServerConnHandle {
  readonly node: NodeTarget;
}

export interface ServerTlsOptions {
  mode: ServerTlsMode;
  ca: string;
  serverName: string;
}

/** An ErrorResponse a server sent during startup; carries its fields so we can relay them. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  constructor(readonly fields: ErrorFields, readonly raw: Uint8Array) {
    super(fields.get(ErrorField.Message) ?? "server error");
  }
  get code(): string {
    return this.fields.get(ErrorField.Code) ?? "";
  }
}

/** Receives an attached server's traffic. */
export interface ServerConsumer {
  /** Where forwarded frames go. */
  readonly out: Link;
  /**
   * Called for ReadyForQuery, ErrorResponse, ParameterStatus, NotificationResponse and the COPY
   * start messages before they are forwarded. Return false to swallow the frame.
   */
  onServerMessage(type: number, buf: Uint8Array, start: number, end: number): boolean;
  onServerBackpressure(backlogged: boolean): void;
  onServerClose(conn: ServerConnHandle, error: Error | undefined): void;
  /** A held batch produced output: it can no longer be replayed elsewhere. */
  onRepliesCommitted(): void;
  /**
   * A held batch failed before producing output — 25006 (it wrote on a replica) or the node going
   * away (57P01-03, 08xxx) — and its replies were discarded up to ReadyForQuery: replay it.
   */
  onHeldBatchFailed(kind: HeldFailure): void;
}

export type ServerState = "connecting" | "startup" | "idle" | "active" | "closed";

export type HeldFailure = "read_only" | "node_failure";

/**
 * Replies that commit a held batch: from here the client has seen results, so the batch can no
 * longer be replayed on another node.
 */
export const COMMITS = new Uint8Array(256);
for (const t of [Backend.DataRow, Backend.CommandComplete, Backend.CopyOutResponse, Backend.CopyInResponse, Backend.EmptyQueryResponse, Backend.PortalSuspended, Backend.ReadyForQuery, Backend.NotificationResponse]) {
  COMMITS[t] = 1;
}

/** Errors after which a held batch may safely run on another node. */
export function replayableFailure(code: string): HeldFailure | null {
  if (code === "25006") return "read_only";
  if (code === "57P01" || code === "57P02" || code === "57P03" || code.startsWith("08")) return "node_failure";
  return null;
}

/** Message types the consumer must see; everything else is forwarded blind. */
export const INSPECT = new Uint8Array(256);
for (const t of [
  Backend.ReadyForQuery,
  Backend.ErrorResponse,
  Backend.ParameterStatus,
  Backend.NotificationResponse,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
  Backend.CopyBothResponse,
]) {
  INSPECT[t] = 1;
}

