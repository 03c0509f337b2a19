// PgGate authenticating clients itself: an unknown user must be indistinguishable from a known one
// by the method offered, the salt's stability and the iteration count (the census they follow),
// and must fail exactly like a wrong password. Driven through a fake ClientChannel; frames are
// built with test/frames.ts and read here by hand.

import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { VerifierCensus, verifierCensus } from "../../../src/auth/census.ts";
import { authenticateClient, chooseMockMethod, type ClientMethod } from "../../../src/auth/client-auth.ts";
import type { ClientChannel } from "../../../src/auth/client-channel.ts";
import { ScramClient } from "../../../src/auth/scram.ts";
import { parseVerifier, scramVerifierFromPassword, type Verifier } from "../../../src/auth/verifier.ts";
import { PgError } from "../../../src/errors/index.ts";
import type { InboxFrame } from "../../../src/net/inbox.ts";
import { cat, cstr, i32, text } from "../../frames.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const PASSWORD_MESSAGE = 0x70; // 'p'

afterEach(() => verifierCensus.replaceAll([]));

/** A client as authenticateClient sees it: what PgGate sent, and answers the test feeds in. */
class FakeClient implements ClientChannel {
  readonly sent: Uint8Array[] = [];
  private readonly answers: InboxFrame[] = [];
  private waiter: ((f: InboxFrame) => void) | null = null;

  send(buf: Uint8Array): void {
    this.sent.push(buf);
  }

  next(): Promise<InboxFrame> {
    const f = this.answers.shift();
    if (f) return Promise.resolve(f);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  answer(body: Uint8Array): void {
    const f = { type: PASSWORD_MESSAGE, body };
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(f);
    } else this.answers.push(f);
  }

  /** The n-th Authentication request sent (0-based), once PgGate has sent it. */
  async request(n: number): Promise<{ code: number; data: Uint8Array }> {
    for (let i = 0; this.sent.length <= n; i++) {
      if (i > 2000) throw new Error(`PgGate sent only ${this.sent.length} messages`);
      await Bun.sleep(1);
    }
    const f = this.sent[n];
    if (f[0] !== 0x52) throw new Error(`expected an Authentication request, got 0x${f[0].toString(16)}`);
    const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
    return { code: view.getInt32(5), data: f.subarray(9, 1 + view.getInt32(1)) };
  }
}

/** SASLInitialResponse body: mechanism String, Int32 length, client-first-message. */
function saslInitialResponse(data: string): Uint8Array {
  return cat(cstr("SCRAM-SHA-256"), i32(text(data).length), text(data));
}

interface Attempt {
  /** The method PgGate chose to challenge with (an AuthCode). */
  code: number;
  /** For SCRAM: the server-first-message. */
  serverFirst: string | null;
  /** For MD5: the challenge's salt, as hex. */
  md5Salt: string | null;
  outcome: "ok" | string;
}

/** One login attempt with `password`, answering whatever PgGate asks as a real client would. */
async function attempt(user: string, verifier: Verifier | null, method: ClientMethod, password: string): Promise<Attempt> {
  const ch = new FakeClient();
  const running = authenticateClient(ch, user, verifier, method).then(
    () => "ok",
    (e: unknown) => (e instanceof PgError ? `${e.code} ${e.message}` : `unexpected ${String(e)}`),
  );
  const first = await ch.request(0);
  let serverFirst: string | null = null;
  let md5Salt: string | null = null;
  if (first.code === 10) {
    const client = new ScramClient({ password });
    ch.answer(saslInitialResponse(client.clientFirst()));
    serverFirst = dec((await ch.request(1)).data);
    ch.answer(enc(client.handleServerFirst(serverFirst)));
  } else if (first.code === 5) {
    md5Salt = Buffer.from(first.data).toString("hex");
    const inner = createHash("md5").update(password + user).digest("hex");
    ch.answer(enc(`md5${createHash("md5").update(inner).update(first.data).digest("hex")}\0`));
  } else {
    ch.answer(enc(`${password}\0`));
  }
  return { code: first.code, serverFirst, md5Salt, outcome: await running };
}

const attr = (serverFirst: string | null, name: string) => new RegExp(`(?:^|,)${name}=([^,]*)`).exec(serverFirst ?? "")?.[1];
const wrongPassword = (user: string) => `28P01 password authentication failed for user "${user}"`;
const MD5_ALICE = parseVerifier("md5" + createHash("md5").update("s3cretalice").digest("hex"));

describe("an unknown user looks like a known one with a wrong password", () => {
  test("mock md5: an MD5 challenge, a fresh salt each time, and the wrong-password error", async () => {
    const known = await attempt("alice", MD5_ALICE, "md5", "wrong");
    const ghost1 = await attempt("ghost", null, "md5", "whatever");
    const ghost2 = await attempt("ghost", null, "md5", "whatever");
    expect(known).toMatchObject({ code: 5, serverFirst: null, outcome: wrongPassword("alice") });
    expect(ghost1).toMatchObject({ code: 5, serverFirst: null, outcome: wrongPassword("ghost") });
    expect(ghost2.outcome).toBe(wrongPassword("ghost"));
    expect(ghost1.md5Salt).toMatch(/^[0-9a-f]{8}$/);
    expect(ghost1.md5Salt).not.toBe(ghost2.md5Salt);
    // Control: the right password does pass for the known user.
    expect((await attempt("alice", MD5_ALICE, "md5", "s3cret")).outcome).toBe("ok");
  });

  test("a plain (userlist) user's SCRAM salt is stable across attempts, like an unknown user's", async () => {
    const plain = parseVerifier("hunter2");
    const a = await attempt("carol", plain, "scram", "wrong");
    const b = await attempt("carol", plain, "scram", "hunter2");
    expect(a.outcome).toBe(wrongPassword("carol"));
    expect(b.outcome).toBe("ok");
    expect(attr(a.serverFirst, "s")).toBe(attr(b.serverFirst, "s"));
    const g1 = await attempt("ghost", null, "scram", "x");
    const g2 = await attempt("ghost", null, "scram", "x");
    expect(g1.outcome).toBe(wrongPassword("ghost"));
    expect(attr(g1.serverFirst, "s")).toBe(attr(g2.serverFirst, "s"));
    // A changed password (userlist reload) is seen at once, and keeps the name's salt.
    const changed = await attempt("carol", parseVerifier("new-pw"), "scram", "new-pw");
    expect(changed.outcome).toBe("ok");
    expect(attr(changed.serverFirst, "s")).toBe(attr(a.serverFirst, "s"));
  });

  test("the mock's iteration count is the one most real verifiers use, and plain users get it too", async () => {
    const salt = new Uint8Array(16).fill(3);
    const at10k = await scramVerifierFromPassword("pw", salt, 10_000);
    const at4096 = await scramVerifierFromPassword("pw", salt, 4096);
    expect(attr((await attempt("ghost", null, "scram", "x")).serverFirst, "i")).toBe("4096"); // nothing seen yet
    verifierCensus.replaceAll([["a", at10k], ["b", at10k], ["c", at4096]]);
    const known = await attempt("a", at10k, "scram", "wrong");
    const ghost = await attempt("ghost", null, "scram", "x");
    const plain = await attempt("carol", parseVerifier("hunter2"), "scram", "hunter2");
    expect(attr(known.serverFirst, "i")).toBe("10000");
    expect(attr(ghost.serverFirst, "i")).toBe("10000");
    expect(attr(plain.serverFirst, "i")).toBe("10000");
    expect(plain.outcome).toBe("ok");
    expect(ghost.outcome).toBe(wrongPassword("ghost"));
  });
});

describe("chooseMockMethod", () => {
  const names = Array.from({ length: 4000 }, (_, i) => `user_${i}`);
  const md5Fraction = (census: VerifierCensus) => names.filter((n) => chooseMockMethod(n, census) === "md5").length / names.length;
  const md5: Verifier = { kind: "md5", hash: "md5" + "0".repeat(32) };
  const plain: Verifier = { kind: "plain", password: "pw" };

  test("offers md5 to unknown names in the share known users have it", () => {
    const census = new VerifierCensus();
    expect(md5Fraction(census)).toBe(0); // no user known: SCRAM, PostgreSQL's default
    census.replaceAll(Array.from({ length: 10 }, (_, i) => [`u${i}`, i < 3 ? md5 : plain] as const));
    expect(Math.abs(md5Fraction(census) - 0.3)).toBeLessThan(0.03);
    census.replaceAll([["only", md5]]);
    expect(md5Fraction(census)).toBe(1);
  });

  test("gives one name the same method every time", () => {
    const census = new VerifierCensus();
    census.replaceAll([["a", md5], ["b", plain]]);
    for (const n of names.slice(0, 200)) expect(chooseMockMethod(n, census)).toBe(chooseMockMethod(n, census));
  });

  test("the process census is what it reads by default", () => {
    verifierCensus.replaceAll([["a", md5]]);
    expect(chooseMockMethod("anyone")).toBe("md5");
  });
});

describe("VerifierCensus", () => {
  test("auth_query observations: counted once per user, forgotten when the user goes, bounded", async () => {
    const census = new VerifierCensus(3);
    const v = await scramVerifierFromPassword("pw", new Uint8Array(16), 8192);
    census.observe("a", v);
    census.observe("a", v);
    census.observe("b", { kind: "md5", hash: "md5" + "0".repeat(32) });
    expect(census.size).toBe(2);
    expect(census.md5Share()).toBe(0.5);
    expect(census.mockIterations()).toBe(8192);
    census.observe("b", null);
    expect(census.md5Share()).toBe(0);
    for (const u of ["c", "d", "e"]) census.observe(u, { kind: "plain", password: "x" });
    expect(census.size).toBe(3); // "a" was the oldest and is forgotten
    expect(census.mockIterations()).toBe(4096);
  });
});
