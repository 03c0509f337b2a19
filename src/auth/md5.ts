// MD5 password hashing and the AuthenticationMD5Password challenge/response (PostgreSQL docs,
// "Password Authentication" and "Message Formats": AuthenticationMD5Password). Pure functions;
// knows nothing about sockets or framing: callers pass the 4-byte salt and the PasswordMessage text.

import { createHash, timingSafeEqual } from "node:crypto";
import type { Verifier } from "./secrets.ts";

/** Lowercase hex MD5 of a string (as UTF-8) or of raw bytes. */
export function md5Hex(s: string | Uint8Array): string {
  return createHash("md5").update(s).digest("hex");
}

/** The stored form PostgreSQL uses: "md5" + md5hex(password + username). */
export function md5PasswordHash(user: string, password: string): string {
  return "md5" + md5Hex(password + user);
}

/**
 * The PasswordMessage a client sends for AuthenticationMD5Password:
 * "md5" + md5hex(md5hex(password + username) + salt), where the inner hex digest is exactly the
 * part of the stored hash after "md5", so the response can be built from the hash alone.
 * Throws if `hash` is not "md5" + 32 lowercase hex digits or the salt is not 4 bytes.
 */
export function md5Response(hash: string, salt: Uint8Array): string {
  if (!/^md5[0-9a-f]{32}$/.test(hash)) throw new TypeError('md5Response: expected "md5" + 32 lowercase hex digits');
  if (salt.length !== 4) throw new RangeError("md5Response: the MD5 salt is exactly 4 bytes");
  const hex = new TextEncoder().encode(hash.slice(3));
  const input = new Uint8Array(hex.length + salt.length);
  input.set(hex, 0);
  input.set(salt, hex.length);
  return "md5" + md5Hex(input);
}

/**
 * Checks a client's MD5 PasswordMessage. Works for md5 verifiers and, like PostgreSQL's
 * md5_crypt_verify(), for plaintext ones (hashed with the username first). A SCRAM verifier cannot
 * answer an MD5 challenge (the MD5 hash is not derivable from it), so it always fails.
 */
export function verifyMd5Response(v: Verifier, user: string, salt: Uint8Array, response: string): boolean {
  let expected: string;
  switch (v.kind) {
    case "scram":
      return false;
    case "md5":
      if (!/^md5[0-9a-f]{32}$/.test(v.hash)) return false;
      expected = md5Response(v.hash, salt);
      break;
    case "plain":
      expected = md5Response(md5PasswordHash(user, v.password), salt);
      break;
  }
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(response);
  // The expected length (35) is public, so rejecting other lengths early leaks nothing.
  return a.length === b.length && timingSafeEqual(a, b);
}
