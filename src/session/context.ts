// Process-wide state a client session needs: the current config snapshot, the node targets, the
// verifier sources, and the registry of issued BackendKeyData for CancelRequest. No sockets here.
import { randomInt } from "node:crypto";
import type { Config } from "../config/types.ts";
import type { PgError } from "../errors/index.ts";
import type { AuthQuery } from "../auth/auth-query.ts";
import type { Verifier } from "../auth/verifier.ts";
import type { NodeTarget, ServerTlsOptions } from "./server-conn.ts";

/** What the cancel path needs from a session, kept narrow to avoid an import cycle. */
export interface Cancellable {
  readonly processId: number;
  readonly secretKey: number;
  /** Forwards a cancel to the server running this client's query, if one is running. */
  cancelRunningQuery(): void;
}

/** What shutdown and admin need from a session. */
export interface ClientHandle {
  readonly id: number;
  readonly state: string;
  fail(e: PgError): void;
}

export class GatewayContext {
  readonly clients = new Set<ClientHandle>();
  config: Config;
  authQuery: AuthQuery | null = null;
  userlist: Map<string, Verifier> | null = null;
  clientCount = 0;
  shuttingDown = false;
  private readonly keys = new Map<number, Cancellable>();

  constructor(config: Config) {
    this.config = config;
  }

  get primary(): NodeTarget {
    const p = this.config.nodes.primary;
    return { name: "primary", host: p.host, port: p.port };
  }

  serverTls(node: NodeTarget): ServerTlsOptions {
    const t = this.config.nodes.tls;
    return { mode: t.mode, ca: t.ca, serverName: t.serverName || node.host };
  }

  /** Issues a unique BackendKeyData for a client. */
  issueKey(): { processId: number; secretKey: number } {
    let processId: number;
    do processId = randomInt(1, 0x7fffffff);
    while (this.keys.has(processId));
    return { processId, secretKey: randomInt(-0x80000000, 0x7fffffff) };
  }

  registerKey(c: Cancellable): void {
    this.keys.set(c.processId, c);
  }

  releaseKey(c: Cancellable): void {
    if (this.keys.get(c.processId) === c) this.keys.delete(c.processId);
  }

  /** A CancelRequest matches only when both halves of the key match (PostgreSQL does the same). */
  findByKey(processId: number, secretKey: number): Cancellable | undefined {
    const c = this.keys.get(processId);
    return c && c.secretKey === secretKey ? c : undefined;
  }
}
