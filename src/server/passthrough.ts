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
import type { ServerConn } from "./server-conn.ts";
import type { ClientChannel } from "../auth/client-channel.ts";
import { clientFirstBare, type RelayTranscript } from "../auth/relayed-credentials.ts";
import { ServerAuthError } from "./server-auth.ts";

const text = new TextDecoder();

/**
 * Relays until the server says AuthenticationOk (then reads the rest of its startup). A server
 * ErrorResponse is thrown as ServerError for the caller to forward. Returns what the exchange
 * showed (see credentialsFromRelay): the password when the server asked for cleartext, the SCRAM
 * messages, or that it was MD5 or no exchange at all.
 */
export async function relayAuthentication(
  ch: ClientChannel,
  conn: ServerConn,
  /**
   * A connection to the same node without TLS, where nodes.tls.mode allows one (prefer); null
   * when it does not. Used for a client that says it supports channel binding (see below).
   */
  openPlain: (() => Promise<ServerConn>) | null = null,
  /** Why `openPlain` is null, for the refusal. */
  noPlainBecause = "nodes.tls.mode forbids it",
): Promise<{ transcript: RelayTranscript; server: ServerConn }> {
  const original = conn;
  try {
    let transcript: RelayTranscript = { kind: "none" };
    let bare: string | null = null;
    let serverFirst: string | null = null;
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
      if (req.code === AuthCode.SASLContinue) serverFirst = text.decode(req.data);
      if (req.code === AuthCode.MD5Password) transcript = { kind: "md5" };
      if (req.code === AuthCode.SASLFinal) continue;
      const answer = await ch.next();
      if (answer.type !== Frontend.PasswordMessage) {
        throw Errors.protocolViolation(`expected password response, got message type 0x${answer.type.toString(16)}`);
      }
      if (req.code === AuthCode.CleartextPassword) {
        transcript = { kind: "password", password: decodePasswordMessage(answer.body, 0, answer.body.length) };
      } else if (req.code === AuthCode.SASL) {
        bare = clientFirstBare(text.decode(decodeSASLInitialResponse(answer.body, 0, answer.body.length).data));
      } else if (req.code === AuthCode.SASLContinue && bare !== null && serverFirst !== null) {
        transcript = { kind: "scram", clientFirstBare: bare, serverFirst, clientFinal: text.decode(answer.body) };
      }
      if (req.code === AuthCode.SASL && conn.tlsActive && clientClaimsBindingSupport(answer.body)) {
        // gs2 flag 'y' = "I support channel binding but you did not offer it" (PgGate never offers
        // SCRAM-SHA-256-PLUS: the client's TLS session is not the server's). A server reached over
        // TLS offered PLUS, so it rejects 'y' as a downgrade, and the flag is signed into the
        // client's proof: PgGate cannot rewrite it. Nothing server-specific reached the client yet
        // (only the mechanism list), so its first message can go to a connection without TLS,
        // which offers no PLUS and accepts 'y' — for a client that came without TLS itself, where
        // nodes.tls.mode allows it (prefer). A client using TLS is never moved off it.
        if (!openPlain) {
          throw new ServerAuthError(
            "the client supports SCRAM channel binding but did not use it (gs2 flag y), which a server reached over TLS refuses as a downgrade, " +
              `and PgGate will not move this login to a server connection without TLS (${noPlainBecause}); ` +
              "connect with channel_binding=disable, or use auth.mode auth_query, where PgGate verifies the password itself",
          );
        }
        conn.destroy();
        conn = await openPlain();
        const first = await conn.nextStartupFrame();
        if (first.type === Backend.ErrorResponse) throw conn.serverError(first);
        const again = first.type === Backend.Authentication ? decodeAuthentication(first.body, 0, first.body.length) : null;
        if (again?.code !== AuthCode.SASL) throw new ServerAuthError(`${conn.node.name} did not ask for SCRAM again on a connection without TLS`);
      }
      conn.send(encodeFrame(Frontend.PasswordMessage, answer.body));
    }
    await conn.completeStartup();
    return { transcript, server: conn };
  } catch (e) {
    // The caller closes the connection it opened; one opened here is ours to close.
    if (conn !== original) conn.destroy();
    throw e;
  }
}

/** Reads the gs2 channel-binding flag of a SASLInitialResponse body (RFC 5802 section 7). */
function clientClaimsBindingSupport(body: Uint8Array): boolean {
  const { data } = decodeSASLInitialResponse(body, 0, body.length);
  return data[0] === 0x79; // 'y'
}
