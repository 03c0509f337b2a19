// The userlist file: parsing, the iteration-count limit applied when it is loaded, and the verifier
// census it becomes (what unknown users' mock exchanges are modelled on).

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifierCensus } from "../../../src/auth/census.ts";
import { loadUserlist, parseUserlist, UserlistError } from "../../../src/auth/userlist.ts";

const dir = mkdtempSync(join(tmpdir(), "pggate-userlist-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  verifierCensus.replaceAll([]);
});

const scram = (iterations: number) =>
  `SCRAM-SHA-256$${iterations}:SBY7uJ3PEvXF7tG3qW3dVA==$yBmdZEM8vFxm4e0zjnCUTdbHYWp/vDzFvhB9P1OB45Q=:Xf0r+z0d6w4kUJp3AwRnjowm0ohu1wb7GWa9yAXi8tU=`;
const MD5 = "md5" + "0123456789abcdef".repeat(2);

/** Runs `fn` with stderr (where src/log writes) captured; returns what was logged. */
function captureLog<T>(fn: () => T): { result: T; logged: string } {
  const original = process.stderr.write;
  let logged = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    logged += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { result: fn(), logged };
  } finally {
    process.stderr.write = original;
  }
}

describe("parseUserlist", () => {
  test("quoted fields, doubled quotes, comments", () => {
    const users = parseUserlist(`; comment\n# another\n"alice" "pw"\n"b""ob" "${MD5}"\n`);
    expect([...users.keys()]).toEqual(["alice", 'b"ob']);
    expect(users.get("alice")).toEqual({ kind: "plain", password: "pw" });
  });

  test("a bad line is an error", () => {
    expect(() => parseUserlist("alice pw\n")).toThrow(UserlistError);
  });
});

describe("loadUserlist", () => {
  test("a verifier above auth.max_scram_iterations is left out at once (its user cannot log in)", () => {
    const path = join(dir, "users.txt");
    writeFileSync(path, `"slow" "${scram(2_147_483_647)}"\n"fast" "${scram(4096)}"\n"old" "${MD5}"\n"plain" "pw"\n`);
    const started = performance.now();
    const { result: users, logged } = captureLog(() => loadUserlist(path, 1_000_000));
    expect(performance.now() - started).toBeLessThan(200);
    expect([...users.keys()]).toEqual(["fast", "old", "plain"]);
    expect(logged).toContain("level=warn event=userlist_verifier_unusable");
    expect(logged).toContain('user=slow error="SCRAM iteration count 2147483647 exceeds auth.max_scram_iterations (1000000)"');
    // A higher limit lets it in.
    expect(loadUserlist(path, 2_147_483_647).has("slow")).toBe(true);
  });

  test("the loaded users become the census: the md5 share and the common iteration count are exact", () => {
    const path = join(dir, "census.txt");
    writeFileSync(path, `"a" "${scram(10000)}"\n"b" "${scram(10000)}"\n"c" "${scram(4096)}"\n"d" "${MD5}"\n`);
    loadUserlist(path);
    expect(verifierCensus.size).toBe(4);
    expect(verifierCensus.md5Share()).toBe(0.25);
    expect(verifierCensus.mockIterations()).toBe(10000);
  });
});
