// One scratch directory per test process for config files, userlists and COPY data, removed once
// after all test files by test/preload.ts (bun test runs no process "exit" handlers). No test logic.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let dir: string | null = null;
let seq = 0;

/** A path no other call returns, inside the scratch directory; nothing is created at it. */
export function scratchPath(name: string): string {
  dir ??= mkdtempSync(join(tmpdir(), "pggate-tests-"));
  return join(dir, `${++seq}-${name}`);
}

export function removeScratch(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
}
