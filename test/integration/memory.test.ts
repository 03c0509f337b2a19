// Issue 15 #2: memory is bounded. PgGate runs as its own process so its peak RSS (VmHWM, reset
// after warm-up) can be read: a 200 MB query is held once, and 20 clients sending 100 MB each at
// once stay within limits.max_buffered_bytes because reading pauses when it is reached.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { stringify } from "yaml";
import { cstr, messages, typed } from "../frames.ts";
import { baseConfig, freePort, scratchPath, waitForPort } from "./harness.ts";
import { rawMd5Login } from "./raw-login.ts";

const MB = 1024 * 1024;

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** A simple Query of about `bytes` bytes that the server runs cheaply (the bulk is a comment). */
function bigQuery(bytes: number): Uint8Array {
  return typed("Q", cstr(`SELECT 1 AS one -- ${"x".repeat(bytes)}`));
}

async function gatewayProcess(extra: Record<string, unknown>): Promise<{ proc: Subprocess; port: number }> {
  const port = freePort();
  const path = scratchPath("pggate.yaml");
  writeFileSync(path, stringify(baseConfig({ auth: { mode: "auth_query" }, routing: { read_write_split: false }, listen: { host: "127.0.0.1", port }, ...extra })));
  const proc = Bun.spawn([process.execPath, "run", "src/main.ts", "--config", path], { stdout: "ignore", stderr: "ignore" });
  await waitForPort(port);
  return { proc, port };
}

describe("bounded memory", () => {
  let gw: { proc: Subprocess; port: number };
  beforeAll(async () => {
    gw = await gatewayProcess({ limits: { max_buffered_bytes: 1024 * MB } });
  });
  afterAll(() => {
    gw.proc.kill();
  });

  test("a 200 MB query: peak RSS at most the idle baseline + 1.3 × the message", async () => {
    const pid = gw.proc.pid;
    const warm = await rawMd5Login(gw.port, "app");
    warm.close();
    const c = await rawMd5Login(gw.port, "app");
    await Bun.sleep(300);
    const baseline = status(pid, "VmRSS");
    writeFileSync(`/proc/${pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
    const q = bigQuery(200 * MB);
    await c.write(q);
    expect(await c.waitFor((b) => messages(b).some((m) => m.type === "Z"), 60_000)).toBe(true);
    expect(messages(c.bytes).map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    const peak = status(pid, "VmHWM");
    c.close();
    console.log(`200 MB query: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${(peak - baseline).toFixed(0)} MB, ${((peak - baseline) / 200).toFixed(2)}× the message)`);
    expect(peak - baseline).toBeLessThanOrEqual(1.3 * 200);
  }, 90_000);

  test("20 clients sending 100 MB each at once: every query answered, peak RSS under baseline + limits.max_buffered_bytes + one message", async () => {
    const pid = gw.proc.pid;
    const clients = await Promise.all(Array.from({ length: 20 }, () => rawMd5Login(gw.port, "app")));
    await Bun.sleep(300);
    const baseline = status(pid, "VmRSS");
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    const q = bigQuery(100 * MB);
    await Promise.all(clients.map((c) => c.write(q)));
    const answered = await Promise.all(clients.map((c) => c.waitFor((b) => messages(b).some((m) => m.type === "Z"), 120_000)));
    const peak = status(pid, "VmHWM");
    for (const c of clients) c.close();
    console.log(`20 × 100 MB: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${(peak - baseline).toFixed(0)} MB; budget 1024 MB, 2000 MB sent)`);
    expect(answered.every(Boolean)).toBe(true);
    // The documented bound: the budget, exceeded by at most one message (the last reader goes on,
    // so a budget full of partial messages cannot deadlock), plus consumed socket buffers not yet
    // collected (a collection is forced every 32 MB of large input); 10 % for the allocator. Seen
    // on this machine: +855 to +952 MB, once +1,178 MB under the full suite.
    expect(peak - baseline).toBeLessThan((1024 + 100 + 32) * 1.1);
  }, 180_000);
});
