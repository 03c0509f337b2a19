// passthrough mode: the primary stays the authority. PgGate relays the server's requests and
// the client's answers unchanged, except that it hides channel binding (the client's TLS session
// is not the server's, so SCRAM-SHA-256-PLUS could never verify through a proxy).
import {
  AuthCode,
  Backend,
  buildAuthenticationSASL,
  decodeAuthentication,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  encodeFrame,
  Frontend,
} from "../protocol/index.ts";
import { Errors } from "../errors/index.ts";
import type { ServerConn } from "../session/server-conn.ts";
import type { ClientChannel } from "./client-channel.ts";
import type { ServerCredentials } from "./credentials.ts";
import { ServerAuthError } from "./server-auth.ts";

/**
 * Relays until the server says AuthenticationOk (then reads the rest of its startup). A server
 * ErrorResponse is thrown as ServerError for the caller to forward. Returns what was learnt: the
 * password when the server asked for cleartext, else nothing reusable.
 */
export async function relayAuthentication(
  ch: ClientChannel,
  first: ServerConn,
  reopenWithoutTls: (() => Promise<ServerConn>) | null,
): Promise<{ creds: ServerCredentials; server: ServerConn }> {
  let creds: ServerCredentials = { kind: "none" };
  let conn = first;
  for (;;) {
    const f = await conn.nextStartupFrame();
    if (f.type === Backend.ErrorResponse) throw conn.serverError(f);
    if (f.type !== Backend.Authentication) {
      if (f.type === Backend.NoticeResponse || f.type === Backend.NegotiateProtocolVersion) continue;
      throw new ServerAuthError(`unexpected message 0x${f.type.toString(16)} from ${conn.node.name} during authentication`);
    }
    const req = decodeAuthentication(f.body, 0, f.body.length);
    if (req.code === AuthCode.Ok) break;
    if (req.code === AuthCode.SASL) {
      const offered = req.mechanisms.filter((m) => !m.endsWith("-PLUS"));
      ch.send(buildAuthenticationSASL(offered));
    } else {
      ch.send(encodeFrame(Backend.Authentication, f.body));
    }
    if (req.code === AuthCode.SASLFinal) continue;
    const answer = await ch.next();
    if (answer.type !== Frontend.PasswordMessage) {
      throw Errors.protocolViolation(`expected password response, got message type 0x${answer.type.toString(16)}`);
    }
    if (req.code === AuthCode.CleartextPassword) {
      creds = { kind: "password", password: decodePasswordMessage(answer.body, 0, answer.body.length) };
    }
    if (req.code === AuthCode.SASL && conn.tlsActive && clientClaimsBindingSupport(answer.body)) {
      // gs2 flag 'y' = "I support channel binding but you did not offer it". A TLS server that
      // does offer it must reject that as a downgrade attack, so replay the exchange on a
      // connection without TLS, where 'y' is legitimate. The client has not seen a server-first
      // message yet, so nothing it signs changes.
      if (!reopenWithoutTls) {
        throw new ServerAuthError(
          "the client uses TLS and supports SCRAM channel binding, which cannot pass through a proxy while nodes.tls.mode requires TLS; " +
            "connect with channel_binding=disable, or use auth.mode auth_query",
        );
      }
      conn.destroy();
      conn = await reopenWithoutTls();
      const again = await conn.nextStartupFrame();
      if (again.type === Backend.ErrorResponse) throw conn.serverError(again);
      if (again.type !== Backend.Authentication || decodeAuthentication(again.body, 0, again.body.length).code !== AuthCode.SASL) {
        throw new ServerAuthError(`${conn.node.name} changed its authentication method between two connections`);
      }
    }
    conn.send(encodeFrame(Frontend.PasswordMessage, answer.body));
  }
  await conn.completeStartup();
  return { creds, server: conn };
}

/** Reads the gs2 channel-binding flag of a SASLInitialResponse body (RFC 5802 section 7). */
function clientClaimsBindingSupport(body: Uint8Array): boolean {
  const { data } = decodeSASLInitialResponse(body, 0, body.length);
  return data[0] === 0x79; // 'y'
}
