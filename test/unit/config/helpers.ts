// Temp dirs and error capture shared by the config tests.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError } from "../../../src/config/index.ts";

/** Runs `fn` expecting a ConfigError; returns its message split into lines. */
export function problemLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split("\n");
    throw e;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), "pggate-config-"));

  /** Writes `text` at a path relative to the temp dir and returns the absolute path. */
  write(rel: string, text: string): string {
    const p = join(this.path, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

let pems: { cert: string; key: string; otherKey: string } | null = null;

/** A self-signed certificate with its key, and an unrelated key (openssl, made once per run). */
export function testPems(): { cert: string; key: string; otherKey: string } {
  if (pems) return pems;
  const dir = mkdtempSync(join(tmpdir(), "pggate-pem-"));
  const gen = (args: string[]) => {
    const r = Bun.spawnSync(["openssl", ...args], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
  };
  gen(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=pggate-test", "-days", "3650", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
  gen(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", join(dir, "other.pem")]);
  pems = { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8"), otherKey: readFileSync(join(dir, "other.pem"), "utf8") };
  rmSync(dir, { recursive: true, force: true });
  return pems;
}
