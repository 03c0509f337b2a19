// PgGate authenticating itself to a PostgreSQL server with stored or derived credentials
// (the client side of "Authentication Flow"). Drives one ServerConn up to an AuthenticationOk it
// can believe (nodes.require_auth); never hands a secret to a server that has not earned it.
import {
  AuthCode,
  Backend,
  buildPasswordMessage,
  buildSASLInitialResponse,
  buildSASLResponse,
  decodeAuthentication,
  type AuthenticationRequest,
} from "../protocol/index.ts";
import { DEFAULT_MAX_SCRAM_ITERATIONS, DEFAULT_REQUIRE_AUTH } from "../config/schema.ts";
import type { Config, ServerAuthMethod } from "../config/types.ts";
import type { ServerConn } from "./server-conn.ts";
import type { ServerCredentials } from "../auth/credentials.ts";
import { md5PasswordHash, md5Response } from "../auth/md5.ts";
import { ScramClient, ScramError, type ScramClientCredentials } from "../auth/scram.ts";

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
 * What a node must do before PgGate believes its AuthenticationOk: nodes.require_auth (the
 * methods it may use) and auth.max_scram_iterations (the most PBKDF2 work it may ask of us).
 */
export interface ServerAuthPolicy {
  readonly requireAuth: readonly ServerAuthMethod[];
  readonly maxScramIterations: number;
}

/** The schema defaults, for callers that have no config at hand. */
export const DEFAULT_SERVER_AUTH_POLICY: ServerAuthPolicy = {
  requireAuth: DEFAULT_REQUIRE_AUTH,
  maxScramIterations: DEFAULT_MAX_SCRAM_ITERATIONS,
};

export function serverAuthPolicy(cfg: Config): ServerAuthPolicy {
  return { requireAuth: cfg.nodes.requireAuth, maxScramIterations: cfg.auth.maxScramIterations };
}

/**
 * Where the exchange stands, which decides the only request the server may send next: once we
 * answered one method, a server switching to another (say, asking for the cleartext password in
 * the middle of SCRAM) or skipping to AuthenticationOk is not a server we can believe.
 */
type Step =
  /** Nothing answered yet: any method nodes.require_auth allows, or Ok if it allows "none". */
  | "start"
  /** Cleartext or MD5 response sent: the server's verdict (Ok or an ErrorResponse) is next. */
  | "password-sent"
  /** SASLInitialResponse sent: AuthenticationSASLContinue is next. */
  | "sasl-initial-sent"
  /** SASLResponse (client-final-message) sent: AuthenticationSASLFinal is next. */
  | "sasl-response-sent"
  /** The server signature verified: only now may AuthenticationOk follow a SCRAM exchange. */
  | "sasl-verified";

const EXPECTED: Record<Exclude<Step, "start">, string> = {
  "password-sent": "AuthenticationOk after the password",
  "sasl-initial-sent": "AuthenticationSASLContinue",
  "sasl-response-sent": "AuthenticationSASLFinal",
  "sasl-verified": "AuthenticationOk after AuthenticationSASLFinal",
};

/**
 * Answers the server's requests until AuthenticationOk, then reads the rest of the startup. Throws
 * ServerAuthError when our credentials cannot answer, when `policy` forbids the method, or when
 * the server does not prove itself: after SCRAM has started, AuthenticationOk counts only behind
 * an AuthenticationSASLFinal whose server signature verified (libpq checks the same).
 */
export async function authenticateToServer(
  conn: ServerConn,
  user: string,
  creds: ServerCredentials,
  policy: ServerAuthPolicy = DEFAULT_SERVER_AUTH_POLICY,
  /** The server's first request, when the caller already read it (to learn the method). */
  first: AuthenticationRequest | null = null,
): Promise<void> {
  let req = first ?? (await nextAuthRequest(conn));
  let step: Step = "start";
  let scram: ScramClient | null = null;
  for (;;) {
    if (step === "start") {
      if (req.code === AuthCode.Ok) {
        // No exchange at all (pg_hba trust) is exactly what an impostor would answer.
        if (!policy.requireAuth.includes("none")) {
          throw new ServerAuthError(
            `${conn.node.name} let PgGate in as "${user}" without any authentication exchange, which nodes.require_auth ` +
              `(${policy.requireAuth.join(", ")}) does not allow; add none there if the node trusts PgGate (pg_hba trust)`,
          );
        }
        break;
      }
      const answered = answerFirst(conn, user, creds, req, policy);
      step = answered.step;
      scram = answered.scram;
    } else if (req.code === AuthCode.Ok) {
      if (step === "password-sent") break;
      if (step === "sasl-verified" && scram?.serverVerified === true) break;
      throw new ServerAuthError(
        `${conn.node.name} sent AuthenticationOk before the SCRAM exchange finished; PgGate does not believe a server ` +
          "that has not proven it knows the role's verifier",
      );
    } else if (step === "sasl-initial-sent" && req.code === AuthCode.SASLContinue && scram) {
      const client = scram;
      const data = req.data;
      const reply = await scramStep(conn, () => client.handleServerFirstAsync(data));
      conn.send(buildSASLResponse(utf8.encode(reply)));
      step = "sasl-response-sent";
    } else if (step === "sasl-response-sent" && req.code === AuthCode.SASLFinal && scram) {
      const client = scram;
      const data = req.data;
      await scramStep(conn, async () => client.verifyServerFinal(data));
      // Only a ClientKey without ServerKey leaves the signature unchecked; server credentials
      // always carry the ServerKey, so this is a guard, not a mode.
      if (!client.serverVerified) throw new ServerAuthError(`PgGate cannot verify the SCRAM signature of ${conn.node.name}`);
      step = "sasl-verified";
    } else {
      throw new ServerAuthError(
        `${conn.node.name} sent ${requestName(req.code)} where ${EXPECTED[step]} was due; refusing the connection`,
      );
    }
    req = await nextAuthRequest(conn);
  }
  await conn.completeStartup();
}

/** Answers the server's first request; says what must come next. */
function answerFirst(
  conn: ServerConn,
  user: string,
  creds: ServerCredentials,
  req: AuthenticationRequest,
  policy: ServerAuthPolicy,
): { step: Step; scram: ScramClient | null } {
  switch (req.code) {
    case AuthCode.CleartextPassword:
      allow(conn, policy, "password", "a cleartext password");
      // Only a real password goes out in cleartext: SCRAM keys or an MD5 hash are never sent
      // as if they were one (the server would see secrets it could replay).
      if (creds.kind !== "password") throw missing(conn, user, "a cleartext password", creds);
      conn.send(buildPasswordMessage(creds.password));
      return { step: "password-sent", scram: null };
    case AuthCode.MD5Password: {
      allow(conn, policy, "md5", "MD5 authentication");
      const hash = creds.kind === "password" ? md5PasswordHash(user, creds.password) : creds.kind === "md5" ? creds.hash : null;
      if (!hash) throw missing(conn, user, "an MD5 password", creds);
      conn.send(buildPasswordMessage(md5Response(hash, req.data)));
      return { step: "password-sent", scram: null };
    }
    case AuthCode.SASL: {
      allow(conn, policy, "scram-sha-256", "SASL authentication");
      if (!req.mechanisms.includes(SCRAM)) {
        throw new ServerAuthError(`${conn.node.name} offers only SASL mechanisms ${req.mechanisms.join(", ")}`);
      }
      const sc: ScramClientCredentials | null =
        creds.kind === "password"
          ? { password: creds.password }
          : creds.kind === "scram"
            ? { clientKey: creds.clientKey, serverKey: creds.serverKey }
            : null;
      if (!sc) throw missing(conn, user, "SCRAM-SHA-256", creds);
      const scram = new ScramClient(sc, { maxIterations: policy.maxScramIterations });
      conn.send(buildSASLInitialResponse(SCRAM, utf8.encode(scram.clientFirst())));
      return { step: "sasl-initial-sent", scram };
    }
    case AuthCode.SASLContinue:
    case AuthCode.SASLFinal:
      throw new ServerAuthError(`${conn.node.name} sent ${requestName(req.code)} before any SASL exchange began; refusing the connection`);
    default:
      throw new ServerAuthError(`${conn.node.name} requested unsupported authentication method ${req.code}`);
  }
}

function allow(conn: ServerConn, policy: ServerAuthPolicy, method: ServerAuthMethod, what: string): void {
  if (policy.requireAuth.includes(method)) return;
  throw new ServerAuthError(
    `${conn.node.name} asks for ${what} (${method}), which nodes.require_auth (${policy.requireAuth.join(", ")}) does not allow`,
  );
}

/** Runs one SCRAM step; a ScramError (bad message, wrong signature, too many iterations) names the node. */
async function scramStep<T>(conn: ServerConn, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof ScramError) throw new ServerAuthError(`SCRAM authentication with ${conn.node.name} failed: ${e.message}`);
    throw e;
  }
}

function requestName(code: number): string {
  switch (code) {
    case AuthCode.Ok:
      return "AuthenticationOk";
    case AuthCode.CleartextPassword:
      return "AuthenticationCleartextPassword";
    case AuthCode.MD5Password:
      return "AuthenticationMD5Password";
    case AuthCode.SASL:
      return "AuthenticationSASL";
    case AuthCode.SASLContinue:
      return "AuthenticationSASLContinue";
    case AuthCode.SASLFinal:
      return "AuthenticationSASLFinal";
    default:
      return `an unsupported authentication request (code ${code})`;
  }
}

function missing(conn: ServerConn, user: string, what: string, creds: ServerCredentials): ServerAuthError {
  return new ServerAuthError(`${conn.node.name} asks for ${what}, but PgGate only holds ${describe(creds)} for user "${user}"`);
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
