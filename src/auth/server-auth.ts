// PgGate authenticating itself to a PostgreSQL server with stored or derived credentials
// (the client side of "Authentication Flow"). Drives one ServerConn up to AuthenticationOk.
import {
  AuthCode,
  Backend,
  buildPasswordMessage,
  buildSASLInitialResponse,
  buildSASLResponse,
  decodeAuthentication,
  type AuthenticationRequest,
} from "../protocol/index.ts";
import type { ServerConn } from "../session/server-conn.ts";
import type { ServerCredentials } from "./credentials.ts";
import { md5PasswordHash, md5Response } from "./md5.ts";
import { ScramClient, type ScramClientCredentials } from "./scram.ts";

const SCRAM = "SCRAM-SHA-256";
const utf8 = new TextEncoder();

/** Thrown when our credentials cannot answer what the server asks for. */
export class ServerAuthError extends Error {
  override readonly name = "ServerAuthError";
}

/** Reads the next authentication request; a server ErrorResponse is thrown as ServerError. */
export async function nextAuthRequest(conn: ServerConn): Promise<AuthenticationRequest> {
  for (;;) {
    const f = await conn.nextStartupFrame();
    if (f.type === Backend.Authentication) return decodeAuthentication(f.body, 0, f.body.length);
    if (f.type === Backend.ErrorResponse) throw conn.serverError(f);
    if (f.type === Backend.NegotiateProtocolVersion || f.type === Backend.NoticeResponse) continue;
    throw new ServerAuthError(`unexpected message 0x${f.type.toString(16)} from ${conn.node.name} during authentication`);
  }
}

/**
 * Answers the server's requests until AuthenticationOk, then reads the rest of the startup.
 * `first` is a request already read (login reads it to pick the client-side method).
 */
export async function authenticateToServer(
  conn: ServerConn,
  user: string,
  creds: ServerCredentials,
  first?: AuthenticationRequest,
): Promise<void> {
  let req = first ?? (await nextAuthRequest(conn));
  let scram: ScramClient | null = null;
  while (req.code !== AuthCode.Ok) {
    switch (req.code) {
      case AuthCode.CleartextPassword:
        if (creds.kind !== "password") throw missing(conn, "a cleartext password", creds);
        conn.send(buildPasswordMessage(creds.password));
        break;
      case AuthCode.MD5Password: {
        const hash = creds.kind === "password" ? md5PasswordHash(user, creds.password) : creds.kind === "md5" ? creds.hash : null;
        if (!hash) throw missing(conn, "an MD5 password", creds);
        conn.send(buildPasswordMessage(md5Response(hash, req.data)));
        break;
      }
      case AuthCode.SASL: {
        if (!req.mechanisms.includes(SCRAM)) {
          throw new ServerAuthError(`${conn.node.name} offers only SASL mechanisms ${req.mechanisms.join(", ")}`);
        }
        const sc: ScramClientCredentials | null =
          creds.kind === "password"
            ? { password: creds.password }
            : creds.kind === "scram"
              ? { clientKey: creds.clientKey, serverKey: creds.serverKey }
              : null;
        if (!sc) throw missing(conn, "SCRAM-SHA-256", creds);
        scram = new ScramClient(sc);
        conn.send(buildSASLInitialResponse(SCRAM, utf8.encode(scram.clientFirst())));
        break;
      }
      case AuthCode.SASLContinue:
        if (!scram) throw new ServerAuthError("SASLContinue without SASL");
        conn.send(buildSASLResponse(utf8.encode(scram.handleServerFirst(req.data))));
        break;
      case AuthCode.SASLFinal:
        if (!scram) throw new ServerAuthError("SASLFinal without SASL");
        scram.verifyServerFinal(req.data);
        break;
      default:
        throw new ServerAuthError(`${conn.node.name} requested unsupported authentication method ${req.code}`);
    }
    req = await nextAuthRequest(conn);
  }
  await conn.completeStartup();
}

function missing(conn: ServerConn, what: string, creds: ServerCredentials): ServerAuthError {
  return new ServerAuthError(
    `${conn.node.name} asks for ${what}, but PgGate only holds ${describe(creds)} for this user`,
  );
}

function describe(c: ServerCredentials): string {
  switch (c.kind) {
    case "password":
      return "a password";
    case "md5":
      return "an MD5 hash";
    case "scram":
      return "SCRAM keys";
    case "none":
      return "no credentials";
  }
}
