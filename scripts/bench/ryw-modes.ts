// Scenario 11, what each routing.read_your_writes mode costs: 20 clients mostly reading while some
// transactions write, through PgGate split with read_your_writes off / session / user / global
// (and PgGate without split for reference). Starts and stops its own PgGate instances.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runPgbench } from "./pgbench.ts";
import { median } from "./report.ts";
import { startPggate, type RunningSystem, type StartContext } from "./systems.ts";

export const RYW_MODES = ["off", "session", "user", "global"] as const;
export type RywMode = (typeof RYW_MODES)[number];

export interface RywModesOptions {
  rounds: number;
  durationS: number;
  poolSize: number;
  /** pgbench scale of the initialised tables (pgbench_accounts has 100,000 × scale rows). */
  scale: number;
  /** Weight of the read script against the write script (1). */
  readWeight: number;
  warmupS: number;
  log: (line: string) => void;
  interrupted: () => boolean;
}

interface Config {
  key: string;
  label: string;
  mode: RywMode | null;
}

export interface RywModesRun {
  key: string;
  round: number;
  /** Transactions per second of each script (pgbench's per-script tps). */
  readTps: number | null;
  writeTps: number | null;
  read: { p50Ms: number; p99Ms: number; avgMs: number } | null;
  write: { p50Ms: number; p99Ms: number; avgMs: number } | null;
  /** Read statements PgGate ran on a replica / on the primary, and reads it held for a replica. */
  replicaQueries: number | null;
  primaryQueries: number | null;
  rywWaits: number | null;
  /** Own-row reads that missed the row just inserted (each adds one bench_ryw_stale row). */
  staleReads: number | null;
  error: string | null;
}

export interface RywModesSummary {
  key: string;
  label: string;
  mode: RywMode | null;
  rounds: number;
  readTps: number | null;
  readTpsMin: number | null;
  readTpsMax: number | null;
  writeTps: number | null;
  readP50Ms: number | null;
  readP99Ms: number | null;
  readP99MinMs: number | null;
  readP99MaxMs: number | null;
  writeP50Ms: number | null;
  writeP99Ms: number | null;
  replicaPct: number | null;
  rywWaitsPerS: number | null;
  staleReads: number | null;
  errors: string[];
}

export interface RywModesReport {
  date: string;
  params: { rounds: number; durationS: number; clients: number; readWeight: number; readSql: string; writeSql: string };
  notes: string[];
  runs: RywModesRun[];
  summaries: RywModesSummary[];
  problems: string[];
}

const CLIENTS = 20;

/** Tables the write script uses; created by the caller as the owner (the bench user cannot). */
export const RYW_MODES_SETUP_SQL = "CREATE TABLE IF NOT EXISTS bench_ryw_stale (id bigint)";

function scripts(scale: number): { read: string; write: string } {
  return {
    // Script 0: a read of a random account (no write of its own).
    read: `\\set aid random(1, ${100_000 * scale})
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
`,
    // Script 1: a write, then reading the row back. A read that misses it is recorded (not
    // failed: with read_your_writes off it is expected, and the run must go on).
    write: `INSERT INTO bench_ryw (v) VALUES (1) RETURNING id \\gset
SELECT count(*) AS seen FROM bench_ryw WHERE id = :id \\gset
\\if :seen = 0
INSERT INTO bench_ryw_stale VALUES (:id);
\\endif
`,
  };
}

async function metrics(url: string): Promise<{ replica: number; primary: number; waits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = { replica: 0, primary: 0, waits: 0 };
  for (const line of text.split("\n")) {
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("pggate_queries_total{")) {
      if (line.includes('route="replica"')) out.replica += value;
      else if (line.includes('route="primary"')) out.primary += value;
    } else if (line.startsWith("pggate_ryw_waits_total")) out.waits += value;
  }
  return out;
}

export async function runRywModes(ctx: StartContext, staleCount: () => Promise<number>, opts: RywModesOptions): Promise<RywModesReport> {
  const sql = scripts(opts.scale);
  const readFile = join(ctx.workDir, "ryw-modes-read.sql");
  const writeFile = join(ctx.workDir, "ryw-modes-write.sql");
  writeFileSync(readFile, sql.read);
  writeFileSync(writeFile, sql.write);
  const args = ["-M", "simple", "-c", String(CLIENTS), "-j", "2", "-f", `${readFile}@${opts.readWeight}`, "-f", `${writeFile}@1`];
  const report: RywModesReport = {
    date: new Date().toISOString(),
    params: { rounds: opts.rounds, durationS: opts.durationS, clients: CLIENTS, readWeight: opts.readWeight, readSql: sql.read, writeSql: sql.write },
    notes: [],
    runs: [],
    summaries: [],
    problems: [],
  };
  const configs: Config[] = [
    { key: "D", label: "PgGate, no split (all on the primary)", mode: null },
    ...RYW_MODES.map((mode) => ({ key: mode, label: `PgGate split, read_your_writes ${mode}`, mode })),
  ];
  const running = new Map<string, RunningSystem>();
  try {
    for (const c of configs) {
      try {
        const sys = await startPggate(ctx, {
          id: c.mode === null ? "D" : "E", split: c.mode !== null, metrics: true, poolSize: opts.poolSize,
          ...(c.mode !== null ? { readYourWrites: c.mode } : {}), name: `pggate-ryw-${c.key}`,
        });
        running.set(c.key, sys);
        report.notes.push(`${c.label}: ${sys.notes.join("; ")}`);
      } catch (e) {
        report.problems.push(`${c.label} failed to start: ${(e as Error).message}`);
      }
    }
    const target = (sys: RunningSystem) => ({ port: sys.port, user: ctx.cluster.users.scram.user, password: ctx.cluster.users.scram.password, database: ctx.database });
    for (const c of configs) {
      const sys = running.get(c.key);
      if (sys) await runPgbench(target(sys), { args, durationS: opts.warmupS, logPrefix: null });
    }
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 === 0 ? [...configs].reverse() : configs;
      for (const c of order) {
        const sys = running.get(c.key);
        if (!sys) continue;
        if (opts.interrupted()) return summarise(report, configs);
        const logDir = join(ctx.workDir, `s11-${c.key}-r${round}`);
        Bun.spawnSync(["mkdir", "-p", logDir]);
        const m0 = sys.metricsUrl ? await metrics(sys.metricsUrl) : null;
        const stale0 = await staleCount();
        const r = await runPgbench(target(sys), { args, durationS: opts.durationS, logPrefix: join(logDir, "txn") });
        const m1 = sys.metricsUrl ? await metrics(sys.metricsUrl) : null;
        const pick = (s: { p50Ms: number; p99Ms: number; avgMs: number } | undefined) => (s ? { p50Ms: s.p50Ms, p99Ms: s.p99Ms, avgMs: s.avgMs } : null);
        const run: RywModesRun = {
          key: c.key,
          round,
          readTps: r.tpsByScript?.[0] ?? null,
          writeTps: r.tpsByScript?.[1] ?? null,
          read: pick(r.logByScript?.[0]),
          write: pick(r.logByScript?.[1]),
          replicaQueries: m0 && m1 ? m1.replica - m0.replica : null,
          primaryQueries: m0 && m1 ? m1.primary - m0.primary : null,
          rywWaits: m0 && m1 ? m1.waits - m0.waits : null,
          staleReads: (await staleCount()) - stale0,
          error: r.tps === null || r.exitCode !== 0 || r.abortedClients > 0 || (r.failedTransactions ?? 0) > 0 ? (r.errors[0]?.message ?? `pgbench exit ${r.exitCode}`) : null,
        };
        report.runs.push(run);
        opts.log(
          `s11 r${round} ${c.label.padEnd(42)} reads ${run.readTps?.toFixed(0) ?? "–"}/s p50 ${run.read?.p50Ms.toFixed(2) ?? "–"} p99 ${run.read?.p99Ms.toFixed(2) ?? "–"} ms; ` +
            `writes ${run.writeTps?.toFixed(0) ?? "–"}/s p50 ${run.write?.p50Ms.toFixed(2) ?? "–"} p99 ${run.write?.p99Ms.toFixed(2) ?? "–"} ms; stale ${run.staleReads}; ` +
            `replica ${run.replicaQueries ?? "–"} primary ${run.primaryQueries ?? "–"} waits ${run.rywWaits ?? "–"}${run.error ? ` [${run.error}]` : ""}`,
        );
      }
    }
  } finally {
    for (const sys of running.values()) await sys.stop().catch(() => {});
  }
  return summarise(report, configs);
}

function summarise(report: RywModesReport, configs: Config[]): RywModesReport {
  report.summaries = configs.map((c) => {
    const runs = report.runs.filter((r) => r.key === c.key);
    const ok = runs.filter((r) => r.error === null && r.readTps !== null);
    const reads = ok.map((r) => r.readTps as number);
    const p99 = ok.map((r) => r.read?.p99Ms).filter((v): v is number => v !== undefined);
    return {
      key: c.key,
      label: c.label,
      mode: c.mode,
      rounds: runs.length,
      readTps: median(reads),
      readTpsMin: reads.length > 0 ? Math.min(...reads) : null,
      readTpsMax: reads.length > 0 ? Math.max(...reads) : null,
      writeTps: median(ok.map((r) => r.writeTps)),
      readP50Ms: median(ok.map((r) => r.read?.p50Ms)),
      readP99Ms: median(p99),
      readP99MinMs: p99.length > 0 ? Math.min(...p99) : null,
      readP99MaxMs: p99.length > 0 ? Math.max(...p99) : null,
      writeP50Ms: median(ok.map((r) => r.write?.p50Ms)),
      writeP99Ms: median(ok.map((r) => r.write?.p99Ms)),
      replicaPct: median(ok.map((r) => (r.replicaQueries !== null && r.primaryQueries !== null && r.replicaQueries + r.primaryQueries > 0 ? (r.replicaQueries / (r.replicaQueries + r.primaryQueries)) * 100 : null))),
      rywWaitsPerS: median(ok.map((r) => (r.rywWaits !== null ? r.rywWaits / report.params.durationS : null))),
      staleReads: median(ok.map((r) => r.staleReads)),
      errors: [...new Set(runs.filter((r) => r.error).map((r) => r.error as string))],
    };
  });
  return report;
}

// ---------------------------------------------------------------------------------------------
// Rendering

export function rywModesTable(r: RywModesReport): string[] {
  const off = r.summaries.find((s) => s.mode === "off");
  const f = (v: number | null, d = 2) => (v === null ? "–" : v.toFixed(d));
  const n = (v: number | null) => (v === null ? "–" : Math.round(v).toLocaleString("en-US"));
  const out: string[] = [];
  out.push("| Configuration | reads/s (min–max) | vs off | read p50 ms | read p99 ms (min–max) | writes/s | write+read-back p50 / p99 ms | statements on replicas % | reads held for replay /s | own-row reads stale |");
  out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const s of r.summaries) {
    if (s.readTps === null) {
      out.push(`| ${s.label} | failed${s.errors[0] ? `: ${s.errors[0].replace(/\|/g, "\\|").slice(0, 120)}` : ""} | | | | | | | | |`);
      continue;
    }
    const range = s.rounds > 1 ? ` (${n(s.readTpsMin)}–${n(s.readTpsMax)})` : "";
    const p99Range = s.rounds > 1 ? ` (${f(s.readP99MinMs)}–${f(s.readP99MaxMs)})` : "";
    out.push(
      `| ${s.label} | ${n(s.readTps)}${range} | ${off?.readTps ? `${(s.readTps / off.readTps).toFixed(2)}×` : "–"} | ${f(s.readP50Ms)} | ${f(s.readP99Ms)}${p99Range} | ${n(s.writeTps)} | ` +
        `${f(s.writeP50Ms)} / ${f(s.writeP99Ms)} | ${f(s.replicaPct, 0)} | ${f(s.rywWaitsPerS, 0)} | ${s.staleReads === null ? "–" : s.staleReads} |`,
    );
  }
  return out;
}

export function rywModesMarkdown(r: RywModesReport, machine: Record<string, string>, otherLoad: string): string {
  const p = r.params;
  const out: string[] = [];
  out.push("# PgGate benchmark — scenario 11: read_your_writes modes");
  out.push("");
  out.push(
    `${r.date}: ${p.clients} clients, \`pgbench -M simple -c ${p.clients} -j 2 -f read.sql@${p.readWeight} -f write.sql@1 -T ${p.durationS}\`, ` +
      `${p.rounds} interleaved round(s) per configuration (medians; latencies from pgbench's per-transaction log, by script). Machine: ${machine.CPU ?? "?"}; ${otherLoad}.`,
  );
  out.push("");
  out.push(...rywModesTable(r));
  out.push("");
  out.push("read.sql:");
  out.push("```");
  out.push(p.readSql.trimEnd());
  out.push("```");
  out.push("write.sql:");
  out.push("```");
  out.push(p.writeSql.trimEnd());
  out.push("```");
  out.push("");
  out.push("## Setup");
  out.push("");
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.problems.length > 0) {
    out.push("");
    out.push("## What did not work");
    out.push("");
    for (const pr of r.problems) out.push(`- ${pr}`);
  }
  out.push("");
  return out.join("\n");
}
