// `npm test` entry: starts ONE shared cluster, hands it to `bun test` in PGGATE_TEST_CLUSTER, always
// stops it, and prints one plain `N passed, N failed` line for CI. Extra args go to `bun test`
// (`npm test -- test/unit`). Owns no test logic.

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
    child = Bun.spawn(
      [process.execPath, "test", "--timeout", "60000", "--reporter=junit", `--reporter-outfile=${junitPath}`, ...process.argv.slice(2)],
      {
        stdio: ["inherit", "inherit", "inherit"],
        env: { ...process.env, PGGATE_TEST_CLUSTER: JSON.stringify(clusterInfo(cluster)) },
      },
    );
    const bunExit = await child.exited;

    let counts: Counts;
    try {
      counts = countJunit(readFileSync(junitPath, "utf8"));
    } catch {
      console.error(`bun test wrote no report (${junitPath}); exit code ${bunExit}`);
      counts = { passed: 0, failed: 0, skipped: 0 };
    }
    console.log(`${counts.passed} passed, ${counts.failed} failed`);
    if (interruptedBy) return 128 + osConstants.signals[interruptedBy];
    return bunExit !== 0 || counts.failed > 0 ? 1 : 0;
  } finally {
    await cluster?.stop();
  }
}

process.exit(await main());
