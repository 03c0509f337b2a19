// PgGate authenticating a client itself (auth_query and userlist modes) against a stored
// verifier, and deriving the credentials it will use toward servers for that client. An unknown
// user gets the same kind of exchange a known one would, and fails it like a wrong password.
import { createHmac, randomBytes } from "node:crypto";
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
import { verifierCensus, type VerifierCensus } from "./census.ts";
import type { ClientChannel } from "./client-channel.ts";
import type { ServerCredentials } from "./credentials.ts";
import { verifyMd5Response } from "./md5.ts";
import { ScramError, ScramServer } from "./scram.ts";
import {
  mockSalt,
  mockScramVerifier,
  scramVerifierFromPassword,
  verifyPassword,
  type ScramVerifier,
  type Verifier,
} from "./verifier.ts";

export type ClientMethod = "scram" | "md5" | "cleartext";

const SCRAM = "SCRAM-SHA-256";
const utf8 = new TextEncoder();
/** Per-process secret so mock salts for unknown users are stable but unpredictable. */
const mockSecret = randomBytes(32);

/**
 * How to challenge a user that does not exist (or may not log in): md5 for about the share of
 * known users whose verifier is md5 (exact in userlist mode, from lookups so far in auth_query
 * mode), else SCRAM. The pick is a keyed hash of the name, so one name always gets the same
 * method, as a real user would; pass the result to authenticateClient(ch, user, null, method).
 */
export function chooseMockMethod(user: string, census: VerifierCensus = verifierCensus): ClientMethod {
  const digest = createHmac("sha256", mockSecret).update("mock method\u0000").update(user).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < census.md5Share() ? "md5" : "scram";
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
      if (!verifier || !(await verifyPassword(verifier, user, password))) throw Errors.passwordFailed(user);
      return { kind: "password", password };
    }
    case "md5": {
      // For an unknown user (verifier null) this is the whole mock: a fresh salt per attempt, as
      // for a real md5 user, and the wrong-password error whatever the client answers.
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
  // Unknown users get a full exchange against a mock verifier, so they look like a wrong password;
  // its iteration count is the one most real verifiers use, or the count would give it away.
  const scramVerifier =
    verifier === null
      ? mockScramVerifier(user, mockSecret, verifierCensus.mockIterations())
      : verifier.kind === "scram"
        ? verifier
        : verifier.kind === "plain"
          ? await plainScramVerifier(user, verifier.password)
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

/**
 * SCRAM verifiers derived from plain (userlist) passwords, keyed by the user name alone. The salt
 * is the mock salt of that name and the count the mock's, so a known plain user shows the same
 * stable salt and the same count an unknown name would; deriving once per user also keeps PBKDF2
 * off every login. An entry is re-derived if the password or the count changed.
 */
const PLAIN_CACHE_LIMIT = 1024;
const plainVerifiers = new Map<string, { password: string; iterations: number; verifier: Promise<ScramVerifier> }>();

function plainScramVerifier(user: string, password: string): Promise<ScramVerifier> {
  const iterations = verifierCensus.mockIterations();
  const hit = plainVerifiers.get(user);
  if (hit !== undefined && hit.password === password && hit.iterations === iterations) return hit.verifier;
  const verifier = scramVerifierFromPassword(password, mockSalt(user, mockSecret), iterations);
  plainVerifiers.delete(user);
  if (plainVerifiers.size >= PLAIN_CACHE_LIMIT) {
    const oldest = plainVerifiers.keys().next();
    if (!oldest.done) plainVerifiers.delete(oldest.value);
  }
  const entry = { password, iterations, verifier };
  plainVerifiers.set(user, entry);
  // A failed derivation must not stay cached (PBKDF2 failing at all would be an OpenSSL fault).
  verifier.catch(() => {
    if (plainVerifiers.get(user) === entry) plainVerifiers.delete(user);
  });
  return verifier;
}

async function readPassword(ch: ClientChannel): Promise<string> {
  const f = await ch.next();
  if (f.type !== Frontend.PasswordMessage) throw expectedPassword(f.type);
  return decodePasswordMessage(f.body, 0, f.body.length);
}

function expectedPassword(type: number): PgError {
  return Errors.protocolViolation(`expected password response, got message type 0x${type.toString(16)}`);
}
