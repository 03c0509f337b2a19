// `npm run bench`: PgGate against the direct primary, PgBouncer and Pgpool-II on a throwaway
// primary + 2 replicas, with pgbench. Writes bench-results/latest.{json,md,svg}. Owns every process
// it starts and stops them all on exit, error or Ctrl-C; never touches other clusters.
//
//   npx bun scripts/bench.ts [--quick] [--rounds N] [--duration S] [--only 1,3,5] [--systems A,D,E]
//
// Scenarios 1-6 and 9 (read-your-writes) are pgbench workloads, 7 is the metrics overhead of PgGate, 8 the memory of
// 10,000 idle client connections. 10 (read scale-out under per-node CPU quotas, scripts/bench/scale-out.ts) and 11
// (read_your_writes modes, scripts/bench/ryw-modes.ts) start their own proxies and write their own result files.

import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { startCluster, type Cluster } from "./cluster.ts";
import { cgroupUnavailable, CpuGroups } from "./bench/cgroups.ts";
import { cleanEnv, killRunningPgbench, runPgbench } from "./bench/pgbench.ts";
import { RYW_MODES_SETUP_SQL, rywModesMarkdown, runRywModes } from "./bench/ryw-modes.ts";
import { runScaleOut, scaleOutMarkdown } from "./bench/scale-out.ts";
import { CLK_TCK, cpuTicks, foreignTicks, killAllTrackedSync, memory, memorySampler, pssKb, sleep, snapshotAll, stopAllTracked, track } from "./bench/procs.ts";
import {
  consoleTable,
  markdown,
  summarise,
  svgChart,
  type BenchReport,
  type MemoryResult,
  type RunRecord,
  type RunStatus,
  type ScenarioDef,
} from "./bench/report.ts";
import {
  directSystem,
  psqlVia,
  startForwarder,
  startPgbouncer,
  startPggate,
  startPgpool,
  SYSTEM_NAMES,
  which,
  type RunningSystem,
  type StartContext,
  type SystemId,
} from "./bench/systems.ts";

const ROOT = resolve(import.meta.dir, "..");
const OUT_DIR = join(ROOT, "bench-results");
const BINARY = join(ROOT, "dist", "pggate");
const SCALE = 10;
const DATABASE = "app";
const POOL_SIZE = 20;
const IDLE_CLIENTS = 10_000;
/**
 * Scenario 9's transaction: insert a row, read it back. A read that misses the row (stale) divides
 * by zero: pgbench counts a failed transaction and aborts that client, so "failed 0" = no stale read.
 */
const RYW_SCRIPT = join(tmpdir(), `pggate-bench-ryw-${process.pid}.sql`);
const RYW_SQL = `INSERT INTO bench_ryw (v) VALUES (1) RETURNING id \\gset
SELECT 1 / count(*) FROM bench_ryw WHERE id = :id;
`;

const SCENARIOS: ScenarioDef[] = [
  { id: "1", title: "select-only, simple protocol, 20 clients, pool 20", args: ["-S", "-M", "simple", "-c", "20", "-j", "2"] },
  {
    id: "2", title: "select-only, prepared statements, 20 clients", args: ["-S", "-M", "prepared", "-c", "20", "-j", "2"],
    note: "PgBouncer 1.18 in transaction mode does not track protocol-level prepared statements (support arrived in 1.21): a client's Bind lands on a server connection that never saw its Parse.",
  },
  { id: "3", title: "TPC-B (default script), 20 clients", args: ["-M", "simple", "-c", "20", "-j", "2"] },
  // pgbench's -T clock includes connecting. 1000 SCRAM logins cost pgbench ~5 ms CPU each (libpq's
  // PBKDF2 on OpenSSL 3) and took 6-10 s on 2 busy cores, sometimes the whole run: this scenario
  // logs in with the MD5 user instead, and extraS leaves time for the logins.
  {
    id: "4", title: "select-only, 1000 clients over a pool of 20", args: ["-S", "-M", "simple", "-c", "1000", "-j", "2"], extraS: 4, user: "md5",
    note:
      "Expected failures: the direct primary has max_connections = 200; Pgpool-II serves at most num_init_children − reserved_connections = 20 " +
      "clients at once (one process per client; 1000 children would need 3000 backend connections, over max_connections on every node) " +
      "and answers the rest with \"Sorry, too many clients already\" instead of queueing them. Rounds after a capacity failure are not repeated.",
  },
  {
    id: "5", title: "connection storm: new SCRAM login per transaction, 8 clients", args: ["-S", "-M", "simple", "-C", "-c", "8", "-j", "2"],
    note:
      "pgbench itself spends about 5 ms CPU per SCRAM login (libpq's PBKDF2 with 4096 iterations on OpenSSL 3; see the pgbench CPU column), " +
      "which caps this scenario at a few hundred logins/s on 2 cores whatever the proxy does; a direct login also forks a backend. " +
      "Pgpool-II derives the SCRAM keys from its TEXT pool_passwd entry on every login (its CPU/txn).",
  },
  {
    id: "6", title: "single-client latency", args: ["-S", "-M", "simple", "-c", "1", "-j", "1"], log: true,
    note: "Average and p99 come from pgbench's per-transaction log (-l); p99 is sensitive to the other load on this shared machine.",
  },
  { id: "7", title: "metrics overhead: scenario 1, PgGate split, metrics on vs off", args: ["-S", "-M", "simple", "-c", "20", "-j", "2"], systems: ["E", "E0"] },
  { id: "8", title: `memory: ${IDLE_CLIENTS.toLocaleString("en-US")} idle logged-in clients`, args: [] },
  {
    id: "9", title: "read-your-writes mix: INSERT a row then SELECT it, 20 clients", args: ["-M", "simple", "-c", "20", "-j", "2", "-f", RYW_SCRIPT],
    note:
      "Each transaction inserts a row and reads it back in the next statement (autocommit). A stale read fails the transaction (1 / count(*) = 1 / 0), " +
      "so failed = 0 means no client ever read older data than it wrote. The cluster runs synchronous_commit = on (PostgreSQL's default): the read needs a replica that replayed the commit. " +
      "Reads on replicas % comes from PgGate's pggate_queries_total; the other systems read the primary.",
  },
  { id: "10", title: "read scale-out as on separate machines: select-only, 20 clients, per-node CPU quotas, 0/1/2 replicas", args: [] },
  { id: "11", title: "read_your_writes modes: 20 clients, 90 % reads, 10 % write + read-back, PgGate split", args: [] },
];
/** Scenarios that run on the shared systems A-F and go into latest.{json,md,svg}. */
const SHARED_SCENARIO = /^[1-9]$/;
const ALL_SYSTEMS: SystemId[] = ["A", "F", "B", "C", "D", "E"];
const WARMUP_JIT_S = 8;
/**
 * Scenario 10's quotas. A node gets little enough that it, not the proxy or pgbench, saturates
 * under -S c20 even with three nodes busy; all quotas together must fit on 2 shared cores.
 */
const DEFAULT_NODE_CPUS = 0.2;
const DEFAULT_PROXY_CPUS = 1;
const CAPACITY_ERROR = /too many clients|remaining connection slots are reserved/i;

// ---------------------------------------------------------------------------------------------
// CLI

interface Options {
  quick: boolean;
  rounds: number;
  durationS: number;
  only: string[];
  systems: SystemId[];
  /** Scenario 10: CPU quota of each PostgreSQL node, and of the proxy and of pgbench. */
  nodeCpus: number;
  proxyCpus: number;
}

function usage(code: number): never {
  console.log(`usage: npm run bench -- [options]
  --quick            1 round of -T 2 (smoke test)
  --rounds N         rounds per scenario and system (default 3; medians are reported)
  --duration S       pgbench -T per run in seconds (default 4: the full run stays under 10 minutes on 2 cores)
  --only 1,3,5       scenarios (default all): 1 select-only simple, 2 select-only prepared, 3 TPC-B,
                     4 1000 clients / pool 20, 5 connection storm, 6 single-client latency,
                     7 PgGate metrics overhead, 8 memory of ${IDLE_CLIENTS} idle clients,
                     9 read-your-writes mix, 10 read scale-out with per-node CPU quotas (root, cgroup v1),
                     11 read_your_writes modes (10 and 11 write bench-results/{scale-out,ryw-modes}.{json,md}
                     and run their own systems; latest.* is only written when one of 1-9 ran)
  --systems A,D,E    A direct, F Bun forwarder (the floor of a proxy on Bun), B PgBouncer, C Pgpool-II,
                     D PgGate no split, E PgGate split
  --node-cpus X      scenario 10: CPU quota of each PostgreSQL node (default ${DEFAULT_NODE_CPUS})
  --proxy-cpus X     scenario 10: CPU quota of the proxy under test, and of pgbench (default ${DEFAULT_PROXY_CPUS})`);
  process.exit(code);
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  usage(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, rounds: 3, durationS: 4, only: SCENARIOS.map((s) => s.id), systems: [...ALL_SYSTEMS], nodeCpus: DEFAULT_NODE_CPUS, proxyCpus: DEFAULT_PROXY_CPUS };
  let rounds: number | null = null;
  let duration: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--rounds") rounds = Number(value());
    else if (a === "--duration") duration = Number(value());
    else if (a === "--only") o.only = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--node-cpus") o.nodeCpus = Number(value());
    else if (a === "--proxy-cpus") o.proxyCpus = Number(value());
    else if (a === "--systems") o.systems = value().split(",").map((s) => s.trim().toUpperCase()).filter(Boolean) as SystemId[];
    else if (a === "--help" || a === "-h") usage(0);
    else fail(`unknown argument: ${a}`);
  }
  if (o.quick) {
    o.rounds = 1;
    o.durationS = 2;
  }
  if (rounds !== null) o.rounds = rounds;
  if (duration !== null) o.durationS = duration;
  if (!Number.isInteger(o.rounds) || o.rounds < 1) fail("--rounds needs a positive integer");
  if (!Number.isInteger(o.durationS) || o.durationS < 1) fail("--duration needs a positive integer (seconds)");
  for (const s of o.only) if (!SCENARIOS.some((d) => d.id === s)) fail(`--only: unknown scenario ${s} (1-11)`);
  for (const [k, v] of [["--node-cpus", o.nodeCpus], ["--proxy-cpus", o.proxyCpus]] as const) {
    if (!Number.isFinite(v) || v < 0.01 || v > cpus().length) fail(`${k} needs a number of CPUs between 0.01 and ${cpus().length}`);
  }
  for (const s of o.systems) if (!ALL_SYSTEMS.includes(s)) fail(`--systems: unknown system ${s} (A-F)`);
  o.systems = ALL_SYSTEMS.filter((s) => o.systems.includes(s)); // canonical order A B C D E
  return o;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

async function ensureBuilt(): Promise<string> {
  const inputs = ["src", "build.ts", "package.json", "package-lock.json", "bunfig.toml"].map((p) => join(ROOT, p)).filter(existsSync);
  const newestInput = Math.max(...inputs.map(newestMtime));
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= newestInput) return "dist/pggate is up to date";
  log("building dist/pggate (missing or older than src/)");
  const proc = track(Bun.spawn([process.execPath, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" }));
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`bun run build failed (exit ${code}): ${(err || out).trim()}`);
  return "dist/pggate rebuilt";
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<string> {
  const proc = track(Bun.spawn(argv, { env: cleanEnv(env), stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv[0]} failed (exit ${code}): ${(err || out).trim()}`);
  return out;
}

function firstLine(cmd: string[]): string {
  try {
    const r = Bun.spawnSync(cmd);
    return (r.stdout.toString() || r.stderr.toString()).split("\n")[0].trim();
  } catch {
    return "n/a";
  }
}

function machineInfo(): Record<string, string> {
  const cpuModel = cpus()[0]?.model ?? "unknown";
  let os = "Linux";
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? os;
    os += ` (Debian ${readFileSync("/etc/debian_version", "utf8").trim()})`;
  } catch {
    // not Debian
  }
  const git = Bun.spawnSync(["git", "-C", ROOT, "describe", "--always", "--dirty"]).stdout.toString().trim();
  // The binary is built from the working tree: name uncommitted source changes it may contain.
  const dirty = Bun.spawnSync(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "build.ts", "package.json"])
    .stdout.toString()
    .split("\n")
    .map((l) => l.slice(3).trim())
    .filter(Boolean);
  return {
    CPU: `${cpuModel} × ${cpus().length} cores`,
    RAM: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    OS: `${os}, kernel ${release()}`,
    "open files limit": `${firstLine(["bash", "-c", "ulimit -Sn"])} soft / ${firstLine(["bash", "-c", "ulimit -Hn"])} hard`,
    Bun: Bun.version,
    PostgreSQL: firstLine(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
    pgbench: firstLine(["pgbench", "--version"]),
    PgBouncer: which("pgbouncer") ? firstLine(["pgbouncer", "--version"]) : "not installed",
    "Pgpool-II": which("pgpool") ? firstLine(["pgpool", "--version"]) : "not installed",
    "PgGate commit": `${git || "unknown"}${dirty.length > 0 ? ` (uncommitted changes in ${dirty.join(", ")})` : ""}`,
  };
}

// ---------------------------------------------------------------------------------------------
// One measured run

async function measure(sc: ScenarioDef, sys: RunningSystem, round: number, opts: Options, ctx: StartContext, attempt = 1): Promise<RunRecord> {
  const rec: RunRecord = { scenario: sc.id, system: sys.id, round, status: "failed", reason: null, pgbench: null, cpuMs: null, cpuMsPerTxn: null, rssPeakMb: null, hwmMb: null, pssMb: null, foreignCpuPct: null };
  const logDir = join(ctx.workDir, `s${sc.id}-${sys.id}-r${round}-a${attempt}`);
  const logPrefix = sc.log ? join(logDir, "txn") : null;
  if (logPrefix) mkdirSync(logDir, { recursive: true });
  const isProxy = sys.id !== "A";
  const snap0 = snapshotAll();
  const cpu0 = isProxy ? cpuTicksOf(sys) : 0;
  const sampler = isProxy ? memorySampler(() => sys.pids()) : null;
  const replicaReads0 = sc.id === "9" && sys.metricsUrl ? await replicaQueries(sys.metricsUrl) : null;
  const r = await runPgbench(
    { port: sys.port, user: ctx.cluster.users[sc.user ?? "scram"].user, password: ctx.cluster.users[sc.user ?? "scram"].password, database: DATABASE },
    { args: sc.args, durationS: opts.durationS + (sc.extraS ?? 0), logPrefix },
  );
  rec.pgbench = r;
  if (sc.id === "9") {
    // Each transaction is one INSERT and one SELECT: the SELECTs are the transactions.
    const replicaReads = replicaReads0 !== null && sys.metricsUrl ? (await replicaQueries(sys.metricsUrl)) - replicaReads0 : 0;
    rec.replicaReadPct = r.transactions ? Math.min(100, (replicaReads / r.transactions) * 100) : null;
  }
  const foreignMs = (foreignTicks(snap0, snapshotAll(), ourRoots(ctx)) * 1000) / CLK_TCK;
  rec.foreignCpuPct = (foreignMs / (r.wallMs * cpus().length)) * 100;
  if (isProxy && sampler) {
    const cpuMs = ((cpuTicksOf(sys) - cpu0) * 1000) / CLK_TCK;
    const peak = sampler.stop();
    const pids = sys.pids();
    rec.cpuMs = cpuMs;
    rec.cpuMsPerTxn = r.transactions ? cpuMs / r.transactions : null;
    rec.rssPeakMb = peak.rssKb / 1024;
    rec.hwmMb = memory(pids).hwmKb / 1024;
    rec.pssMb = pssKb(pids) / 1024;
  }
  const firstError = r.errors[0]?.message ?? null;
  if (r.tps !== null && (r.transactions ?? 0) > 0 && r.exitCode === 0 && r.abortedClients === 0 && (r.failedTransactions ?? 0) === 0) {
    rec.status = "ok";
  } else if (sys.id === "B" && r.errors.some((e) => /prepared statement .* (does not exist|already exists)/.test(e.message))) {
    rec.status = "unsupported";
    rec.reason = `PgBouncer 1.18 in transaction mode does not support protocol-level prepared statements: ${r.abortedClients} of ${clientsOf(sc)} clients aborted with "${firstError}"`;
  } else if (r.tps !== null && (r.transactions ?? 0) > 0) {
    rec.status = "partial";
    rec.reason = `${r.abortedClients} client(s) aborted, ${r.failedTransactions ?? 0} failed transactions${firstError ? `: ${firstError}` : ""}`;
  } else {
    rec.status = "failed";
    rec.reason =
      firstError ??
      (r.transactions === 0
        ? "no transaction completed within -T (pgbench was still connecting its clients when -T ran out)"
        : `pgbench exit ${r.exitCode}`);
  }
  return rec;
}

/** Statements PgGate has run on replicas so far (sum of pggate_queries_total{route="replica"}). */
async function replicaQueries(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let n = 0;
  for (const line of text.split("\n")) if (line.startsWith("pggate_queries_total{") && line.includes('route="replica"')) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  return n;
}

/** This process (pgbench, proxies, helpers are its descendants) and our cluster's postmasters. */
function ourRoots(ctx: StartContext): number[] {
  const roots = [process.pid];
  for (const node of [ctx.cluster.primary, ...ctx.cluster.replicas]) {
    try {
      roots.push(Number(readFileSync(join(node.dataDir, "postmaster.pid"), "utf8").split("\n")[0]));
    } catch {
      // node not running
    }
  }
  return roots;
}

/** CPU used by processes the bench did not start since `snap0`, as text for a report. */
function otherLoad(snap0: ReturnType<typeof snapshotAll>, wallMs: number, ctx: StartContext): string {
  const pct = ((foreignTicks(snap0, snapshotAll(), ourRoots(ctx)) * 1000) / CLK_TCK / (wallMs * cpus().length)) * 100;
  return `other load during the scenario (CPU of processes the bench did not start): ${pct.toFixed(0)} % of all cores`;
}

function writeOutputs(name: string, data: unknown, md: string): void {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, `${name}.json`), JSON.stringify(data, null, 2) + "\n");
  writeFileSync(join(OUT_DIR, `${name}.md`), md);
}

function cpuTicksOf(sys: RunningSystem): number {
  return cpuTicks(sys.pids());
}

function clientsOf(sc: ScenarioDef): number {
  const i = sc.args.indexOf("-c");
  return i >= 0 ? Number(sc.args[i + 1]) : 1;
}

function describe(rec: RunRecord): string {
  const r = rec.pgbench;
  const head = `s${rec.scenario} r${rec.round} ${rec.system} ${SYSTEM_NAMES[rec.system].padEnd(28)}`;
  if (!r || r.tps === null) return `${head} ${rec.status}: ${rec.reason ?? ""}`;
  const lat = r.log ? `avg ${r.log.avgMs.toFixed(3)} p99 ${r.log.p99Ms.toFixed(3)} ms` : `${r.latencyAvgMs?.toFixed(3)} ms`;
  const cpu = rec.cpuMsPerTxn !== null ? `, cpu ${rec.cpuMsPerTxn.toFixed(4)} ms/txn, rss ${rec.rssPeakMb?.toFixed(1)} MB` : "";
  const noise = rec.foreignCpuPct !== null && rec.foreignCpuPct >= 5 ? `, other load ${rec.foreignCpuPct.toFixed(0)} %` : "";
  return `${head} ${Math.round(r.tps).toString().padStart(6)} tps, ${lat}${cpu}${noise}${rec.status !== "ok" ? ` [${rec.status}: ${rec.reason}]` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Memory scenario: N idle logged-in clients against a fresh proxy

async function idleMemory(label: string, sys: RunningSystem, ctx: StartContext, n: number): Promise<MemoryResult> {
  const res: MemoryResult = { system: sys.id, label, connections: n, ok: 0, failed: 0, errors: {}, loginMs: 0, rssBeforeMb: 0, rssAfterMb: 0, hwmAfterMb: 0, kbPerConnection: null, error: null };
  // One login first, so lazily created state (verifier cache, pools, JIT) is in the baseline.
  await psqlVia(sys.port, ctx.cluster.users.scram, DATABASE, "SELECT 1");
  await sleep(1_000);
  res.rssBeforeMb = memory(sys.pids()).rssKb / 1024;
  const { user, password } = ctx.cluster.users.scram;
  const script = join(import.meta.dir, "bench", "idle-clients.ts");
  const proc = track(
    Bun.spawn(["bash", "-c", 'ulimit -n "$(ulimit -Hn)"; exec "$@"', "idle", process.execPath, script, String(sys.port), user, password, DATABASE, String(n), "200"], {
      env: cleanEnv(),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  try {
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    const deadline = Date.now() + 120_000;
    let done: { ok: number; failed: number; ms: number; errors: Record<string, number> } | null = null;
    while (!done) {
      const chunk = await Promise.race([reader.read(), sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
      if (chunk === null) throw new Error(`idle clients did not finish logging in within 120 s`);
      if (chunk.done) throw new Error(`idle-clients exited early: ${(await new Response(proc.stderr).text()).trim().slice(0, 300)}`);
      buf += decoder.decode(chunk.value, { stream: true });
      for (const line of buf.split("\n").slice(0, -1)) {
        const msg = JSON.parse(line) as { event: string; ok: number; failed: number; ms: number; errors: Record<string, number> };
        if (msg.event === "done") done = msg;
      }
      buf = buf.slice(buf.lastIndexOf("\n") + 1);
    }
    res.ok = done.ok;
    res.failed = done.failed;
    res.errors = done.errors;
    res.loginMs = done.ms;
    await sleep(2_000); // let allocations settle
    const after = memory(sys.pids());
    res.rssAfterMb = after.rssKb / 1024;
    res.hwmAfterMb = after.hwmKb / 1024;
    res.kbPerConnection = res.ok > 0 ? ((res.rssAfterMb - res.rssBeforeMb) * 1024) / res.ok : null;
  } catch (e) {
    res.error = (e as Error).message;
  } finally {
    proc.kill("SIGTERM");
    await Promise.race([proc.exited, sleep(5_000)]);
    proc.kill("SIGKILL");
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const problems: string[] = [];
  const running = new Map<SystemId, RunningSystem>();
  const extra: RunningSystem[] = [];
  let cluster: Cluster | null = null;
  let workDir: string | null = null;
  let interrupted = false;
  // Scenario 10's CPU groups: emptied and removed on every way out (also the synchronous exit hook).
  const groups = new CpuGroups();
  const extraOutputs: string[] = [];

  const cleanup = async () => {
    killRunningPgbench();
    await Promise.all([...running.values(), ...extra].map((s) => s.stop().catch(() => {})));
    running.clear();
    extra.length = 0;
    await stopAllTracked();
    for (const p of groups.removeAll()) problems.push(p);
    if (cluster) await cluster.stop();
    cluster = null;
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    workDir = null;
  };
  process.on("exit", () => {
    killAllTrackedSync();
    groups.removeAll();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (interrupted) process.exit(130); // second signal: the exit hooks kill synchronously
      interrupted = true;
      log(`${sig}: stopping every process the bench started`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const report: BenchReport = {
    date: new Date().toISOString(),
    totalRuntimeS: 0,
    params: {
      rounds: opts.rounds,
      durationS: opts.durationS,
      scale: SCALE,
      scenarios: opts.only,
      systems: opts.systems,
      quick: opts.quick,
      warmupS: opts.quick ? { pggate: 2, others: 1 } : { pggate: WARMUP_JIT_S, others: 2 },
    },
    machine: machineInfo(),
    systems: {},
    scenarios: SCENARIOS.filter((s) => opts.only.includes(s.id)),
    runs: [],
    summaries: [],
    metricsOverhead: null,
    memory: [],
    problems,
  };

  try {
    const built = await ensureBuilt();
    log(built);
    report.machine["PgGate binary"] = built;

    workDir = mkdtempSync(join(tmpdir(), "pggate-bench-"));
    if (process.getuid?.() === 0) {
      const uid = Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim());
      const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
      chownSync(workDir, uid, gid);
    }

    cluster = await startCluster({ replicas: 2, log, synchronousCommit: "on" });
    const c = cluster;
    log(`pgbench -i -s ${SCALE} on the primary (port ${c.primary.port})`);
    await run(["pgbench", "-i", "-q", "-s", String(SCALE), "-h", c.primary.host, "-p", String(c.primary.port), "-U", c.superuser, DATABASE], { PGSSLMODE: "disable" });
    await c.psql(c.primary, `GRANT ALL ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO ${c.users.scram.user}, ${c.users.md5.user}`, DATABASE);
    await c.psql(c.primary, `CREATE TABLE bench_ryw (id bigserial PRIMARY KEY, v int); GRANT ALL ON bench_ryw, bench_ryw_id_seq TO ${c.users.scram.user}, ${c.users.md5.user}`, DATABASE);
    writeFileSync(RYW_SCRIPT, RYW_SQL);
    await c.waitForReplay(120_000);
    log("pgbench tables replayed on both replicas");

    const ctx: StartContext = { cluster: c, workDir, pggateBinary: BINARY, database: DATABASE };
    const starters: Record<SystemId, () => Promise<RunningSystem>> = {
      A: async () => directSystem(ctx),
      F: () => startForwarder(ctx),
      B: () => startPgbouncer(ctx, { poolSize: POOL_SIZE, maxClientConn: 1100 }),
      C: () => startPgpool(ctx, { numInitChildren: POOL_SIZE + 1 }),
      D: () => startPggate(ctx, { id: "D", split: false, metrics: true, poolSize: POOL_SIZE }),
      E: () => startPggate(ctx, { id: "E", split: true, metrics: true, poolSize: POOL_SIZE }),
      E0: () => startPggate(ctx, { id: "E0", split: true, metrics: false, poolSize: POOL_SIZE }),
    };
    const needed = new Set<SystemId>(opts.systems);
    const wantMetrics = opts.only.includes("7") && opts.systems.includes("E");
    if (wantMetrics) needed.add("E0");
    // Scenarios 10 and 11 start systems of their own: the shared ones are only for 1-9.
    if (!opts.only.some((id) => SHARED_SCENARIO.test(id))) needed.clear();
    for (const id of ["A", "F", "B", "C", "D", "E", "E0"] as SystemId[]) {
      if (!needed.has(id)) continue;
      const missing = id === "B" && !which("pgbouncer") ? "pgbouncer" : id === "C" && !which("pgpool") ? "pgpool2" : null;
      if (missing) {
        const msg = `${SYSTEM_NAMES[id]} skipped: not installed (apt-get install ${missing === "pgpool2" ? "pgpool2" : "pgbouncer"}; both: apt-get install pgbouncer pgpool2)`;
        report.systems[id] = { name: SYSTEM_NAMES[id], status: "skipped", notes: [], error: msg };
        problems.push(msg);
        log(msg);
        continue;
      }
      try {
        const sys = await starters[id]();
        running.set(id, sys);
        report.systems[id] = { name: SYSTEM_NAMES[id], status: "running", notes: sys.notes, error: null };
        log(`${id} ${SYSTEM_NAMES[id]} ready on port ${sys.port}${sys.notes.length ? ` (${sys.notes.join("; ")})` : ""}`);
      } catch (e) {
        const msg = `${SYSTEM_NAMES[id]} failed to start: ${(e as Error).message}`;
        report.systems[id] = { name: SYSTEM_NAMES[id], status: "failed", notes: [], error: msg };
        problems.push(msg);
        log(msg);
      }
    }

    // Warm-up (not recorded): fills pools and caches so round 1 is not the only cold one. PgGate
    // runs on a JIT: a fresh instance needed ~8 s of load to reach steady TPS (3k -> 8-9k on the
    // first 2-s runs), so its instances get a longer warm-up than the C programs.
    const warmUsers = new Set(report.scenarios.map((sc) => sc.user ?? "scram"));
    for (const id of needed) {
      const sys = running.get(id);
      if (!sys) continue;
      for (const u of warmUsers) {
        const jit = id === "D" || id === "E" || id === "E0" || id === "F";
        await runPgbench(
          { port: sys.port, user: c.users[u].user, password: c.users[u].password, database: DATABASE },
          { args: ["-S", "-c", "20", "-j", "2"], durationS: u !== "scram" ? 1 : jit ? report.params.warmupS.pggate : report.params.warmupS.others, logPrefix: null },
        );
      }
    }

    const pgbenchScenarios = report.scenarios.filter((s) => /^([1-7]|9)$/.test(s.id));
    for (const sc of pgbenchScenarios) {
      const systems = sc.systems ?? opts.systems;
      if (sc.id === "7" && !wantMetrics) {
        problems.push("scenario 7 (metrics overhead) needs system E: skipped");
        continue;
      }
      log(`scenario ${sc.id}: ${sc.title}`);
      for (let round = 1; round <= opts.rounds; round++) {
        // Scenario 7 alternates the order (E E0, E0 E, ...) so neither side always runs second.
        const order = sc.id === "7" && round % 2 === 0 ? [...systems].reverse() : systems;
        for (const id of order) {
          const sys = running.get(id);
          if (!sys) {
            const why = report.systems[id]?.error ?? "not running";
            const status: RunStatus = report.systems[id]?.status === "skipped" ? "skipped" : "failed";
            report.runs.push({ scenario: sc.id, system: id, round, status, reason: why, pgbench: null, cpuMs: null, cpuMsPerTxn: null, rssPeakMb: null, hwmMb: null, pssMb: null, foreignCpuPct: null });
            continue;
          }
          // A capacity limit (max_connections, num_init_children) fails the same way every time:
          // rounds after the first are not repeated, which keeps the whole run under 10 minutes.
          const first = report.runs.find((r) => r.scenario === sc.id && r.system === id && r.round === 1);
          if (round > 1 && first?.status === "failed" && first.reason && CAPACITY_ERROR.test(first.reason)) {
            report.runs.push({ ...first, round, pgbench: null, reason: `${first.reason} (round 1; not repeated)`, foreignCpuPct: null });
            continue;
          }
          if (sc.id === "3") {
            // What pgbench does before a TPC-B run, done as the owner (the proxies' user is not).
            await c.psql(c.primary, "VACUUM pgbench_branches; VACUUM pgbench_tellers; TRUNCATE pgbench_history;", DATABASE);
          }
          let rec: RunRecord;
          try {
            rec = await measure(sc, sys, round, opts, ctx);
            // pgbench's -T clock includes connecting: on a busy machine 20 direct logins (a fork
            // each) can take the whole of a short run. Retry such a run once with -T doubled.
            if (rec.status === "failed" && rec.pgbench?.transactions === 0 && rec.pgbench.errors.length === 0) {
              log(`${describe(rec)}; retrying once with -T ${opts.durationS * 2 + (sc.extraS ?? 0)}`);
              const first = rec.reason;
              rec = await measure(sc, sys, round, { ...opts, durationS: opts.durationS * 2 }, ctx, 2);
              rec.reason = rec.status === "ok" ? `retried with -T doubled after: ${first}` : rec.reason;
            }
          } catch (e) {
            rec = { scenario: sc.id, system: id, round, status: "failed", reason: (e as Error).message, pgbench: null, cpuMs: null, cpuMsPerTxn: null, rssPeakMb: null, hwmMb: null, pssMb: null, foreignCpuPct: null };
          }
          report.runs.push(rec);
          log(describe(rec));
          if (interrupted) return 130;
        }
      }
      for (const id of systems) report.summaries.push(summarise(sc.id, id, report.runs));
      // A proxy that died mid-scenario must not silently fail every later run.
      for (const id of systems) {
        const sys = running.get(id);
        if (sys && id !== "A" && sys.pids().length === 0) {
          problems.push(`${SYSTEM_NAMES[id]} exited during scenario ${sc.id}`);
          running.delete(id);
          report.systems[id].status = "failed";
          report.systems[id].error = `exited during scenario ${sc.id}`;
        }
      }
    }

    if (wantMetrics) {
      const on = report.summaries.find((s) => s.scenario === "7" && s.system === "E");
      const off = report.summaries.find((s) => s.scenario === "7" && s.system === "E0");
      const tpsOn = on?.tps ?? null;
      const tpsOff = off?.tps ?? null;
      report.metricsOverhead = {
        tpsOn,
        tpsOff,
        overheadPct: tpsOn !== null && tpsOff ? ((tpsOff - tpsOn) / tpsOff) * 100 : null,
        cpuOn: on?.cpuMsPerTxn ?? null,
        cpuOff: off?.cpuMsPerTxn ?? null,
        rangeOn: [on?.tpsMin ?? null, on?.tpsMax ?? null],
        rangeOff: [off?.tpsMin ?? null, off?.tpsMax ?? null],
      };
    }

    if (opts.only.includes("8")) {
      log(`scenario 8: ${IDLE_CLIENTS} idle clients`);
      const targets: { id: SystemId; label: string; start: () => Promise<RunningSystem> }[] = [];
      if (opts.systems.includes("E") || opts.systems.includes("D")) {
        targets.push({ id: "E", label: "PgGate (fresh instance, auth_query, split)", start: () => startPggate(ctx, { id: "E", split: true, metrics: true, poolSize: POOL_SIZE, name: "pggate-mem" }) });
      }
      if (opts.systems.includes("B") && which("pgbouncer")) {
        targets.push({ id: "B", label: "PgBouncer (fresh instance, for reference)", start: () => startPgbouncer(ctx, { poolSize: POOL_SIZE, maxClientConn: IDLE_CLIENTS + 100, name: "pgbouncer-mem" }) });
      }
      for (const t of targets) {
        let sys: RunningSystem | null = null;
        try {
          sys = await t.start();
          extra.push(sys);
          const m = await idleMemory(t.label, sys, ctx, IDLE_CLIENTS);
          report.memory.push(m);
          log(m.error ? `memory ${t.label}: ${m.error}` : `memory ${t.label}: ${m.ok} ok / ${m.failed} failed in ${m.loginMs} ms, RSS ${m.rssBeforeMb.toFixed(1)} -> ${m.rssAfterMb.toFixed(1)} MB, ${m.kbPerConnection?.toFixed(1)} KB/conn`);
          if (m.failed > 0 || m.error) problems.push(`memory ${t.label}: ${m.error ?? `${m.failed} logins failed: ${JSON.stringify(m.errors)}`}`);
        } catch (e) {
          const msg = (e as Error).message;
          report.memory.push({ system: t.id, label: t.label, connections: IDLE_CLIENTS, ok: 0, failed: 0, errors: {}, loginMs: 0, rssBeforeMb: 0, rssAfterMb: 0, hwmAfterMb: 0, kbPerConnection: null, error: msg });
          problems.push(`memory ${t.label}: ${msg}`);
        } finally {
          if (sys) {
            await sys.stop();
            extra.splice(extra.indexOf(sys), 1);
          }
        }
      }
    }

    if (opts.only.includes("10") || opts.only.includes("11")) {
      // Their systems hold pools of their own: the shared ones go first (max_connections 200).
      await Promise.all([...running.values()].map((s) => s.stop().catch(() => {})));
      running.clear();
    }
    if (opts.only.includes("10")) {
      const why = cgroupUnavailable();
      if (why) {
        problems.push(`scenario 10 skipped: CPU quotas ${why}`);
        log(`scenario 10 skipped: ${why}`);
      } else {
        log(`scenario 10: ${SCENARIOS.find((s) => s.id === "10")?.title} (nodes ${opts.nodeCpus} CPU, proxy and pgbench ${opts.proxyCpus} CPU each)`);
        const snap0 = snapshotAll();
        const t10 = performance.now();
        try {
          const r = await runScaleOut(ctx, groups, {
            rounds: opts.rounds, durationS: opts.durationS, nodeCpus: opts.nodeCpus, proxyCpus: opts.proxyCpus, poolSize: POOL_SIZE,
            warmupS: report.params.warmupS, log, interrupted: () => interrupted,
          });
          const other = otherLoad(snap0, performance.now() - t10, ctx);
          writeOutputs("scale-out", r, scaleOutMarkdown(r, report.machine, other));
          extraOutputs.push("scale-out");
          for (const p of r.problems) problems.push(`scenario 10: ${p}`);
        } finally {
          // Back to one machine before anything else runs.
          for (const p of groups.removeAll()) problems.push(p);
        }
      }
    }
    if (opts.only.includes("11")) {
      log(`scenario 11: ${SCENARIOS.find((s) => s.id === "11")?.title}`);
      await c.psql(c.primary, `${RYW_MODES_SETUP_SQL}; GRANT ALL ON bench_ryw_stale TO ${c.users.scram.user}`, DATABASE);
      await c.waitForReplay(60_000);
      const snap0 = snapshotAll();
      const t11 = performance.now();
      const r = await runRywModes(ctx, async () => Number((await c.psql(c.primary, "SELECT count(*) FROM bench_ryw_stale", DATABASE)).trim()), {
        rounds: opts.rounds, durationS: opts.durationS, poolSize: POOL_SIZE, scale: SCALE, readWeight: 9,
        warmupS: opts.quick ? 2 : WARMUP_JIT_S, log, interrupted: () => interrupted,
      });
      writeOutputs("ryw-modes", r, rywModesMarkdown(r, report.machine, otherLoad(snap0, performance.now() - t11, ctx)));
      extraOutputs.push("ryw-modes");
      for (const p of r.problems) problems.push(`scenario 11: ${p}`);
    }

    for (const r of report.runs) {
      if (r.reason?.startsWith("retried")) problems.push(`scenario ${r.scenario}, ${SYSTEM_NAMES[r.system]}, round ${r.round}: ${r.reason}`);
    }
    // Problems worth a line: every scenario/system that did not simply work.
    for (const s of report.summaries) {
      if (s.status !== "ok" && s.status !== "skipped") problems.push(`scenario ${s.scenario}, ${SYSTEM_NAMES[s.system]}: ${s.status}${s.reason ? ` — ${s.reason}` : ""}`);
    }
    for (const [id, sys] of running) {
      if (sys.logFile && existsSync(sys.logFile)) {
        // PgBouncer/Pgpool-II say WARNING/ERROR/FATAL, PgGate's logfmt says level=warn/error.
        const lines = readFileSync(sys.logFile, "utf8").split("\n").filter((l) => /\b(WARNING|ERROR|FATAL|PANIC)\b|level=(warn|error)/.test(l));
        if (lines.length > 0) report.systems[id].notes.push(`${lines.length} warning/error line(s) in its log, last: ${lines[lines.length - 1].trim().slice(0, 200)}`);
      }
    }
  } catch (e) {
    const msg = `bench aborted: ${(e as Error).stack ?? (e as Error).message}`;
    problems.push(msg);
    log(msg);
  } finally {
    await cleanup();
  }

  report.totalRuntimeS = (performance.now() - t0) / 1000;
  report.machine["bench runtime"] = `${Math.round(report.totalRuntimeS)} s`;
  const written = extraOutputs.map((name) => `bench-results/${name}.{json,md}`);
  // A run of only 10 / 11 leaves the shared comparison (latest.*) as the last full run wrote it.
  if (opts.only.some((id) => SHARED_SCENARIO.test(id))) {
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(join(OUT_DIR, "latest.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileSync(join(OUT_DIR, "latest.md"), markdown(report));
    writeFileSync(join(OUT_DIR, "latest.svg"), svgChart(report));
    console.log(consoleTable(report));
    written.unshift("bench-results/latest.{json,md,svg}");
  }
  for (const p of problems) console.error(`problem: ${p}`);
  console.log(`\ntotal runtime ${report.totalRuntimeS.toFixed(0)} s; wrote ${written.join(", ") || "nothing"}`);
  return problems.some((p) => p.startsWith("bench aborted")) ? 1 : 0;
}

process.exit(await main());
