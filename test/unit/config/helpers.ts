// Temp dirs and error capture shared by the config tests.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
