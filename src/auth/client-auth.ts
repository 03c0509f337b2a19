// PgGate authenticating a client itself (auth_query and userlist modes) against a stored
// verifier, and deriving the credentials it will use toward servers for that client.
import { randomBytes } from "node:crypto";
import {
  buildAuthenticationCleartextPassword,
  buildAuthenticationMD5Password,
  buildAuthenticationSASL,
  buildAuthenticationSASLContinue,
  buildAuthenticationSASLFinal,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  Frontend,
  AuthCode,
} from "../protocol/index.ts";
import { Errors, PgError, SqlState } from "../errors/index.ts";
import type { ClientChannel } from "./client-channel.ts";
import type { ServerCredentials } from "./credentials.ts";
import { verifyMd5Response } from "./md5.ts";
import { ScramError, ScramServer } from "./scram.ts";
import { mockScramVerifier, scramVerifierFromPassword, verifyPassword, type Verifier } from "./verifier.ts";

export type ClientMethod = "scram" | "md5" | "cleartext";

const SCRAM = "SCRAM-SHA-256";
const utf8 = new TextEncoder();
/** Per-process secret so mock salts for unknown users are stable but unpredictable. */
const mockSecret = randomBytes(32);

/**
 * Picks how to challenge the client: it must yield credentials that can answer what the server
 * asked (`serverCode`, an AuthCode, or Ok when the server trusts us).
 */
export function chooseClientMethod(serverCode: number, verifier: Verifier | null): ClientMethod {
  if (!verifier) return "scram";
  if (serverCode === AuthCode.CleartextPassword) return "cleartext";
  if (verifier.kind === "scram") return serverCode === AuthCode.MD5Password ? "cleartext" : "scram";
  if (verifier.kind === "md5") return serverCode === AuthCode.SASL ? "cleartext" : "md5";
  return "scram";
}

/** Runs the exchange; returns server credentials or throws PgError 28P01 (or 08P01). */
export async function authenticateClient(
  ch: ClientChannel,
  user: string,
  verifier: Verifier | null,
  method: ClientMethod,
): Promise<ServerCredentials> {
  switch (method) {
    case "cleartext": {
      ch.send(buildAuthenticationCleartextPassword());
      const password = await readPassword(ch);
      if (!verifier || !verifyPassword(verifier, user, password)) throw Errors.passwordFailed(user);
      return { kind: "password", password };
    }
    case "md5": {
      const salt = randomBytes(4);
      ch.send(buildAuthenticationMD5Password(salt));
      const response = await readPassword(ch);
      if (!verifier || !verifyMd5Response(verifier, user, salt, response)) throw Errors.passwordFailed(user);
      // verifyMd5Response accepted it, so the verifier is md5 or plain (never scram).
      if (verifier.kind === "md5") return { kind: "md5", hash: verifier.hash };
      if (verifier.kind === "plain") return { kind: "password", password: verifier.password };
      throw Errors.passwordFailed(user);
    }
    case "scram":
      return scramExchange(ch, user, verifier);
  }
}

async function scramExchange(ch: ClientChannel, user: string, verifier: Verifier | null): Promise<ServerCredentials> {
  // Unknown users get a full exchange against a mock verifier, so they look like a wrong password.
  const scramVerifier =
    verifier === null
      ? mockScramVerifier(user, mockSecret)
      : verifier.kind === "scram"
        ? verifier
        : verifier.kind === "plain"
          ? scramVerifierFromPassword(verifier.password)
          : null;
  if (!scramVerifier) throw Errors.passwordFailed(user);
  ch.send(buildAuthenticationSASL([SCRAM]));
  const first = await ch.next();
  if (first.type !== Frontend.PasswordMessage) throw expectedPassword(first.type);
  const init = decodeSASLInitialResponse(first.body, 0, first.body.length);
  if (init.mechanism !== SCRAM) {
    throw new PgError("FATAL", SqlState.ProtocolViolation, `client selected an invalid SASL authentication mechanism "${init.mechanism}"`);
  }
  const server = new ScramServer(scramVerifier);
  try {
    ch.send(buildAuthenticationSASLContinue(utf8.encode(server.handleClientFirst(init.data))));
    const final = await ch.next();
    if (final.type !== Frontend.PasswordMessage) throw expectedPassword(final.type);
    const result = server.handleClientFinal(final.body);
    if (!result.ok || verifier === null) throw Errors.passwordFailed(user);
    ch.send(buildAuthenticationSASLFinal(utf8.encode(result.serverFinal)));
    if (verifier.kind === "plain") return { kind: "password", password: verifier.password };
    return { kind: "scram", clientKey: result.clientKey, serverKey: scramVerifier.serverKey };
  } catch (e) {
    if (e instanceof ScramError) throw new PgError("FATAL", e.sqlState, e.message);
    throw e;
  }
}

async function readPassword(ch: ClientChannel): Promise<string> {
  const f = await ch.next();
  if (f.type !== Frontend.PasswordMessage) throw expectedPassword(f.type);
  return decodePasswordMessage(f.body, 0, f.body.length);
}

function expectedPassword(type: number): PgError {
  return Errors.protocolViolation(`expected password response, got message type 0x${type.toString(16)}`);
}
