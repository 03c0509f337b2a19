// credentialsFromRelay: what a relayed exchange plus the role's verifier let PgGate reuse. The
// SCRAM case is played end to end: a real client (ScramClient) against a real server side
// (ScramServer) holding the role's verifier, the messages recorded as the relay sees them.
import { describe, expect, test } from "bun:test";
import { clientFirstBare, credentialsFromRelay, type RelayTranscript } from "../../../src/auth/relayed-credentials.ts";
import { ScramClient, ScramServer } from "../../../src/auth/scram.ts";
import { scramKeysFromPassword, scramVerifierFromPassword, type Verifier } from "../../../src/auth/verifier.ts";

const enc = new TextEncoder();

async function relayedScram(password: string, verifier: Verifier & { kind: "scram" }): Promise<RelayTranscript> {
  const client = new ScramClient({ password });
  const server = new ScramServer(verifier);
  const first = client.clientFirst();
  const serverFirst = server.handleClientFirst(enc.encode(first));
  const clientFinal = client.handleServerFirst(serverFirst);
  return { kind: "scram", clientFirstBare: clientFirstBare(first)!, serverFirst, clientFinal };
}

describe("credentialsFromRelay", () => {
  test("SCRAM: the ClientKey falls out of the client's proof, with the verifier's ServerKey", async () => {
    const verifier = await scramVerifierFromPassword("s3cret");
    const r = credentialsFromRelay(await relayedScram("s3cret", verifier), verifier);
    expect("creds" in r).toBe(true);
    const keys = await scramKeysFromPassword("s3cret", verifier.salt, verifier.iterations);
    expect(r).toEqual({ creds: { kind: "scram", clientKey: keys.clientKey, serverKey: verifier.serverKey } });
  });

  test("SCRAM: a verifier of another password (stale cache) yields nothing, with the reason", async () => {
    const verifier = await scramVerifierFromPassword("s3cret");
    const other = await scramVerifierFromPassword("changed", verifier.salt, verifier.iterations);
    expect(credentialsFromRelay(await relayedScram("s3cret", verifier), other)).toEqual({ why: "the verifier auth_query returned does not match the password the server accepted" });
  });

  test("SCRAM with an MD5 secret, or none, yields nothing", async () => {
    const verifier = await scramVerifierFromPassword("s3cret");
    const t = await relayedScram("s3cret", verifier);
    expect(credentialsFromRelay(t, { kind: "md5", hash: "md5" + "0".repeat(32) })).toEqual({ why: "the server used SCRAM but auth_query returned a md5 secret" });
    expect(credentialsFromRelay(t, null)).toEqual({ why: "the server used SCRAM but auth_query returned no secret" });
  });

  test("a garbled client-final yields nothing", async () => {
    const verifier = await scramVerifierFromPassword("s3cret");
    const t = await relayedScram("s3cret", verifier);
    if (t.kind !== "scram") throw new Error("scram expected");
    expect(credentialsFromRelay({ ...t, clientFinal: t.clientFinal.replace(/p=.*$/, "p=@@") }, verifier)).toEqual({ why: "the client's SCRAM proof could not be read" });
  });

  test("MD5: the stored hash; cleartext: the password; trust: nothing", () => {
    const hash = "md5" + "a".repeat(32);
    expect(credentialsFromRelay({ kind: "md5" }, { kind: "md5", hash })).toEqual({ creds: { kind: "md5", hash } });
    expect(credentialsFromRelay({ kind: "password", password: "pw" }, null)).toEqual({ creds: { kind: "password", password: "pw" } });
    expect("why" in credentialsFromRelay({ kind: "none" }, null)).toBe(true);
  });

  test("clientFirstBare strips the gs2 header", () => {
    expect(clientFirstBare("n,,n=,r=abc")).toBe("n=,r=abc");
    expect(clientFirstBare("y,,n=u,r=x")).toBe("n=u,r=x");
    expect(clientFirstBare("n,")).toBeNull();
  });
});
