// Liveness of a node without any credentials: a StartupMessage for a role PgGate never logs in
// as, and the server's first answer. Must never log in, and never use a client's credentials.
import { Backend } from "../protocol/index.ts";
import { SqlState } from "../errors/index.ts";
import { ServerConn, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";

/** The role named in the probe's StartupMessage (what the server log shows for it). */
export const PROBE_USER = "pggate_health_probe";

export interface StartupProbeOptions {
  database: string;
  tls: ServerTlsOptions;
  connectTimeoutMs: number;
  maxMessageSize: number;
}

/**
 * Resolves when `node` answers a StartupMessage the way a server that accepts connections does:
 * an authentication request (a made-up role gets one too, as a mock SCRAM exchange, so that role
 * names cannot be probed) or an ErrorResponse such as 28000/28P01/53300 from a backend it forked.
 * Rejects on no answer, a closed connection, or 57P03 (starting up, shutting down, hot standby
 * off: "cannot connect now"). The connection is closed before any password is sent; PostgreSQL
 * logs nothing for a client that leaves during authentication ("Authentication" in the protocol
 * docs' Message Flow: the frontend may close the connection at this point).
 */
export async function startupProbe(node: NodeTarget, opts: StartupProbeOptions): Promise<void> {
  const params = new Map([
    ["user", PROBE_USER],
    ["database", opts.database],
    ["application_name", "pggate_health"],
  ]);
  const conn = await ServerConn.connect(node, params, opts.tls, opts.connectTimeoutMs, opts.maxMessageSize);
  // The answer too is bounded by nodes.connect_timeout_ms: a frozen node keeps no probe behind.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to a startup within ${opts.connectTimeoutMs} ms (nodes.connect_timeout_ms)`)), opts.connectTimeoutMs);
  });
  try {
    for (;;) {
      const f = await Promise.race([conn.nextStartupFrame(), timeout]);
      if (f.type === Backend.Authentication) return;
      if (f.type === Backend.ErrorResponse) {
        const e = conn.serverError(f);
        if (e.code === SqlState.CannotConnectNow) throw e;
        return;
      }
      if (f.type === Backend.NegotiateProtocolVersion || f.type === Backend.NoticeResponse) continue;
      throw new Error(`unexpected message 0x${f.type.toString(16)} from ${node.name} at startup`);
    }
  } finally {
    clearTimeout(timer);
    conn.destroy();
  }
}
