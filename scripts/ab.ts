// A/B harness for one change: two PgGate binaries (e.g. a build of main and a build with the
// change) side by side on one throwaway cluster, rounds interleaved A B A B … so drift on a
// shared machine hits both alike. Prints TPS and proxy CPU per transaction per round and medians.
//
//   npx bun scripts/ab.ts --a dist/pggate-main --b dist/pggate [--rounds 5] [--duration 5]
//                         [--args "-S -M simple -c 20 -j 2"] [--user scram|md5] [--pgbouncer] [--split false]
//
// Not a benchmark for the README (scripts/bench.ts is): a quick, honest answer to "did it pay".
import { mkdtempSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startCluster } from "./cluster.ts";
import { runPgbench } from "./bench/pgbench.ts";
import { CLK_TCK, cpuTicks, stopAllTracked } from "./bench/procs.ts";
import { startPgbouncer, startPggate, type RunningSystem, type StartContext } from "./bench/systems.ts";

interface Args {
  a: string;
  b: string;
  rounds: number;
  duration: number;
  pgbench: string[];
  user: "scram" | "md5";
  pgbouncer: boolean;
  split: boolean;
}

function parse(argv: string[]): Args {
  const o: Args = { a: "", b: "dist/pggate", rounds: 5, duration: 5, pgbench: ["-S", "-M", "simple", "-c", "20", "-j", "2"], user: "scram", pgbouncer: false, split: true };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i] ?? "";
    switch (argv[i]) {
      case "--a": o.a = v(); break;
      case "--b": o.b = v(); break;
      case "--rounds": o.rounds = Number(v()); break;
      case "--duration": o.duration = Number(v()); break;
      case "--args": o.pgbench = v().split(/\s+/).filter(Boolean); break;
      case "--user": o.user = v() === "md5" ? "md5" : "scram"; break;
      case "--pgbouncer": o.pgbouncer = true; break;
      case "--split": o.split = v() !== "false"; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!o.a) throw new Error("--a BINARY is required");
  return o;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const workDir = mkdtempSync(join(tmpdir(), "pggate-ab-"));
  chmodSync(workDir, 0o755);
  const cluster = await startCluster({ replicas: 2 });
  try {
    const init = Bun.spawnSync(["pgbench", "-i", "-s", "10", "-q", `host=127.0.0.1 port=${cluster.primary.port} user=postgres dbname=app`]);
    if (init.exitCode !== 0) throw new Error(init.stderr.toString());
    await cluster.psql(cluster.primary, "GRANT SELECT, UPDATE, INSERT ON ALL TABLES IN SCHEMA public TO pggate_scram, pggate_md5", "app");
    await cluster.waitForReplay();
    const ctx = (binary: string): StartContext => ({ cluster, workDir, pggateBinary: resolve(binary), database: "app" });
    const systems: { label: string; sys: RunningSystem }[] = [
      { label: `A ${args.a}`, sys: await startPggate(ctx(args.a), { id: "E", split: args.split, metrics: true, poolSize: 20, name: "a" }) },
      { label: `B ${args.b}`, sys: await startPggate(ctx(args.b), { id: "E", split: args.split, metrics: true, poolSize: 20, name: "b" }) },
    ];
    if (args.pgbouncer) systems.push({ label: "PgBouncer", sys: await startPgbouncer(ctx(args.a), { poolSize: 20, maxClientConn: 1100 }) });
    const u = cluster.users[args.user];
    const target = (s: RunningSystem) => ({ port: s.port, user: u.user, password: u.password, database: "app" });
    for (const { sys } of systems) await runPgbench(target(sys), { args: ["-S", "-c", "20", "-j", "2"], durationS: 8, logPrefix: null });
    const results = new Map<string, { tps: number[]; us: number[] }>(systems.map((s) => [s.label, { tps: [], us: [] }]));
    for (let round = 1; round <= args.rounds; round++) {
      const order = round % 2 === 1 ? systems : [...systems].reverse();
      for (const { label, sys } of order) {
        const t0 = cpuTicks(sys.pids());
        const r = await runPgbench(target(sys), { args: args.pgbench, durationS: args.duration, logPrefix: null });
        const cpuMs = ((cpuTicks(sys.pids()) - t0) * 1000) / CLK_TCK;
        const tps = r.tps ?? 0;
        const us = r.transactions ? (cpuMs * 1000) / r.transactions : NaN;
        results.get(label)!.tps.push(tps);
        results.get(label)!.us.push(us);
        console.log(`round ${round} ${label.padEnd(28)} ${Math.round(tps).toString().padStart(6)} tps  ${us.toFixed(1).padStart(6)} µs CPU/txn${r.failedTransactions ? `  ${r.failedTransactions} failed` : ""}`);
      }
    }
    console.log("\nmedians (range):");
    for (const [label, r] of results) {
      console.log(
        `${label.padEnd(30)} ${Math.round(median(r.tps))} tps (${Math.round(Math.min(...r.tps))}–${Math.round(Math.max(...r.tps))}), ` +
          `${median(r.us).toFixed(1)} µs/txn (${Math.min(...r.us).toFixed(1)}–${Math.max(...r.us).toFixed(1)})`,
      );
    }
    for (const { sys } of systems) await sys.stop();
  } finally {
    await stopAllTracked();
    await cluster.stop();
  }
}

await main();
