// MD5 password hashes and AuthenticationMD5Password responses, checked against values computed
// here with node:crypto directly, not through src/auth/md5.ts.

import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { md5Hex, md5PasswordHash, md5Response, verifyMd5Response } from "../../../src/auth/md5.ts";
import { parseVerifier, scramVerifierFromPassword } from "../../../src/auth/verifier.ts";

const salt = new Uint8Array([1, 2, 3, 4]);

/** What libpq sends: "md5" + md5(md5hex(password + user) + salt), computed independently. */
function expectedResponse(user: string, password: string, s: Uint8Array): string {
  const inner = createHash("md5").update(password + user).digest("hex");
  return "md5" + createHash("md5").update(inner).update(s).digest("hex");
}

describe("md5 hashing", () => {
  test("md5Hex of strings and bytes", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex(new Uint8Array([0xff, 0x00]))).toBe(createHash("md5").update(Buffer.from([0xff, 0x00])).digest("hex"));
  });

  test("md5PasswordHash is the pg_authid form: md5 + md5hex(password + user)", () => {
    expect(md5PasswordHash("postgres", "postgres")).toBe("md53175bce1d3201d16594cebf9d7eb3f9d");
  });
});

describe("md5Response", () => {
  test("matches what a client sends for user postgres / password postgres / salt 01020304", () => {
    const response = md5Response(md5PasswordHash("postgres", "postgres"), salt);
    expect(response).toBe(expectedResponse("postgres", "postgres", salt));
    expect(response).toMatch(/^md5[0-9a-f]{32}$/);
  });

  test("depends on the salt", () => {
    const hash = md5PasswordHash("postgres", "postgres");
    expect(md5Response(hash, new Uint8Array([1, 2, 3, 5]))).not.toBe(md5Response(hash, salt));
  });

  test("rejects a non-md5 hash or a salt that is not 4 bytes", () => {
    expect(() => md5Response("postgres", salt)).toThrow(TypeError);
    expect(() => md5Response(md5PasswordHash("u", "p"), new Uint8Array(3))).toThrow(RangeError);
  });
});

describe("verifyMd5Response", () => {
  const good = expectedResponse("postgres", "postgres", salt);

  test("md5 verifier", () => {
    const v = parseVerifier(md5PasswordHash("postgres", "postgres"));
    expect(verifyMd5Response(v, "postgres", salt, good)).toBe(true);
    expect(verifyMd5Response(v, "postgres", new Uint8Array([4, 3, 2, 1]), good)).toBe(false);
    expect(verifyMd5Response(v, "postgres", salt, expectedResponse("postgres", "wrong", salt))).toBe(false);
    expect(verifyMd5Response(v, "postgres", salt, good.toUpperCase())).toBe(false);
    expect(verifyMd5Response(v, "postgres", salt, good + "0")).toBe(false);
    expect(verifyMd5Response(v, "postgres", salt, "")).toBe(false);
  });

  test("plain verifier is hashed with the username first, as PostgreSQL does", () => {
    const v = parseVerifier("postgres");
    expect(v.kind).toBe("plain");
    expect(verifyMd5Response(v, "postgres", salt, good)).toBe(true);
    // Same password, other user: the stored MD5 hash differs, so the response must not match.
    expect(verifyMd5Response(v, "alice", salt, good)).toBe(false);
  });

  test("a scram verifier cannot answer an MD5 challenge", async () => {
    const v = await scramVerifierFromPassword("postgres", undefined, 16);
    expect(verifyMd5Response(v, "postgres", salt, good)).toBe(false);
  });
});
