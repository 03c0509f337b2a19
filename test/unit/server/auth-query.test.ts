// auth_query's rows are trusted only when there is exactly one and it names the login user
// (verifierFromRows, a pure function, so no server is needed).

import { describe, expect, test } from "bun:test";
import { verifierFromRows } from "../../../src/server/auth-query.ts";

const SECRET = "SCRAM-SHA-256$4096:SBY7uJ3PEvXF7tG3qW3dVA==$yBmdZEM8vFxm4e0zjnCUTdbHYWp/vDzFvhB9P1OB45Q=:Xf0r+z0d6w4kUJp3AwRnjowm0ohu1wb7GWa9yAXi8tU=";
const MD5 = "md5" + "0123456789abcdef".repeat(2);
const LIMIT = 1_000_000;

describe("verifierFromRows", () => {
  test("one row naming the user: its verifier", () => {
    const { verifier, problem } = verifierFromRows("alice", [["alice", SECRET]], LIMIT);
    expect(problem).toBeNull();
    expect(verifier?.kind).toBe("scram");
    expect(verifierFromRows("alice", [["alice", MD5]], LIMIT)).toEqual({ verifier: { kind: "md5", hash: MD5 }, problem: null });
  });

  test("no row: an unknown user, which is no configuration problem", () => {
    expect(verifierFromRows("ghost", [], LIMIT)).toEqual({ verifier: null, problem: null });
  });

  test("a NULL (or empty) secret: the role exists but cannot log in with a password", () => {
    expect(verifierFromRows("alice", [["alice", null]], LIMIT)).toEqual({ verifier: null, problem: null });
    expect(verifierFromRows("alice", [["alice", ""]], LIMIT)).toEqual({ verifier: null, problem: null });
  });

  test("one row of NULLs (a lookup function with OUT parameters that found nothing): an unknown user, no problem", () => {
    expect(verifierFromRows("ghost", [[null, null]], LIMIT)).toEqual({ verifier: null, problem: null });
  });

  test("two rows: neither is used, whichever comes last", () => {
    const v = verifierFromRows("alice", [["alice", MD5], ["alice", SECRET]], LIMIT);
    expect(v).toEqual({ verifier: null, problem: "auth.auth_query returned 2 rows; it must return at most one, for the user named by $1" });
    expect(verifierFromRows("alice", [["bob", MD5], ["alice", SECRET]], LIMIT).verifier).toBeNull();
  });

  test("a row for another name (or a NULL name) is not this user's password", () => {
    const problem = "auth.auth_query returned a row for another user name than $1; its first column must be the user name";
    expect(verifierFromRows("alice", [["bob", SECRET]], LIMIT)).toEqual({ verifier: null, problem });
    expect(verifierFromRows("alice", [["Alice", SECRET]], LIMIT)).toEqual({ verifier: null, problem });
    expect(verifierFromRows("alice", [[null, SECRET]], LIMIT)).toEqual({ verifier: null, problem });
  });

  test("a query with one column", () => {
    expect(verifierFromRows("alice", [[SECRET]], LIMIT)).toEqual({
      verifier: null,
      problem: "auth.auth_query must return two columns: the user name and its password secret",
    });
  });

  test("a verifier with more iterations than auth.max_scram_iterations is refused at once", () => {
    const started = performance.now();
    const huge = SECRET.replace("$4096:", "$2147483647:");
    expect(verifierFromRows("alice", [["alice", huge]], LIMIT)).toEqual({
      verifier: null,
      problem: "SCRAM iteration count 2147483647 exceeds auth.max_scram_iterations (1000000)",
    });
    expect(verifierFromRows("alice", [["alice", SECRET]], 4096).verifier?.kind).toBe("scram");
    expect(performance.now() - started).toBeLessThan(100);
  });
});
