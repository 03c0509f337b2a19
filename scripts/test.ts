// `npm test` entry: starts ONE shared cluster, hands it to `bun test` in PGGATE_TEST_CLUSTER, always
// stops it, and prints one plain `N passed, N failed` line for CI (unhandled errors between tests
// count as failures). Extra args go to `bun test` (`npm test -- test/unit`). Owns no test logic.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { clusterInfo, startCluster, type Cluster } from "./cluster.ts";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Counts <testcase> elements; failed = has <failure> or <error>, skipped = has <skipped>. */
function countJunit(xml: string): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  // Either self-closing (passed) or with a body; bodies cannot contain a raw "</testcase>" since
  // messages are XML-escaped.
  for (const m of xml.matchAll(/<testcase\b[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[1] ?? "";
    if (/<(failure|error)\b/.test(body)) counts.failed++;
    else if (/<skipped\b/.test(body)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

/**
 * Copies `bun test`'s stderr through unchanged and returns how many unhandled errors between tests
 * it reported. The junit report has no trace of those (an unhandled rejection after a test timed
 * out, a FATAL arriving during afterAll): only bun's stderr says `# Unhandled error between tests`
 * per error and ` N error(s)` in its closing summary.
 */
async function relayStderr(stream: ReadableStream<Uint8Array>): Promise<number> {
  let markers = 0;
  let summary: number | null = null;
  const scan = (raw: string): void => {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, ""); // colours, when FORCE_COLOR is passed on
    if (line.startsWith("# Unhandled error between tests")) markers++;
    const m = /^ (\d+) errors?$/.exec(line.trimEnd());
    if (m) summary = Number(m[1]);
  };
  const decoder = new TextDecoder();
  let carry = "";
  for await (const chunk of stream) {
    process.stderr.write(chunk);
    const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) scan(line);
  }
  scan(carry + decoder.decode());
  return Math.max(summary ?? 0, markers);
}

async function main(): Promise<number> {
  let cluster: Cluster | undefined;
  let child: Subprocess | undefined;
  let interruptedBy: keyof typeof osConstants.signals | undefined;

  // Registered before startCluster so these run first. Before `bun test` runs, exiting is enough:
  // cluster.ts's exit hook stops a half-started cluster. Afterwards, forward the signal and let
  // the normal path below stop the cluster once `bun test` is gone.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      interruptedBy = sig;
      if (child) child.kill(sig);
      else process.exit(128 + osConstants.signals[sig]);
    });
  }

  try {
    const t0 = performance.now();
    try {
      cluster = await startCluster({ replicas: 2, tls: true });
    } catch (err) {
      console.error(`cannot start the test cluster: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
    console.error(`test cluster up in ${Math.round(performance.now() - t0)} ms (primary port ${cluster.primary.port})`);

    // Created only now and removed on any exit, so an interrupted startup leaves nothing behind.
    const workDir = mkdtempSync(join(tmpdir(), "pggate-test-"));
    process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
    const junitPath = join(workDir, "junit.xml");
    const proc = Bun.spawn(
      [process.execPath, "test", "--timeout", "60000", "--reporter=junit", `--reporter-outfile=${junitPath}`, ...process.argv.slice(2)],
      {
        stdio: ["inherit", "inherit", "pipe"],
        env: {
          ...process.env,
          // stderr is a pipe now: keep bun's colours when ours would have them.
          ...(process.stderr.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: "1" } : {}),
          PGGATE_TEST_CLUSTER: JSON.stringify(clusterInfo(cluster)),
        },
      },
    );
    child = proc;
    const [bunExit, unhandled] = await Promise.all([proc.exited, relayStderr(proc.stderr)]);

    let counts: Counts;
    try {
      counts = countJunit(readFileSync(junitPath, "utf8"));
    } catch {
      console.error(`bun test wrote no report (${junitPath}); exit code ${bunExit}`);
      counts = { passed: 0, failed: 0, skipped: 0 };
    }
    const failed = counts.failed + unhandled;
    const note = unhandled > 0 ? ` (${unhandled} unhandled error${unhandled === 1 ? "" : "s"} between tests)` : "";
    console.log(`${counts.passed} passed, ${failed} failed${note}`);
    if (interruptedBy) return 128 + osConstants.signals[interruptedBy];
    return bunExit !== 0 || failed > 0 ? 1 : 0;
  } finally {
    await cluster?.stop();
  }
}

process.exit(await main());
