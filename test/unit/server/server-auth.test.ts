// authenticateToServer against fake PostgreSQL servers (a Bun.listen socket speaking the server side
// of startup and authentication): impostors that skip or forge the SCRAM proof, ask for secrets we
// must not send, or ask for ruinous iteration counts are refused; honest servers still get in.
// The fake builds its frames with test/frames.ts and parses them by hand, not with src/protocol, so a
// codec bug cannot hide.

import { afterEach, describe, expect, test } from "bun:test";
import { createHmac, pbkdf2Sync } from "node:crypto";
import type { Socket } from "bun";
import type { ServerCredentials } from "../../../src/auth/credentials.ts";
import { ScramServer } from "../../../src/auth/scram.ts";
import { authenticateToServer, DEFAULT_SERVER_AUTH_POLICY, ServerAuthError, type ServerAuthPolicy } from "../../../src/server/server-auth.ts";
import { scramVerifierFromPassword } from "../../../src/auth/verifier.ts";
import { ServerConn } from "../../../src/server/server-conn.ts";
import { cat, cstr, i32, i8, text, typed } from "../../frames.ts";

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

// --- frames, from test/frames.ts (independent of src/protocol) -------------------------------

/** Authentication request 'R' with its int32 code and optional payload. */
const authRequest = (code: number, data: Uint8Array | string = new Uint8Array(0)) =>
  typed("R", i32(code), typeof data === "string" ? text(data) : data);
const AUTH_OK = authRequest(0);
const CLEARTEXT = authRequest(3);
const md5Request = () => authRequest(5, new Uint8Array([1, 2, 3, 4]));
const SASL = authRequest(10, cat(cstr("SCRAM-SHA-256"), i8(0)));
const saslContinue = (message: string) => authRequest(11, message);
const saslFinal = (message: string) => authRequest(12, message);
/** What a real server sends after AuthenticationOk, up to ReadyForQuery (idle). */
const STARTUP_TAIL = cat(
  typed("S", cstr("server_version"), cstr("15.0")),
  typed("K", i32(4242), i32(99)),
  typed("Z", text("I")),
);

/** SASLInitialResponse body: mechanism cstring, int32 length, client-first-message. */
function parseSaslInitial(body: Uint8Array): { mechanism: string; data: Uint8Array } {
  const nul = body.indexOf(0);
  const length = new DataView(body.buffer, body.byteOffset + nul + 1, 4).getInt32(0);
  return { mechanism: dec(body.subarray(0, nul)), data: body.subarray(nul + 5, nul + 5 + length) };
}

// --- the fake server ------------------------------------------------------------------------

interface Received {
  type: string;
  body: Uint8Array;
}

/** One accepted connection, seen from the fake server. */
class Peer {
  /** Every typed frame PgGate sent, in order. */
  readonly received: Received[] = [];
  readonly closed: Promise<void>;
  private onClosed!: () => void;
  private buf: Uint8Array = new Uint8Array(0);
  private startupSeen = false;
  private waiting: ((f: Received | null) => void)[] = [];
  private queued: Received[] = [];
  private isClosed = false;

  constructor(private readonly socket: Socket<unknown>) {
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }

  send(...frames: Uint8Array[]): void {
    this.socket.write(cat(...frames));
  }

  /** The next typed frame from PgGate; null once it closed the connection. */
  next(): Promise<Received | null> {
    const f = this.queued.shift();
    if (f) return Promise.resolve(f);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  push(chunk: Uint8Array): void {
    this.buf = cat(this.buf, chunk);
    for (;;) {
      // The StartupMessage is untyped: int32 length (itself included), then the body.
      const headerLength = this.startupSeen ? 5 : 4;
      if (this.buf.length < headerLength) return;
      const length = new DataView(this.buf.buffer, this.buf.byteOffset + headerLength - 4, 4).getInt32(0);
      const total = headerLength - 4 + length;
      if (this.buf.length < total) return;
      const f: Received = { type: this.startupSeen ? String.fromCharCode(this.buf[0]) : "startup", body: this.buf.slice(headerLength, total) };
      this.buf = this.buf.slice(total);
      this.startupSeen = true;
      this.received.push(f);
      const w = this.waiting.shift();
      if (w) w(f);
      else this.queued.push(f);
    }
  }

  close(): void {
    this.isClosed = true;
    for (const w of this.waiting.splice(0)) w(null);
    this.onClosed();
  }
}

type Script = (peer: Peer) => Promise<void>;

const servers: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

/**
 * Runs `script` as the server side of one connection and has PgGate authenticate against it.
 * Returns PgGate's error (null on success) and the peer, closed, for checking what PgGate sent.
 */
async function loginTo(script: Script, creds: ServerCredentials, policy: ServerAuthPolicy = DEFAULT_SERVER_AUTH_POLICY): Promise<{ error: Error | null; peer: Peer }> {
  let accepted!: (p: Peer) => void;
  const peerReady = new Promise<Peer>((resolve) => (accepted = resolve));
  const listener = Bun.listen<{ peer: Peer | null }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { peer: new Peer(socket) };
        accepted(socket.data.peer!);
      },
      data(socket, chunk) {
        socket.data.peer?.push(chunk);
      },
      close(socket) {
        socket.data.peer?.close();
      },
      error(socket) {
        socket.data.peer?.close();
      },
    },
  });
  servers.push(listener);
  const conn = await ServerConn.connect({ name: "fake", host: "127.0.0.1", port: listener.port }, new Map([["user", "alice"], ["database", "app"]]), { mode: "disable", ca: "", serverName: "" }, 2000, 1 << 20);
  const peer = await peerReady;
  const startup = await peer.next();
  expect(startup?.type).toBe("startup");
  const scripted = script(peer).catch(() => undefined);
  let error: Error | null = null;
  try {
    await authenticateToServer(conn, "alice", creds, policy);
  } catch (e) {
    error = e as Error;
  }
  conn.destroy();
  await peer.closed;
  await scripted;
  return { error, peer };
}

const PASSWORD = "s3cret";
const verifier = await scramVerifierFromPassword(PASSWORD, new Uint8Array(16).fill(5), 4096);
/** The ClientKey a real client proves, computed without src/ (RFC 5802 section 3). */
const clientKey = new Uint8Array(createHmac("sha256", pbkdf2Sync(PASSWORD, verifier.salt, 4096, 32, "sha256")).update("Client Key").digest());
const SCRAM_CREDS: ServerCredentials = { kind: "scram", clientKey, serverKey: verifier.serverKey };
const PASSWORD_CREDS: ServerCredentials = { kind: "password", password: PASSWORD };

/** An honest SCRAM server up to its SASLFinal; `final` may tamper with the server-final-message. */
function scramServer(final: (serverFinal: string) => string = (s) => s, after: Uint8Array = cat(AUTH_OK, STARTUP_TAIL)): Script {
  return async (peer) => {
    peer.send(SASL);
    const init = await peer.next();
    if (!init) return;
    const server = new ScramServer(verifier);
    peer.send(saslContinue(server.handleClientFirst(parseSaslInitial(init.body).data)));
    const response = await peer.next();
    if (!response) return;
    const result = server.handleClientFinal(response.body);
    if (!result.ok) throw new Error("the fake server rejected PgGate's proof");
    peer.send(saslFinal(final(result.serverFinal)), after);
  };
}

const passwordMessages = (peer: Peer) => peer.received.filter((f) => f.type === "p");

describe("honest servers still get PgGate in", () => {
  test.each([
    ["SCRAM keys", SCRAM_CREDS],
    ["a password", PASSWORD_CREDS],
  ] as const)("SCRAM with a verified server signature, holding %s", async (_name, creds) => {
    const { error, peer } = await loginTo(scramServer(), creds);
    expect(error).toBeNull();
    expect(passwordMessages(peer)).toHaveLength(2); // SASLInitialResponse + SASLResponse
  });

  test("a pg_hba `password` node gets the cleartext password PgGate holds as a real password", async () => {
    const { error, peer } = await loginTo(async (p) => {
      p.send(CLEARTEXT);
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, PASSWORD_CREDS);
    expect(error).toBeNull();
    expect(dec(passwordMessages(peer)[0].body)).toBe(`${PASSWORD}\0`);
  });

  test("an md5 node gets the MD5 response", async () => {
    const { error } = await loginTo(async (p) => {
      p.send(md5Request());
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, { kind: "md5", hash: "md5" + "0".repeat(32) });
    expect(error).toBeNull();
  });

  test("a trust node is accepted only when nodes.require_auth lists none (as the default does)", async () => {
    const trusting: Script = async (p) => p.send(AUTH_OK, STARTUP_TAIL);
    const refused = await loginTo(trusting, PASSWORD_CREDS, { ...DEFAULT_SERVER_AUTH_POLICY, requireAuth: ["password", "md5", "scram-sha-256"] });
    expect(refused.error).toBeInstanceOf(ServerAuthError);
    expect(refused.error?.message).toMatch(/without any authentication exchange.*nodes\.require_auth \(password, md5, scram-sha-256\).*add none/);
    const allowed = await loginTo(trusting, PASSWORD_CREDS);
    expect(allowed.error).toBeNull();
    const hardened = await loginTo(trusting, SCRAM_CREDS, { ...DEFAULT_SERVER_AUTH_POLICY, requireAuth: ["scram-sha-256"] });
    expect(hardened.error).toBeInstanceOf(ServerAuthError);
  });
});

describe("impostors are refused", () => {
  test.each([
    ["SCRAM keys", SCRAM_CREDS],
    ["a password", PASSWORD_CREDS],
  ] as const)("AuthenticationOk in answer to the SASLInitialResponse, holding %s", async (_name, creds) => {
    const { error } = await loginTo(async (p) => {
      p.send(SASL);
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, creds);
    expect(error).toBeInstanceOf(ServerAuthError);
    expect(error?.message).toContain("fake sent AuthenticationOk before the SCRAM exchange finished");
  });

  test("AuthenticationOk in answer to the client-final-message, with no SASLFinal", async () => {
    const skipped = await loginTo(async (p) => {
      p.send(SASL);
      const init = await p.next();
      if (!init) return;
      const server = new ScramServer(verifier);
      p.send(saslContinue(server.handleClientFirst(parseSaslInitial(init.body).data)));
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, SCRAM_CREDS);
    expect(skipped.error).toBeInstanceOf(ServerAuthError);
    expect(skipped.error?.message).toContain("before the SCRAM exchange finished");
  });

  test("a SASLFinal with a wrong server signature", async () => {
    const forged = `v=${Buffer.alloc(32, 7).toString("base64")}`;
    for (const creds of [SCRAM_CREDS, PASSWORD_CREDS]) {
      const { error } = await loginTo(scramServer(() => forged), creds);
      expect(error).toBeInstanceOf(ServerAuthError);
      expect(error?.message).toBe("SCRAM authentication with fake failed: invalid SCRAM server signature: the server does not know this role's verifier");
    }
  });

  test("a cleartext request while PgGate holds SCRAM keys: a clear error, and nothing sent", async () => {
    const { error, peer } = await loginTo(async (p) => {
      p.send(CLEARTEXT);
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, SCRAM_CREDS);
    expect(error).toBeInstanceOf(ServerAuthError);
    expect(error?.message).toBe('fake asks for a cleartext password, but PgGate only holds SCRAM keys for user "alice"');
    expect(passwordMessages(peer)).toEqual([]);
  });

  test("switching to cleartext in the middle of SCRAM does not get the password", async () => {
    const { error, peer } = await loginTo(async (p) => {
      p.send(SASL);
      if (await p.next()) p.send(CLEARTEXT);
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, PASSWORD_CREDS);
    expect(error).toBeInstanceOf(ServerAuthError);
    expect(error?.message).toBe("fake sent AuthenticationCleartextPassword where AuthenticationSASLContinue was due; refusing the connection");
    expect(passwordMessages(peer)).toHaveLength(1); // the SASLInitialResponse only
    expect(passwordMessages(peer).some((f) => dec(f.body).includes(PASSWORD))).toBe(false);
  });

  test("a method nodes.require_auth does not list", async () => {
    const { error, peer } = await loginTo(async (p) => {
      p.send(CLEARTEXT);
      if (await p.next()) p.send(AUTH_OK, STARTUP_TAIL);
    }, PASSWORD_CREDS, { ...DEFAULT_SERVER_AUTH_POLICY, requireAuth: ["scram-sha-256"] });
    expect(error?.message).toBe("fake asks for a cleartext password (password), which nodes.require_auth (scram-sha-256) does not allow");
    expect(passwordMessages(peer)).toEqual([]);
  });

  test("2^31-1 SCRAM iterations are refused at once, not computed for minutes", async () => {
    const started = performance.now();
    const { error } = await loginTo(async (p) => {
      p.send(SASL);
      const init = await p.next();
      if (!init) return;
      const clientNonce = /r=([^,]+)/.exec(dec(parseSaslInitial(init.body).data))?.[1] ?? "";
      p.send(saslContinue(`r=${clientNonce}srv,s=${Buffer.from(verifier.salt).toString("base64")},i=2147483647`));
      await p.next();
    }, PASSWORD_CREDS);
    expect(error).toBeInstanceOf(ServerAuthError);
    expect(error?.message).toBe(
      "SCRAM authentication with fake failed: server asks for 2147483647 SCRAM iterations, more than auth.max_scram_iterations (1000000) allows",
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
