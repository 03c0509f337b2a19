// Preloaded by bunfig.toml for every `bun test` run: process-wide teardown only, no test logic.
import { afterAll } from "bun:test";
import { constants } from "node:os";
import { removeScratch } from "./scratch.ts";

// At the top level of a preload, afterAll runs once, after the last test file.
afterAll(removeScratch);

// An interrupted run (Ctrl-C, `timeout`, scripts/test.ts forwarding a signal) runs no afterAll:
// clean up, then end as the signal would have.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    removeScratch();
    process.exit(128 + constants.signals[signal]);
  });
}
