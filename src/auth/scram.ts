// SCRAM-SHA-256 exchanges (RFC 5802 with SHA-256 per RFC 7677) as PostgreSQL speaks them (docs:
// "SASL Authentication", "SCRAM-SHA-256 Authentication"): ScramServer checks a client against a
// stored verifier, ScramClient logs PgGate into a server. Message text in and out; no framing, no I/O.

import { randomBytes } from "node:crypto";
import { DEFAULT_MAX_SCRAM_ITERATIONS } from "../config/schema.ts";
import {
  SCRAM_KEY_LENGTH,
  constantTimeEqual,
  fromBase64,
  hmacSha256,
  scramKeysFromPassword,
  scramKeysFromPasswordSync,
  sha256,
  toBase64,
  xorBytes,
  type ScramKeys,
  type ScramVerifier,
} from "./verifier.ts";

/**
 * SQLSTATE PgGate should report to the client for this failure, following PostgreSQL's
 * auth-scram.c: 08P01 protocol_violation for malformed messages, 0A000 feature_not_supported for
 * things SCRAM allows but PostgreSQL and PgGate do not (channel binding, authzid, mandatory
 * extensions), 28P01 invalid_password when a server rejected PgGate's own proof.
 */
export type ScramSqlState = "08P01" | "0A000" | "28P01";

/**
 * Every expected failure of a SCRAM exchange. The message is safe to show a client (it never
 * echoes raw input bytes) and is worded like PostgreSQL's own errors.
 */
export class ScramError extends Error {
  override readonly name = "ScramError";
  readonly sqlState: ScramSqlState;

  constructor(message: string, sqlState: ScramSqlState = "08P01") {
    super(message);
    this.sqlState = sqlState;
  }
}

export type ScramFinalResult =
  /** serverFinal is the AuthenticationSASLFinal data; clientKey the key the client proved it holds. */
  | { ok: true; serverFinal: string; clientKey: Uint8Array }
  /** Wrong password (or a mock verifier): PostgreSQL answers this with 28P01, not a server-final "e=". */
  | { ok: false; reason: string };

/** PostgreSQL's SCRAM_RAW_NONCE_LEN: 18 random bytes, base64-encoded to 24 printable chars. */
const RAW_NONCE_LENGTH = 18;
const MAX_ITERATIONS = 0x7fffffff;

type ServerState =
  | { step: "expect-client-first" }
  | { step: "expect-client-final"; gs2Header: string; clientFirstBare: string; serverFirst: string; nonce: string }
  | { step: "done" };

/**
 * Server side of one exchange, used once per client authentication. After handleClientFirst the
 * session sends AuthenticationSASLContinue with the returned text; after handleClientFinal it
 * sends AuthenticationSASLFinal + AuthenticationOk, or 28P01 on ok:false. Any ScramError is fatal
 * to the exchange; the object then refuses further input.
 */
export class ScramServer {
  private readonly verifier: ScramVerifier;
  private readonly serverNonce: string;
  private state: ServerState = { step: "expect-client-first" };

  /** opts.nonce fixes the server nonce part (tests only); by default it is 18 random bytes. */
  constructor(verifier: ScramVerifier, opts?: { nonce?: string }) {
    this.verifier = verifier;
    this.serverNonce = opts?.nonce ?? randomNonce();
    if (!isPrintable(this.serverNonce)) throw new TypeError("ScramServer: nonce must be non-empty printable ASCII without ','");
  }

  /**
   * Takes the SASLInitialResponse data for mechanism SCRAM-SHA-256 (the client-first-message,
   * RFC 5802 section 7) and returns the server-first-message. Throws ScramError on bad input.
   */
  handleClientFirst(data: Uint8Array): string {
    if (this.state.step !== "expect-client-first") throw this.outOfOrder("client-first-message");
    this.state = { step: "done" };
    const msg = decodeMessage(data);
    const parts = msg.split(",");

    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const flag = parts[0];
    if (flag.startsWith("p=")) {
      // We advertise only SCRAM-SHA-256, never SCRAM-SHA-256-PLUS, so a client asking for channel
      // binding has nothing to bind to; RFC 5802 section 6 lets us fail right away.
      throw new ScramError(
        "SCRAM channel binding is not supported: PgGate offers SCRAM-SHA-256, not SCRAM-SHA-256-PLUS",
        "0A000",
      );
    }
    // "n": the client does not support channel binding; "y": it does but thinks we do not, which
    // is true, so there is no downgrade to detect (RFC 5802 section 6).
    if (flag !== "n" && flag !== "y") {
      throw malformed(`unexpected channel-binding flag ${sanitize(flag)}`);
    }
    if (parts.length < 2) throw malformed("comma expected after the channel-binding flag");
    const authzid = parts[1];
    if (authzid !== "" && authzid !== "a=") {
      if (authzid.startsWith("a=")) {
        // PostgreSQL takes the role from the StartupMessage and rejects an authzid the same way.
        throw new ScramError("client uses authorization identity, but it is not supported", "0A000");
      }
      throw malformed(`unexpected attribute ${sanitize(authzid)} in client-first-message`);
    }
    if (parts.length < 4) throw malformed("client-first-message is incomplete");
    const gs2Header = `${flag},${authzid},`;
    const clientFirstBare = msg.slice(gs2Header.length);

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    if (parts[2].startsWith("m=")) {
      throw new ScramError("client requires an unsupported SCRAM extension", "0A000");
    }
    // The username is ignored: PostgreSQL authenticates the role named in the StartupMessage,
    // and libpq sends an empty n= (docs, "SCRAM-SHA-256 Authentication").
    attributeValue(parts[2], "n");
    const clientNonce = attributeValue(parts[3], "r");
    if (!isPrintable(clientNonce)) throw malformed("non-printable characters in SCRAM nonce");
    // Optional extensions are allowed and ignored (RFC 5802 section 5.1), but must be well-formed.
    for (const ext of parts.slice(4)) anyAttribute(ext);

    const nonce = clientNonce + this.serverNonce;
    const { salt, iterations } = this.verifier;
    const serverFirst = `r=${nonce},s=${toBase64(salt)},i=${iterations}`;
    this.state = { step: "expect-client-final", gs2Header, clientFirstBare, serverFirst, nonce };
    return serverFirst;
  }

  /**
   * Takes the SASLResponse data (client-final-message) and checks the proof. Throws ScramError on
   * malformed input; a well-formed message with a wrong proof is { ok: false }.
   */
  handleClientFinal(data: Uint8Array): ScramFinalResult {
    const state = this.state;
    if (state.step !== "expect-client-final") throw this.outOfOrder("client-final-message");
    this.state = { step: "done" };
    const msg = decodeMessage(data);
    const parts = msg.split(",");
    if (parts.length < 3) throw malformed("client-final-message is incomplete");

    // channel-binding = "c=" base64(cbind-input); without channel binding cbind-input is just
    // the gs2-header the client sent, e.g. "biws" for "n,,".
    const channelBinding = attributeValue(parts[0], "c");
    if (channelBinding !== toBase64(new TextEncoder().encode(state.gs2Header))) {
      throw malformed("unexpected SCRAM channel-binding attribute in client-final-message");
    }
    // The nonce must be exactly client nonce + server nonce, or this is not our exchange.
    if (attributeValue(parts[1], "r") !== state.nonce) {
      throw malformed("invalid SCRAM response (nonce mismatch)");
    }
    for (const ext of parts.slice(2, -1)) {
      if (anyAttribute(ext) === "p") throw malformed("garbage at end of client-final-message");
    }
    const proof = fromBase64(attributeValue(parts[parts.length - 1], "p"));
    if (proof === null || proof.length !== SCRAM_KEY_LENGTH) {
      throw malformed("malformed proof in client-final-message");
    }

    // AuthMessage = client-first-message-bare + "," + server-first-message + "," +
    //               client-final-message-without-proof   (RFC 5802 section 3)
    const withoutProof = parts.slice(0, -1).join(",");
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = this.verifier;
    // ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage), so XOR-ing the signature back
    // out recovers the ClientKey, which must hash to StoredKey.
    const clientKey = xorBytes(proof, hmacSha256(storedKey, authMessage));
    if (!constantTimeEqual(sha256(clientKey), storedKey)) {
      return { ok: false, reason: "invalid client proof" };
    }
    const serverSignature = hmacSha256(serverKey, authMessage);
    return { ok: true, serverFinal: `v=${toBase64(serverSignature)}`, clientKey };
  }

  private outOfOrder(what: string): ScramError {
    this.state = { step: "done" };
    return malformed(`unexpected ${what} in this SCRAM exchange`);
  }
}

/**
 * { password }: the usual case. { clientKey, serverKey? }: keys instead of a password, e.g. a
 * ClientKey recovered by ScramServer from a client's proof plus the ServerKey from the verifier
 * that auth_query returned; this lets PgGate log into the server as that client.
 */
export type ScramClientCredentials = { password: string } | { clientKey: Uint8Array; serverKey?: Uint8Array };

type ClientState =
  | { step: "initial" }
  | { step: "sent-client-first"; clientFirstBare: string }
  | { step: "sent-client-final"; authMessage: string; serverKey: Uint8Array | undefined }
  | { step: "done" };

/** What a well-formed server-first-message asks of us. */
interface ServerFirst {
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  salt: Uint8Array;
  iterations: number;
}

/**
 * Client side of one exchange (PgGate logging into PostgreSQL): send clientFirst() in a
 * SASLInitialResponse for "SCRAM-SHA-256", pass AuthenticationSASLContinue data to
 * handleServerFirst() and send its result in a SASLResponse, then pass AuthenticationSASLFinal
 * data to verifyServerFinal() before trusting the AuthenticationOk that follows.
 */
export class ScramClient {
  private readonly creds: ScramClientCredentials;
  private readonly clientNonce: string;
  private readonly username: string;
  private readonly maxIterations: number;
  private state: ClientState = { step: "initial" };
  private signatureVerified = false;

  /**
   * opts.nonce fixes the client nonce (tests only); by default it is 18 random bytes.
   * opts.username is sent in n= (default empty, as libpq does); it exists for RFC test vectors.
   * opts.maxIterations (auth.max_scram_iterations) is the highest iteration count a server may ask
   * for: each one is an HMAC we compute, and a server may ask for 2^31-1 of them.
   */
  constructor(creds: ScramClientCredentials, opts?: { nonce?: string; username?: string; maxIterations?: number }) {
    if ("clientKey" in creds) {
      if (creds.clientKey.length !== SCRAM_KEY_LENGTH) throw new RangeError("ScramClient: clientKey must be 32 bytes");
      if (creds.serverKey !== undefined && creds.serverKey.length !== SCRAM_KEY_LENGTH) {
        throw new RangeError("ScramClient: serverKey must be 32 bytes");
      }
    }
    this.creds = creds;
    this.clientNonce = opts?.nonce ?? randomNonce();
    if (!isPrintable(this.clientNonce)) throw new TypeError("ScramClient: nonce must be non-empty printable ASCII without ','");
    // saslname escaping (RFC 5802 section 7): "=" and "," may not appear literally.
    this.username = (opts?.username ?? "").replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.maxIterations = opts?.maxIterations ?? DEFAULT_MAX_SCRAM_ITERATIONS;
  }

  /**
   * True once verifyServerFinal() checked the server's signature against our ServerKey: only then
   * has the server proven it knows the role's verifier. Stays false with { clientKey } alone.
   */
  get serverVerified(): boolean {
    return this.signatureVerified;
  }

  /**
   * The client-first-message. The username is left empty as libpq does: PostgreSQL ignores it
   * and uses the StartupMessage's user (docs, "SCRAM-SHA-256 Authentication"). Flag "n": we do
   * not do channel binding.
   */
  clientFirst(): string {
    if (this.state.step !== "initial") throw new Error("ScramClient.clientFirst called twice");
    const clientFirstBare = `n=${this.username},r=${this.clientNonce}`;
    this.state = { step: "sent-client-first", clientFirstBare };
    return `n,,${clientFirstBare}`;
  }

  /**
   * Takes the server-first-message and returns the client-final-message. With { clientKey }
   * credentials the proof is only right if the server's salt and iteration count are the ones
   * the key was derived with; the client cannot tell, so a mismatch (e.g. the role's password
   * changed) shows up as the server rejecting the login with 28P01. With { password } the key
   * derivation runs PBKDF2 on a worker thread, so other clients are not held up meanwhile.
   */
  async handleServerFirstAsync(data: Uint8Array | string): Promise<string> {
    const first = this.parseServerFirst(data);
    const keys = "password" in this.creds ? await cachedKeysFromPassword(this.creds.password, first.salt, first.iterations) : this.creds;
    return this.clientFinal(first, keys.clientKey, keys.serverKey);
  }

  /**
   * handleServerFirstAsync's blocking form, for load generators and tests that answer inside a
   * socket callback: with { password } it blocks the event loop for the whole PBKDF2 run.
   */
  handleServerFirst(data: Uint8Array | string): string {
    const first = this.parseServerFirst(data);
    const keys = "password" in this.creds ? cachedKeysFromPasswordSync(this.creds.password, first.salt, first.iterations) : this.creds;
    return this.clientFinal(first, keys.clientKey, keys.serverKey);
  }

  private parseServerFirst(data: Uint8Array | string): ServerFirst {
    const state = this.state;
    if (state.step !== "sent-client-first") throw malformed("unexpected server-first-message in this SCRAM exchange");
    this.state = { step: "done" };
    const serverFirst = typeof data === "string" ? checkMessageText(data) : decodeMessage(data);
    const parts = serverFirst.split(",");

    // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    if (parts[0].startsWith("m=")) throw new ScramError("server requires an unsupported SCRAM extension", "0A000");
    if (parts.length < 3) throw malformed("server-first-message is incomplete");
    const nonce = attributeValue(parts[0], "r");
    // The server must echo our nonce and append a part of its own (RFC 5802 section 5.1).
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !isPrintable(nonce)) {
      throw malformed("invalid SCRAM response (nonce mismatch)");
    }
    const salt = fromBase64(attributeValue(parts[1], "s"));
    if (salt === null || salt.length === 0) throw malformed("malformed salt in server-first-message");
    const iterationText = attributeValue(parts[2], "i");
    const iterations = /^[1-9][0-9]{0,9}$/.test(iterationText) ? Number(iterationText) : 0;
    if (iterations < 1 || iterations > MAX_ITERATIONS) throw malformed("malformed iteration count in server-first-message");
    if (iterations > this.maxIterations) {
      throw new ScramError(
        `server asks for ${iterations} SCRAM iterations, more than auth.max_scram_iterations (${this.maxIterations}) allows`,
        "08P01",
      );
    }
    for (const ext of parts.slice(3)) anyAttribute(ext);
    return { clientFirstBare: state.clientFirstBare, serverFirst, nonce, salt, iterations };
  }

  private clientFinal(first: ServerFirst, clientKey: Uint8Array, serverKey: Uint8Array | undefined): string {
    const { nonce, serverFirst } = first;
    // "biws" = base64("n,,"): the gs2-header of clientFirst(), no channel binding data.
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${first.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmacSha256(sha256(clientKey), authMessage);
    const proof = xorBytes(clientKey, clientSignature);
    this.state = { step: "sent-client-final", authMessage, serverKey };
    return `${withoutProof},p=${toBase64(proof)}`;
  }

  /**
   * Checks the server-final-message: "v=" must carry HMAC(ServerKey, AuthMessage), which proves
   * the server knows the verifier, not just that it let us in. Throws ScramError on "e=" or a
   * wrong signature.
   */
  verifyServerFinal(data: Uint8Array | string): void {
    const state = this.state;
    if (state.step !== "sent-client-final") throw malformed("unexpected server-final-message in this SCRAM exchange");
    this.state = { step: "done" };
    const msg = typeof data === "string" ? checkMessageText(data) : decodeMessage(data);
    const parts = msg.split(",");

    // server-final-message = (server-error / verifier) ["," extensions]
    if (parts[0].startsWith("e=")) {
      throw new ScramError(`server rejected SCRAM authentication: ${sanitize(parts[0].slice(2))}`, "28P01");
    }
    const signature = fromBase64(attributeValue(parts[0], "v"));
    if (signature === null || signature.length !== SCRAM_KEY_LENGTH) {
      throw malformed("malformed server signature in server-final-message");
    }
    for (const ext of parts.slice(1)) anyAttribute(ext);

    if (state.serverKey === undefined) {
      // With only a ClientKey (recovered from a client's proof) we cannot compute the
      // ServerSignature: ServerKey comes from SaltedPassword, which the proof does not reveal.
      // The server's own verdict (AuthenticationOk or 28P01) is then all we have, and mutual
      // authentication rests on TLS verification of the server, if configured.
      return;
    }
    if (!constantTimeEqual(signature, hmacSha256(state.serverKey, state.authMessage))) {
      throw new ScramError("invalid SCRAM server signature: the server does not know this role's verifier", "08P01");
    }
    this.signatureVerified = true;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Hi() costs `iterations` HMACs. The salt and iteration count of a role do not change between
 * logins, so PgGate's many connections as the same role reuse the keys instead of re-running
 * PBKDF2 each time (PgBouncer caches the SCRAM keys for the same reason); a derivation still
 * running is shared too, so a connection storm for one role costs one PBKDF2. Bounded, oldest
 * entry evicted first; keys are password-equivalent and stay in process memory next to the
 * configured password anyway.
 */
const KEY_CACHE_LIMIT = 64;
const keyCache = new Map<string, ScramKeys | Promise<ScramKeys>>();

function keyCacheKey(password: string, salt: Uint8Array, iterations: number): string {
  return `${iterations}\u0000${toBase64(salt)}\u0000${password}`;
}

function remember(key: string, value: ScramKeys | Promise<ScramKeys>): void {
  if (keyCache.size >= KEY_CACHE_LIMIT) {
    const oldest = keyCache.keys().next();
    if (!oldest.done) keyCache.delete(oldest.value);
  }
  keyCache.set(key, value);
}

function cachedKeysFromPassword(password: string, salt: Uint8Array, iterations: number): Promise<ScramKeys> {
  const key = keyCacheKey(password, salt, iterations);
  const hit = keyCache.get(key);
  if (hit !== undefined) return Promise.resolve(hit);
  const running = scramKeysFromPassword(password, salt, iterations).then(
    (keys) => {
      if (keyCache.get(key) === running) keyCache.set(key, keys);
      return keys;
    },
    (e: unknown) => {
      if (keyCache.get(key) === running) keyCache.delete(key);
      throw e;
    },
  );
  remember(key, running);
  return running;
}

function cachedKeysFromPasswordSync(password: string, salt: Uint8Array, iterations: number): ScramKeys {
  const key = keyCacheKey(password, salt, iterations);
  const hit = keyCache.get(key);
  // A derivation in flight cannot be waited for synchronously; computing it again is correct.
  if (hit !== undefined && !(hit instanceof Promise)) return hit;
  const keys = scramKeysFromPasswordSync(password, salt, iterations);
  if (hit === undefined) remember(key, keys);
  return keys;
}

function randomNonce(): string {
  return randomBytes(RAW_NONCE_LENGTH).toString("base64");
}

function malformed(detail: string): ScramError {
  return new ScramError(`malformed SCRAM message (${detail})`, "08P01");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * SCRAM messages are UTF-8 text. PostgreSQL reads them as C strings and rejects an empty message
 * or one whose length disagrees with strlen(), i.e. an embedded NUL; so do we.
 */
function decodeMessage(data: Uint8Array): string {
  if (data.length === 0) throw malformed("the message is empty");
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    throw malformed("the message is not valid UTF-8");
  }
  return checkMessageText(text);
}

function checkMessageText(text: string): string {
  if (text.length === 0) throw malformed("the message is empty");
  if (text.includes("\u0000")) throw malformed("the message contains a NUL byte");
  return text;
}

/** attr-val = ALPHA "=" value, for one expected attribute; returns the value. */
function attributeValue(part: string | undefined, attr: string): string {
  if (part === undefined || part.length === 0 || part[0] !== attr) {
    throw malformed(`attribute "${attr}" expected, ${part === undefined || part.length === 0 ? "nothing" : sanitize(part[0])} found`);
  }
  if (part[1] !== "=") throw malformed(`expected "=" after attribute "${attr}"`);
  return part.slice(2);
}

/** Any well-formed attribute (extensions we ignore); returns its name. */
function anyAttribute(part: string): string {
  const attr = part[0];
  if (attr === undefined || !/^[A-Za-z]$/.test(attr)) {
    throw malformed(`attribute expected, ${attr === undefined ? "nothing" : sanitize(attr)} found`);
  }
  if (part[1] !== "=") throw malformed(`expected "=" after attribute "${attr}"`);
  return attr;
}

/** printable = %x21-2B / %x2D-7E (RFC 5802 section 7): printable ASCII except ",". */
function isPrintable(s: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(s);
}

/** Quotes at most a few printable ASCII characters of client input for an error message. */
function sanitize(s: string): string {
  const shown = s.slice(0, 32).replace(/[^\x20-\x7e]/g, "?");
  return `"${shown}${s.length > 32 ? "..." : ""}"`;
}
