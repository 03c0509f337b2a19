// SCRAM-SHA-256 server and client: the RFC 7677 test vector, round trips, the auth_query
// ClientKey trick, every rejection path, and fuzzing where only ScramError or ok:false may escape.

import { prng } from "../prng.ts";
import { describe, expect, test } from "bun:test";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import {
  ScramClient,
  ScramError,
  ScramServer,
  type ScramFinalResult,
  type ScramSqlState,
} from "../../../src/auth/scram.ts";
import { mockScramVerifier, scramVerifierFromPassword, type ScramVerifier } from "../../../src/auth/verifier.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

/** ClientKey = HMAC(Hi(password, salt, i), "Client Key"), computed without src/. */
function independentClientKey(password: string, v: ScramVerifier): Uint8Array {
  const salted = pbkdf2Sync(password, v.salt, v.iterations, 32, "sha256");
  return new Uint8Array(createHmac("sha256", salted).update("Client Key").digest());
}

/** Runs a whole exchange in memory. */
function exchange(client: ScramClient, server: ScramServer): { result: ScramFinalResult; client: ScramClient } {
  const serverFirst = server.handleClientFirst(enc(client.clientFirst()));
  const result = server.handleClientFinal(enc(client.handleServerFirst(serverFirst)));
  return { result, client };
}

function expectScramError(fn: () => unknown, sqlState: ScramSqlState, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ScramError);
  const err = caught as ScramError;
  expect(err.sqlState).toBe(sqlState);
  if (message) expect(err.message).toMatch(message);
}

const PASSWORD = "pw";
// A fixed salt keeps the fuzz below deterministic (a random one made its cases differ per run).
const verifier = await scramVerifierFromPassword(PASSWORD, new Uint8Array(16).fill(7), 16);

// user "user", password "pencil", i=4096; the exact messages are quoted from the RFC.
const rfcVerifier = await scramVerifierFromPassword("pencil", b64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);

describe("RFC 7677 section 3 test vector", () => {
  const v = rfcVerifier;
  const clientNonce = "rOprNGfwEbeRWgbNEkqO";
  const serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
  const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  const clientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

  test("client produces the exact client-first and client-final, and accepts the server-final", () => {
    const client = new ScramClient({ password: "pencil" }, { nonce: clientNonce, username: "user" });
    expect(client.clientFirst()).toBe(clientFirst);
    expect(client.handleServerFirst(serverFirst)).toBe(clientFinal);
    expect(() => client.verifyServerFinal(serverFinal)).not.toThrow();
  });

  test("server produces the exact server-first and server-final", () => {
    const server = new ScramServer(v, { nonce: serverNonce });
    expect(server.handleClientFirst(enc(clientFirst))).toBe(serverFirst);
    const result = server.handleClientFinal(enc(clientFinal));
    expect(result).toEqual({ ok: true, serverFinal, clientKey: independentClientKey("pencil", v) });
  });
});

describe("round trips", () => {
  test("ScramClient(password) <-> ScramServer(verifier) succeeds and recovers the ClientKey", () => {
    const { result, client } = exchange(new ScramClient({ password: PASSWORD }), new ScramServer(verifier));
    if (!result.ok) throw new Error(result.reason);
    expect(result.clientKey).toEqual(independentClientKey(PASSWORD, verifier));
    expect(result.serverFinal).toMatch(/^v=[A-Za-z0-9+/]{43}=$/);
    expect(() => client.verifyServerFinal(result.serverFinal)).not.toThrow();
  });

  test("the client sends an empty username and a fresh random nonce each time", () => {
    const a = new ScramClient({ password: PASSWORD }).clientFirst();
    const b = new ScramClient({ password: PASSWORD }).clientFirst();
    expect(a).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    expect(a).not.toBe(b);
  });

  test("auth_query trick: a ClientKey recovered from one client's proof logs PgGate into the server", () => {
    // Client -> PgGate: PgGate only has the verifier (from auth_query) and recovers the ClientKey.
    const front = exchange(new ScramClient({ password: PASSWORD }), new ScramServer(verifier)).result;
    if (!front.ok) throw new Error(front.reason);
    // PgGate -> server, which holds the same verifier: the key stands in for the password, and
    // the ServerKey from the verifier lets PgGate check the server's signature too.
    const upstream = new ScramClient({ clientKey: front.clientKey, serverKey: verifier.serverKey });
    const { result, client } = exchange(upstream, new ScramServer(verifier));
    if (!result.ok) throw new Error(result.reason);
    expect(result.clientKey).toEqual(front.clientKey);
    expect(() => client.verifyServerFinal(result.serverFinal)).not.toThrow();
  });

  test("with a ClientKey but no ServerKey the server signature cannot be checked, so it is not", () => {
    const client = new ScramClient({ clientKey: independentClientKey(PASSWORD, verifier) });
    const { result } = exchange(client, new ScramServer(verifier));
    expect(result.ok).toBe(true);
    expect(() => client.verifyServerFinal(`v=${Buffer.alloc(32).toString("base64")}`)).not.toThrow();
  });

  test("a ClientKey derived with another salt fails at the server, as documented", async () => {
    const other = await scramVerifierFromPassword(PASSWORD, undefined, 16);
    const client = new ScramClient({ clientKey: independentClientKey(PASSWORD, other) });
    expect(exchange(client, new ScramServer(verifier)).result.ok).toBe(false);
  });

  test("non-ASCII passwords go through SASLprep on both sides", async () => {
    const v = await scramVerifierFromPassword("\ufb01sh", undefined, 16);
    expect(exchange(new ScramClient({ password: "fish" }), new ScramServer(v)).result.ok).toBe(true);
  });
});

describe("authentication failures", () => {
  test("wrong password is ok:false, not an exception", () => {
    const { result } = exchange(new ScramClient({ password: "not it" }), new ScramServer(verifier));
    expect(result).toEqual({ ok: false, reason: "invalid client proof" });
  });

  test("an unknown user's mock verifier fails exactly like a wrong password", () => {
    const secret = new Uint8Array(32).fill(9);
    const mock = mockScramVerifier("ghost", secret, verifier.iterations);
    const first = enc("n,,n=,r=abc");
    const sf1 = new ScramServer(mock, { nonce: "srv" }).handleClientFirst(first);
    const sf2 = new ScramServer(mockScramVerifier("ghost", secret, verifier.iterations), { nonce: "srv" }).handleClientFirst(first);
    expect(sf1).toBe(sf2); // a stable salt: probing twice reveals nothing
    for (const pw of ["", "ghost", PASSWORD]) {
      expect(exchange(new ScramClient({ password: pw }), new ScramServer(mock)).result).toEqual({
        ok: false,
        reason: "invalid client proof",
      });
    }
  });

  test("the client rejects a server that does not know the verifier", async () => {
    const impostor = await scramVerifierFromPassword(PASSWORD, verifier.salt, verifier.iterations);
    const forged = { ...impostor, serverKey: new Uint8Array(32).fill(1) };
    const { result, client } = exchange(new ScramClient({ password: PASSWORD }), new ScramServer(forged));
    if (!result.ok) throw new Error(result.reason);
    expectScramError(() => client.verifyServerFinal(result.serverFinal), "08P01", /invalid SCRAM server signature/);
  });

  test("serverVerified is true only once a server signature checked out", () => {
    const { result, client } = exchange(new ScramClient({ password: PASSWORD }), new ScramServer(verifier));
    if (!result.ok) throw new Error(result.reason);
    expect(client.serverVerified).toBe(false);
    client.verifyServerFinal(result.serverFinal);
    expect(client.serverVerified).toBe(true);
    const keyOnly = new ScramClient({ clientKey: independentClientKey(PASSWORD, verifier) });
    const second = exchange(keyOnly, new ScramServer(verifier)).result;
    if (!second.ok) throw new Error(second.reason);
    keyOnly.verifyServerFinal(second.serverFinal);
    expect(keyOnly.serverVerified).toBe(false); // nothing to check it against
  });

  test("handleServerFirstAsync answers exactly like handleServerFirst (RFC 7677 vector)", async () => {
    const nonce = "rOprNGfwEbeRWgbNEkqO";
    const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const a = new ScramClient({ password: "pencil" }, { nonce, username: "user" });
    const b = new ScramClient({ password: "pencil" }, { nonce, username: "user" });
    a.clientFirst();
    b.clientFirst();
    expect(await a.handleServerFirstAsync(serverFirst)).toBe(b.handleServerFirst(serverFirst));
  });

  test("a server asking for more iterations than maxIterations is refused before any work", async () => {
    const salt = Buffer.from(verifier.salt).toString("base64");
    const client = new ScramClient({ password: PASSWORD }, { nonce: "cli", maxIterations: 4096 });
    client.clientFirst();
    await expect(client.handleServerFirstAsync(`r=clisrv,s=${salt},i=4097`)).rejects.toThrow(
      "server asks for 4097 SCRAM iterations, more than auth.max_scram_iterations (4096) allows",
    );
    const byDefault = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
    byDefault.clientFirst();
    expectScramError(() => byDefault.handleServerFirst(`r=clisrv,s=${salt},i=2147483647`), "08P01", /more than auth\.max_scram_iterations \(1000000\)/);
  });

  test("the client turns a server-final e= into ScramError 28P01", () => {
    const client = new ScramClient({ password: PASSWORD }, { nonce: "abc" });
    client.clientFirst();
    client.handleServerFirst(`r=abcdef,s=${Buffer.from(verifier.salt).toString("base64")},i=16`);
    expectScramError(() => client.verifyServerFinal(enc("e=invalid-proof")), "28P01", /invalid-proof/);
  });
});

describe("ScramServer rejects bad client-first-messages", () => {
  const cases: [string, string, ScramSqlState, RegExp][] = [
    ["channel binding requested", "p=tls-server-end-point,,n=,r=abc", "0A000", /channel binding is not supported/],
    ["authzid", "n,a=bob,n=,r=abc", "0A000", /authorization identity/],
    ["mandatory extension", "n,,m=ext,n=,r=abc", "0A000", /unsupported SCRAM extension/],
    ["bad gs2 flag", "x,,n=,r=abc", "08P01", /channel-binding flag/],
    ["missing comma", "n", "08P01", /comma expected/],
    ["junk instead of authzid", "n,x,n=,r=abc", "08P01", /unexpected attribute/],
    ["no nonce", "n,,n=", "08P01", /incomplete/],
    ["attributes out of order", "n,,r=abc,n=", "08P01", /attribute "n" expected/],
    ["missing =", "n,,n=,rabc", "08P01", /expected "=" after attribute "r"/],
    ["empty nonce", "n,,n=,r=", "08P01", /non-printable/],
    ["non-printable nonce", "n,,n=,r=ab\u0001c", "08P01", /non-printable/],
    ["non-ASCII nonce", "n,,n=,r=ab\u00e9", "08P01", /non-printable/],
    ["malformed extension", "n,,n=,r=abc,1=x", "08P01", /attribute expected/],
    ["trailing comma", "n,,n=,r=abc,", "08P01", /attribute expected, nothing found/],
  ];
  test.each(cases)("%s", (_name, message, sqlState, pattern) => {
    expectScramError(() => new ScramServer(verifier).handleClientFirst(enc(message)), sqlState, pattern);
  });

  test("empty, NUL-containing and non-UTF-8 messages", () => {
    expectScramError(() => new ScramServer(verifier).handleClientFirst(new Uint8Array(0)), "08P01", /empty/);
    expectScramError(() => new ScramServer(verifier).handleClientFirst(enc("n,,n=,r=a\u0000b")), "08P01", /NUL/);
    expectScramError(() => new ScramServer(verifier).handleClientFirst(new Uint8Array([0x6e, 0x2c, 0xff])), "08P01", /UTF-8/);
  });

  test("error messages never echo raw control characters", () => {
    try {
      new ScramServer(verifier).handleClientFirst(enc("\u001b[31m,,n=,r=abc"));
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(ScramError);
      expect((e as Error).message).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  test('"y,," and an empty "a=" are accepted; the client must then echo that exact gs2 header', () => {
    for (const gs2 of ["y,,", "n,a=,"]) {
      const server = new ScramServer(verifier, { nonce: "srv" });
      server.handleClientFirst(enc(`${gs2}n=,r=cli,x=ignored`));
      const client = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
      client.clientFirst();
      // ScramClient always sends c=biws ("n,,"), which does not match these headers.
      const final = client.handleServerFirst(`r=clisrv,s=${Buffer.from(verifier.salt).toString("base64")},i=16`);
      expectScramError(() => server.handleClientFinal(enc(final)), "08P01", /channel-binding attribute/);
    }
  });

  test('"y,," with a matching c=eSws authenticates', () => {
    const clientFirstBare = "n=,r=cli";
    const server = new ScramServer(verifier, { nonce: "srv" });
    const serverFirst = server.handleClientFirst(enc(`y,,${clientFirstBare}`));
    const withoutProof = "c=eSws,r=clisrv";
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = independentClientKey(PASSWORD, verifier);
    const storedKey = createHash("sha256").update(clientKey).digest();
    const signature = createHmac("sha256", storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    const result = server.handleClientFinal(enc(`${withoutProof},p=${proof.toString("base64")}`));
    expect(result.ok).toBe(true);
  });
});

describe("ScramServer rejects bad client-final-messages", () => {
  const salt = Buffer.from(verifier.salt).toString("base64");
  function serverAfterFirst(): ScramServer {
    const server = new ScramServer(verifier, { nonce: "srv" });
    server.handleClientFirst(enc("n,,n=,r=cli"));
    return server;
  }
  const validFinal = (() => {
    const client = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
    client.clientFirst();
    return client.handleServerFirst(`r=clisrv,s=${salt},i=16`);
  })();
  const proof = validFinal.slice(validFinal.indexOf(",p=") + 3);

  test("the valid message passes (so the cases below fail for the stated reason)", () => {
    expect(serverAfterFirst().handleClientFinal(enc(validFinal)).ok).toBe(true);
  });

  const cases: [string, string, RegExp][] = [
    ["wrong channel binding", `c=eSws,r=clisrv,p=${proof}`, /channel-binding attribute/],
    ["channel binding not base64 of the header", `c=biws=,r=clisrv,p=${proof}`, /channel-binding attribute/],
    ["nonce missing the server part", `c=biws,r=cli,p=${proof}`, /nonce mismatch/],
    ["nonce with another server part", `c=biws,r=cliSRV,p=${proof}`, /nonce mismatch/],
    ["nonce first", `r=clisrv,c=biws,p=${proof}`, /attribute "c" expected/],
    ["no proof", "c=biws,r=clisrv", /incomplete/],
    ["proof not last", `c=biws,r=clisrv,p=${proof},x=1`, /garbage at end/],
    ["two proofs", `c=biws,r=clisrv,p=${proof},p=${proof}`, /garbage at end/],
    ["proof too short", "c=biws,r=clisrv,p=AAAA", /malformed proof/],
    ["proof not base64", `c=biws,r=clisrv,p=${proof.slice(0, -2)}!=`, /malformed proof/],
    ["empty", "", /empty/],
  ];
  test.each(cases)("%s", (_name, message, pattern) => {
    expectScramError(() => serverAfterFirst().handleClientFinal(enc(message)), "08P01", pattern);
  });

  test("an extension before the proof is allowed but changes the AuthMessage, so the proof fails", () => {
    const withExt = validFinal.replace(",p=", ",x=1,p=");
    expect(serverAfterFirst().handleClientFinal(enc(withExt)).ok).toBe(false);
  });

  test("messages out of order, and any message after the exchange ended, are errors", () => {
    expectScramError(() => new ScramServer(verifier).handleClientFinal(enc(validFinal)), "08P01", /unexpected/);
    const server = serverAfterFirst();
    expectScramError(() => server.handleClientFirst(enc("n,,n=,r=cli")), "08P01", /unexpected/);
    expectScramError(() => server.handleClientFinal(enc(validFinal)), "08P01", /unexpected/);
    const failed = new ScramServer(verifier);
    expect(() => failed.handleClientFirst(enc("garbage"))).toThrow(ScramError);
    expectScramError(() => failed.handleClientFirst(enc("n,,n=,r=cli")), "08P01", /unexpected/);
  });
});

describe("ScramClient rejects bad server messages", () => {
  const salt = Buffer.from(verifier.salt).toString("base64");
  const cases: [string, string, ScramSqlState, RegExp][] = [
    ["nonce not extending ours", `r=other,s=${salt},i=16`, "08P01", /nonce mismatch/],
    ["nonce equal to ours (no server part)", `r=cli,s=${salt},i=16`, "08P01", /nonce mismatch/],
    ["mandatory extension", `m=x,r=clisrv,s=${salt},i=16`, "0A000", /extension/],
    ["missing salt", "r=clisrv,i=16", "08P01", /incomplete/],
    ["empty salt", "r=clisrv,s=,i=16", "08P01", /salt/],
    ["iterations zero", `r=clisrv,s=${salt},i=0`, "08P01", /iteration/],
    ["iterations negative", `r=clisrv,s=${salt},i=-1`, "08P01", /iteration/],
    ["iterations huge", `r=clisrv,s=${salt},i=99999999999`, "08P01", /iteration/],
  ];
  test.each(cases)("%s", (_name, message, sqlState, pattern) => {
    const client = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
    client.clientFirst();
    expectScramError(() => client.handleServerFirst(message), sqlState, pattern);
  });

  test("server-final: malformed signature, and calls out of order", () => {
    const client = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
    expectScramError(() => client.handleServerFirst(`r=clisrv,s=${salt},i=16`), "08P01", /unexpected/);
    const c2 = new ScramClient({ password: PASSWORD }, { nonce: "cli" });
    c2.clientFirst();
    c2.handleServerFirst(`r=clisrv,s=${salt},i=16`);
    expectScramError(() => c2.verifyServerFinal("v=AAAA"), "08P01", /server signature/);
    expectScramError(() => c2.verifyServerFinal("v=AAAA"), "08P01", /unexpected/);
  });

  test("constructor rejects keys of the wrong size and unusable nonces", () => {
    expect(() => new ScramClient({ clientKey: new Uint8Array(31) })).toThrow(RangeError);
    expect(() => new ScramClient({ clientKey: new Uint8Array(32), serverKey: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => new ScramClient({ password: "x" }, { nonce: "a,b" })).toThrow(TypeError);
    expect(() => new ScramServer(verifier, { nonce: "" })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: seeded, so a failure reproduces; mutations start from valid messages so they reach
// deep into the parsers instead of all dying on the first byte.


const INTERESTING = [..."=,nrcpaymevsi0123456789+/\u0000", "\u00e9", "=2C", "=3D", ",p=", ",r=", "c=biws"];

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n);
  let bytes = Array.from(input);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const pos = int(bytes.length + 1);
    switch (int(7)) {
      case 0: // flip a byte to anything, including invalid UTF-8
        if (bytes.length) bytes[int(bytes.length)] = int(256);
        break;
      case 1: // insert a token the grammar cares about
        bytes.splice(pos, 0, ...enc(INTERESTING[int(INTERESTING.length)]));
        break;
      case 2: // delete a run
        bytes.splice(pos, 1 + int(6));
        break;
      case 3: // truncate
        bytes = bytes.slice(0, pos);
        break;
      case 4: // duplicate a run
        bytes.splice(pos, 0, ...bytes.slice(int(bytes.length), int(bytes.length) + 8));
        break;
      case 5: // swap two comma-separated attributes
      {
        const parts = new TextDecoder().decode(new Uint8Array(bytes)).split(",");
        const i = int(parts.length);
        const j = int(parts.length);
        [parts[i], parts[j]] = [parts[j], parts[i]];
        bytes = Array.from(enc(parts.join(",")));
        break;
      }
      default: // replace with random bytes
        bytes = Array.from({ length: int(40) }, () => int(256));
    }
  }
  return new Uint8Array(bytes);
}

describe("fuzz", () => {
  test("2,000 fuzzed client-first/final messages only ever throw ScramError or return ok:false", () => {
    const rand = prng(0x5c7a);
    const client = new ScramClient({ password: PASSWORD }, { nonce: "fuzzclient" });
    const validFirst = enc(client.clientFirst());
    const validFinal = enc(client.handleServerFirst(new ScramServer(verifier, { nonce: "srv" }).handleClientFirst(validFirst)));
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    const stats = { firstRejected: 0, finalRejected: 0, finalFailed: 0, finalOk: 0 };

    for (let i = 0; i < 2000; i++) {
      const first = i % 2 === 0 ? mutate(validFirst, rand) : validFirst;
      const final = i % 2 === 1 || rand() < 0.5 ? mutate(validFinal, rand) : validFinal;
      const server = new ScramServer(verifier, { nonce: "srv" });
      try {
        server.handleClientFirst(first);
      } catch (e) {
        if (!(e instanceof ScramError)) throw new Error(`case ${i}: non-ScramError on client-first: ${String(e)}`);
        expect(e.message).toMatch(/^[\x20-\x7e]+$/);
        stats.firstRejected++;
        continue;
      }
      try {
        const result = server.handleClientFinal(final);
        if (result.ok) {
          // Only the untouched exchange may succeed.
          expect(same(first, validFirst) && same(final, validFinal)).toBe(true);
          stats.finalOk++;
        } else {
          stats.finalFailed++;
        }
      } catch (e) {
        if (!(e instanceof ScramError)) throw new Error(`case ${i}: non-ScramError on client-final: ${String(e)}`);
        expect(e.message).toMatch(/^[\x20-\x7e]+$/);
        stats.finalRejected++;
      }
    }
    // The fuzzer must reach every outcome, or it is not testing what it claims to.
    expect(stats.firstRejected).toBeGreaterThan(100);
    expect(stats.finalRejected).toBeGreaterThan(100);
    expect(stats.finalFailed).toBeGreaterThan(10);
  });

  test("500 fuzzed server-first/final messages only ever throw ScramError on the client", () => {
    const rand = prng(0xc11e);
    const clientKey = independentClientKey(PASSWORD, verifier);
    const makeClient = () => new ScramClient({ clientKey, serverKey: verifier.serverKey }, { nonce: "fuzzclient" });
    const reference = makeClient();
    const server = new ScramServer(verifier, { nonce: "srv" });
    const validServerFirst = enc(server.handleClientFirst(enc(reference.clientFirst())));
    const result = server.handleClientFinal(enc(reference.handleServerFirst(validServerFirst)));
    if (!result.ok) throw new Error(result.reason);
    const validServerFinal = enc(result.serverFinal);
    let reachedFinal = 0;

    for (let i = 0; i < 500; i++) {
      const client = makeClient();
      client.clientFirst();
      try {
        client.handleServerFirst(i % 2 === 0 ? mutate(validServerFirst, rand) : validServerFirst);
        reachedFinal++;
        client.verifyServerFinal(mutate(validServerFinal, rand));
      } catch (e) {
        if (!(e instanceof ScramError)) throw new Error(`case ${i}: non-ScramError: ${String(e)}`);
      }
    }
    expect(reachedFinal).toBeGreaterThan(250);
  });
});
