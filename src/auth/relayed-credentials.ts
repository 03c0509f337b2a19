// passthrough with an auth_user: the primary authenticated the client (its pg_hba, VALID UNTIL
// and verdict decide), and PgGate watched the exchange. With the role's verifier (from
// auth_query) that is enough to open more connections as the client — to replicas and for the
// pool — without ever holding a password it was not given: a SCRAM ClientKey falls out of the
// client's proof, an MD5 server needs only the stored hash. Pure.
import type { ServerCredentials } from "./credentials.ts";
import { constantTimeEqual, hmacSha256, sha256, xorBytes, fromBase64, SCRAM_KEY_LENGTH, type Verifier } from "./verifier.ts";

/** What a relayed exchange showed PgGate, by the method the server asked for. */
export type RelayTranscript =
  | { kind: "scram"; clientFirstBare: string; serverFirst: string; clientFinal: string }
  | { kind: "password"; password: string }
  | { kind: "md5" }
  | { kind: "none" };

/**
 * Credentials for more connections as the client, or a reason why there are none. The server
 * already accepted the exchange; `verifier` must be the role's current secret (a stale cached
 * one fails the ClientKey check, and the caller may look it up again).
 */
export function credentialsFromRelay(t: RelayTranscript, verifier: Verifier | null): { creds: ServerCredentials } | { why: string } {
  switch (t.kind) {
    case "password":
      return { creds: { kind: "password", password: t.password } };
    case "none":
      return { why: "the server did not ask for a password (trust): nothing to reuse" };
    case "md5":
      if (verifier?.kind === "md5") return { creds: { kind: "md5", hash: verifier.hash } };
      return { why: `the server used MD5 but auth_query returned ${verifier ? `a ${verifier.kind} secret` : "no secret"}` };
    case "scram": {
      if (verifier?.kind !== "scram") return { why: `the server used SCRAM but auth_query returned ${verifier ? `a ${verifier.kind} secret` : "no secret"}` };
      const parts = t.clientFinal.split(",");
      const last = parts[parts.length - 1] ?? "";
      const proof = last.startsWith("p=") ? fromBase64(last.slice(2)) : null;
      if (proof === null || proof.length !== SCRAM_KEY_LENGTH) return { why: "the client's SCRAM proof could not be read" };
      // AuthMessage = client-first-bare "," server-first "," client-final-without-proof (RFC 5802).
      const authMessage = `${t.clientFirstBare},${t.serverFirst},${parts.slice(0, -1).join(",")}`;
      const clientKey = xorBytes(proof, hmacSha256(verifier.storedKey, authMessage));
      if (!constantTimeEqual(sha256(clientKey), verifier.storedKey)) return { why: "the verifier auth_query returned does not match the password the server accepted" };
      return { creds: { kind: "scram", clientKey, serverKey: verifier.serverKey } };
    }
  }
}

/** client-first-message-bare: the client-first-message after its gs2 header ("n,," / "y,,"). */
export function clientFirstBare(clientFirst: string): string | null {
  const first = clientFirst.indexOf(",");
  const second = first < 0 ? -1 : clientFirst.indexOf(",", first + 1);
  return second < 0 ? null : clientFirst.slice(second + 1);
}
