// Runs one pgbench process and turns its output (PostgreSQL 15 format) and optional
// per-transaction log into numbers. No knowledge of the systems under test.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sleep, track } from "./procs.ts";

export interface PgbenchTarget {
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbenchOptions {
  /** Arguments describing the workload (-S, -M, -c, -j, -C, ...), without connection or -T. */
  args: string[];
  durationS: number;
  /** Directory + file prefix for `-l --log-prefix` (per-transaction latencies), or null. */
  logPrefix: string | null;
  /** `cgroup.procs` files of cgroups pgbench joins before it starts (CPU quota for the client). */
  cgroupProcs?: string[];
}

export interface LatencySummary {
  count: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PgbenchResult {
  exitCode: number | null;
  timedOut: boolean;
  tps: number | null;
  /** What pgbench's tps line says it includes: "without initial connection time" / "including reconnection times". */
  tpsNote: string | null;
  latencyAvgMs: number | null;
  transactions: number | null;
  failedTransactions: number | null;
  /** Clients that pgbench aborted because of an error (they stop counting). */
  abortedClients: number;
  connectionTimeMs: number | null;
  /** Distinct error lines (prefix "pgbench: error:" or server messages), with counts. */
  errors: { message: string; count: number }[];
  /** From the -l log: latency of each successful transaction, summarised. */
  log: LatencySummary | null;
  /** The same per script (pgbench's script number, 0 for the first -f), when several ran. */
  logByScript: Record<number, LatencySummary> | null;
  /** pgbench's per-script tps lines (several -f scripts), by script number. */
  tpsByScript: Record<number, number> | null;
  wallMs: number;
  /** pgbench's own CPU (user + system) for the whole run, ms: the client's share of the machine. */
  clientCpuMs: number | null;
  stdoutTail: string;
}

/** libpq reads PG* variables: the caller's PGSSLMODE or PGHOST must not change our runs. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PG")) env[k] = v;
  }
  return { ...env, ...extra };
}

function num(re: RegExp, text: string): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

function normaliseError(line: string): string {
  return line
    .replace(/^pgbench: error: /, "")
    .replace(/^client \d+ script \d+ aborted in command \d+ query \d+: /, "")
    .replace(/\s+/g, " ")
    .replace(/client \d+/g, "client N")
    .replace(/P\d+_\d+/g, "P_n")
    .replace(/\(\d+\.\d+\.\d+\.\d+\), port \d+/g, "(host), port P")
    .replace(/port \d+/g, "port P")
    .trim();
}

export function parsePgbench(stdout: string, stderr: string): Omit<PgbenchResult, "exitCode" | "timedOut" | "log" | "logByScript" | "wallMs" | "clientCpuMs"> {
  const tpsMatch = /^tps = ([\d.]+) \(([^)]*)\)/m.exec(stdout);
  const errorCounts = new Map<string, number>();
  let abortedClients = 0;
  const lines = stderr.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    if (/client \d+ (script \d+ )?aborted/.test(line)) abortedClients++;
    // Keep errors and server messages; skip pgbench's chatty progress lines.
    if (!/error|FATAL|ERROR|failed|aborted|sorry|refused|unsupported|does not exist/i.test(line)) continue;
    const key = normaliseError(line);
    errorCounts.set(key, (errorCounts.get(key) ?? 0) + 1);
  }
  const errors = [...errorCounts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
  // "SQL script 2: /tmp/x.sql" ... " - 1234 transactions (90.0% of total, tps = 3000.123456)"
  const tpsByScript: Record<number, number> = {};
  for (const m of stdout.matchAll(/^SQL script (\d+): .*\n(?: - .*\n)*? - \d+ transactions \([\d.]+% of total, tps = ([\d.]+)\)/gm)) {
    tpsByScript[Number(m[1]) - 1] = Number(m[2]);
  }
  return {
    tpsByScript: Object.keys(tpsByScript).length > 0 ? tpsByScript : null,
    tps: tpsMatch ? Number(tpsMatch[1]) : null,
    tpsNote: tpsMatch ? tpsMatch[2] : null,
    latencyAvgMs: num(/^latency average = ([\d.]+) ms/m, stdout),
    transactions: num(/^number of transactions actually processed: (\d+)/m, stdout),
    failedTransactions: num(/^number of failed transactions: (\d+)/m, stdout),
    abortedClients,
    connectionTimeMs: num(/^(?:initial|average) connection time = ([\d.]+) ms/m, stdout),
    errors,
    stdoutTail: stdout.trim().split("\n").slice(-12).join("\n"),
  };
}

function summariseLatencies(lat: number[]): LatencySummary {
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(p * lat.length) - 1))] / 1000;
  const avg = lat.reduce((s, v) => s + v, 0) / lat.length / 1000;
  return { count: lat.length, avgMs: avg, p50Ms: pct(0.5), p99Ms: pct(0.99), maxMs: lat[lat.length - 1] / 1000 };
}

/**
 * Latencies (µs, column 3) of successful transactions in pgbench -l files named `${prefix}.*`,
 * overall and by script number (column 4).
 */
function readLog(prefix: string): { all: LatencySummary | null; byScript: Record<number, LatencySummary> | null } {
  const dir = prefix.slice(0, prefix.lastIndexOf("/"));
  const base = prefix.slice(prefix.lastIndexOf("/") + 1);
  const lat: number[] = [];
  const byScript = new Map<number, number[]>();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${base}.`)) continue;
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      const f = line.split(" ");
      if (f.length < 6) continue;
      const us = Number(f[2]);
      if (!Number.isFinite(us)) continue; // "failed" / "skipped" are not numbers
      lat.push(us);
      const script = Number(f[3]);
      const list = byScript.get(script);
      if (list) list.push(us);
      else byScript.set(script, [us]);
    }
  }
  if (lat.length === 0) return { all: null, byScript: null };
  return {
    all: summariseLatencies(lat),
    byScript: byScript.size > 1 ? Object.fromEntries([...byScript].map(([k, v]) => [k, summariseLatencies(v)])) : null,
  };
}

let running: Set<{ kill(sig?: number | NodeJS.Signals): void }> = new Set();

export async function runPgbench(target: PgbenchTarget, opts: PgbenchOptions): Promise<PgbenchResult> {
  const argv = [
    "pgbench",
    "-h", "127.0.0.1",
    "-p", String(target.port),
    "-U", target.user,
    "-n", // no vacuum/truncate through the proxy: the bench vacuums as superuser itself
    "-T", String(opts.durationS),
    ...opts.args,
    ...(opts.logPrefix ? ["-l", `--log-prefix=${opts.logPrefix}`] : []),
    target.database,
  ];
  // 1000 clients need more descriptors than the default soft limit: raise it to the hard limit.
  // With a cgroup the shell joins it first, so pgbench runs under its quota from its first instruction.
  const joinGroup = opts.cgroupProcs?.length ? 'for f in $PGGATE_BENCH_CGROUPS; do echo $$ > "$f" || exit 97; done; ' : "";
  const cmd = ["bash", "-c", `${joinGroup}ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "pgbench", ...argv];
  const t0 = performance.now();
  const proc = track(
    Bun.spawn(cmd, {
      cwd: opts.logPrefix ? opts.logPrefix.slice(0, opts.logPrefix.lastIndexOf("/")) : undefined,
      env: cleanEnv({ PGPASSWORD: target.password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "20", ...(opts.cgroupProcs?.length ? { PGGATE_BENCH_CGROUPS: opts.cgroupProcs.join(" ") } : {}) }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  running.add(proc);
  // A pgbench that never gets its connections (a proxy that queues logins forever) must not hang
  // the bench: interrupt it, then kill it.
  let timedOut = false;
  const limitMs = opts.durationS * 1000 + 90_000;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGINT");
    void sleep(5_000).then(() => proc.kill("SIGKILL"));
  }, limitMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const parsed = parsePgbench(stdout, stderr);
    if (timedOut) parsed.errors.unshift({ message: `pgbench did not finish within ${limitMs / 1000} s and was killed`, count: 1 });
    const txnLog = opts.logPrefix ? readLog(opts.logPrefix) : null;
    return {
      ...parsed,
      exitCode,
      timedOut,
      log: txnLog?.all ?? null,
      logByScript: txnLog?.byScript ?? null,
      wallMs: performance.now() - t0,
      // bash execs pgbench, so the child's rusage is pgbench's own.
      clientCpuMs: (() => {
        const ru = proc.resourceUsage();
        return ru ? Number(ru.cpuTime.total) / 1000 : null;
      })(),
    };
  } finally {
    clearTimeout(timer);
    running.delete(proc);
  }
}

/** Interrupts every pgbench still running (SIGINT path). */
export function killRunningPgbench(): void {
  for (const p of running) p.kill("SIGKILL");
  running = new Set();
}
