// Scenario 10, read scale-out as on separate machines: every PostgreSQL node, the proxy under test
// and pgbench each run in a cgroup of their own with a fixed CPU quota, so that adding a replica
// adds CPU the way another host would. Starts and stops its own proxies; the caller owns the cluster.

import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CpuGroup, CpuGroups, ThrottleStats } from "./cgroups.ts";
import { runPgbench, type PgbenchResult } from "./pgbench.ts";
import { median } from "./report.ts";
import { directSystem, startPgbouncer, startPggate, startPgpool, type RunningSystem, type StartContext } from "./systems.ts";

export const SCALE_OUT_ARGS = ["-S", "-M", "simple", "-c", "20", "-j", "2"];

export interface ScaleOutOptions {
  rounds: number;
  durationS: number;
  /** CPU quota of each PostgreSQL node, in CPUs. */
  nodeCpus: number;
  /** CPU quota of the proxy under test and of pgbench, in CPUs each. */
  proxyCpus: number;
  poolSize: number;
  warmupS: { pggate: number; others: number };
  log: (line: string) => void;
  interrupted: () => boolean;
}

/** One system at one replica count. */
interface Config {
  key: string;
  system: "direct" | "pgbouncer" | "pgpool" | "pgpool-replicas-only" | "pggate";
  label: string;
  /** Replicas the system may read from (null: it reads the primary only whatever the cluster has). */
  replicas: number | null;
  start: () => Promise<RunningSystem>;
}

export interface ScaleOutRun {
  key: string;
  round: number;
  tps: number | null;
  latencyAvgMs: number | null;
  failed: number;
  error: string | null;
  /** CPU used during the run in % of one core: per node, the proxy, pgbench. */
  cpuPct: Record<string, number>;
  /** Share of CFS periods in which a group ran out of quota, %. */
  throttledPct: Record<string, number>;
}

export interface ScaleOutConfigSummary {
  key: string;
  system: Config["system"];
  label: string;
  replicas: number | null;
  tps: number | null;
  tpsMin: number | null;
  tpsMax: number | null;
  latencyAvgMs: number | null;
  rounds: number;
  errors: string[];
  cpuPct: Record<string, number | null>;
  throttledPct: Record<string, number | null>;
}

export interface ScaleOutReport {
  date: string;
  params: { rounds: number; durationS: number; nodeCpus: number; proxyCpus: number; pgbenchCpus: number; periodUs: number; args: string[] };
  notes: string[];
  runs: ScaleOutRun[];
  summaries: ScaleOutConfigSummary[];
  problems: string[];
}

const PERIOD_US = 10_000;

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

export async function runScaleOut(ctx: StartContext, groups: CpuGroups, opts: ScaleOutOptions): Promise<ScaleOutReport> {
  const { cluster } = ctx;
  const maxReplicas = cluster.replicas.length;
  const report: ScaleOutReport = {
    date: new Date().toISOString(),
    params: { rounds: opts.rounds, durationS: opts.durationS, nodeCpus: opts.nodeCpus, proxyCpus: opts.proxyCpus, pgbenchCpus: opts.proxyCpus, periodUs: PERIOD_US, args: SCALE_OUT_ARGS },
    notes: [],
    runs: [],
    summaries: [],
    problems: [],
  };
  const nodes = [{ name: "primary", node: cluster.primary }, ...cluster.replicas.map((node, i) => ({ name: `replica${i}`, node }))];
  const nodeGroups = new Map<string, { group: CpuGroup }>();
  for (const { name, node } of nodes) {
    const group = groups.create(`node-${name}`, opts.nodeCpus, PERIOD_US);
    const pid = postmasterPid(node.dataDir);
    // Existing backends (health checks, pooled connections of earlier scenarios) move with it;
    // every later backend forks from the postmaster inside the group.
    const moved = group.addTree(pid);
    nodeGroups.set(name, { group });
    report.notes.push(`${name} (port ${node.port}): postmaster ${pid} and ${moved - 1} child process(es) in a ${opts.nodeCpus}-CPU group`);
  }
  const pgbenchGroup = groups.create("pgbench", opts.proxyCpus, PERIOD_US);

  const configs: Config[] = [
    { key: "A", system: "direct", label: "direct primary (no proxy)", replicas: null, start: async () => directSystem(ctx) },
    { key: "B", system: "pgbouncer", label: "PgBouncer (primary only)", replicas: null, start: () => startPgbouncer(ctx, { poolSize: opts.poolSize, maxClientConn: 200, name: "pgbouncer-scale" }) },
  ];
  for (let k = 0; k <= maxReplicas; k++) {
    configs.push({
      key: `C${k}`, system: "pgpool", label: "Pgpool-II (primary + replicas)", replicas: k,
      start: () => startPgpool(ctx, { numInitChildren: opts.poolSize + 1, replicas: k, primaryWeight: 1, name: `pgpool-scale-${k}` }),
    });
  }
  if (maxReplicas > 0) {
    configs.push({
      key: `R${maxReplicas}`, system: "pgpool-replicas-only", label: "Pgpool-II (replicas only, primary weight 0)", replicas: maxReplicas,
      start: () => startPgpool(ctx, { numInitChildren: opts.poolSize + 1, replicas: maxReplicas, primaryWeight: 0, name: `pgpool-scale-r${maxReplicas}` }),
    });
  }
  for (let k = 0; k <= maxReplicas; k++) {
    configs.push({
      key: `E${k}`, system: "pggate", label: "PgGate (split)", replicas: k,
      start: () => startPggate(ctx, { id: "E", split: true, metrics: false, poolSize: opts.poolSize, replicas: k, name: `pggate-scale-${k}` }),
    });
  }
  // The primary in the read rotation too (routing.primary_read_weight 1), as Pgpool-II's
  // "primary + replicas" rows do.
  for (let k = 1; k <= maxReplicas; k++) {
    configs.push({
      key: `P${k}`, system: "pggate", label: "PgGate (split, primary_read_weight 1)", replicas: k,
      start: () => startPggate(ctx, { id: "E", split: true, metrics: false, poolSize: opts.poolSize, replicas: k, primaryReadWeight: 1, name: `pggate-scale-p${k}` }),
    });
  }

  const running = new Map<string, { sys: RunningSystem; group: CpuGroup | null }>();
  try {
    for (const c of configs) {
      try {
        const sys = await c.start();
        let group: CpuGroup | null = null;
        if (c.system !== "direct") {
          group = groups.create(`proxy-${c.key}`, opts.proxyCpus, PERIOD_US);
          for (const pid of sys.pids()) group.addPid(pid);
        }
        running.set(c.key, { sys, group });
        opts.log(`scale-out: ${c.key} ${c.label}${c.replicas !== null ? `, ${c.replicas} replica(s)` : ""} ready on port ${sys.port}`);
        report.notes.push(`${c.key}. ${c.label}${c.replicas !== null ? `, ${c.replicas} replica(s)` : ""}: ${sys.notes.join("; ")}`);
      } catch (e) {
        report.problems.push(`${c.key} ${c.label} failed to start: ${(e as Error).message}`);
        opts.log(`scale-out: ${c.key} failed to start: ${(e as Error).message}`);
      }
    }

    const target = (sys: RunningSystem) => ({ port: sys.port, user: cluster.users.scram.user, password: cluster.users.scram.password, database: ctx.database });
    // Warm-up, not recorded: fills the pools (PgGate's JIT needs ~8 s of load).
    for (const c of configs) {
      const r = running.get(c.key);
      if (!r) continue;
      const durationS = c.system === "pggate" ? opts.warmupS.pggate : opts.warmupS.others;
      await runPgbench(target(r.sys), { args: SCALE_OUT_ARGS, durationS, logPrefix: null, cgroupProcs: pgbenchGroup.procsFiles });
      // Pgpool-II forks replacement children at any time: keep its whole tree in the group.
      if (r.group) for (const pid of r.sys.pids()) r.group.addPid(pid);
    }

    for (let round = 1; round <= opts.rounds; round++) {
      // Alternate the order so that no configuration always runs right after the same one.
      const order = round % 2 === 0 ? [...configs].reverse() : configs;
      for (const c of order) {
        const r = running.get(c.key);
        if (!r) continue;
        if (opts.interrupted()) return summarise(report, configs);
        const run = await measure(c, r.sys, r.group, round, target(r.sys), nodeGroups, pgbenchGroup, opts);
        report.runs.push(run);
        const cpu = Object.entries(run.cpuPct).map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(" ");
        const thr = Object.entries(run.throttledPct).filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(" ");
        opts.log(`s10 r${round} ${c.key.padEnd(3)} ${c.label.padEnd(44)} ${run.tps === null ? `failed: ${run.error}` : `${Math.round(run.tps).toString().padStart(6)} tps`} | cpu ${cpu} | throttled ${thr || "none"}`);
      }
    }
  } finally {
    for (const { sys } of running.values()) await sys.stop().catch(() => {});
  }
  return summarise(report, configs);
}

async function measure(
  c: Config,
  sys: RunningSystem,
  group: CpuGroup | null,
  round: number,
  target: { port: number; user: string; password: string; database: string },
  nodeGroups: Map<string, { group: CpuGroup }>,
  pgbenchGroup: CpuGroup,
  opts: ScaleOutOptions,
): Promise<ScaleOutRun> {
  // Pgpool-II forks replacement children at any time: keep its whole tree in the group.
  if (group) for (const pid of sys.pids()) group.addPid(pid);
  const node0 = new Map([...nodeGroups].map(([name, g]) => [name, { ms: g.group.usageMs(), thr: g.group.throttling() }]));
  const proxy0 = { ms: group?.usageMs() ?? 0, thr: group?.throttling() ?? null };
  const pgb0 = { ms: pgbenchGroup.usageMs(), thr: pgbenchGroup.throttling() };
  const r: PgbenchResult = await runPgbench(target, { args: SCALE_OUT_ARGS, durationS: opts.durationS, logPrefix: null, cgroupProcs: pgbenchGroup.procsFiles });
  const wallS = r.wallMs / 1000;
  const pct = (ms: number) => (ms / 1000 / wallS) * 100;
  const thrPct = (a: ThrottleStats, b: ThrottleStats) => {
    const periods = b.periods - a.periods;
    return periods > 0 ? ((b.throttled - a.throttled) / periods) * 100 : 0;
  };
  const run: ScaleOutRun = {
    key: c.key,
    round,
    tps: r.tps,
    latencyAvgMs: r.latencyAvgMs,
    failed: (r.failedTransactions ?? 0) + r.abortedClients,
    error: r.tps === null || r.exitCode !== 0 ? (r.errors[0]?.message ?? `pgbench exit ${r.exitCode}`) : null,
    cpuPct: {},
    throttledPct: {},
  };
  for (const [name, g] of nodeGroups) {
    const before = node0.get(name)!;
    run.cpuPct[name] = pct(g.group.usageMs() - before.ms);
    run.throttledPct[name] = thrPct(before.thr, g.group.throttling());
  }
  if (group && proxy0.thr) {
    run.cpuPct.proxy = pct(group.usageMs() - proxy0.ms);
    run.throttledPct.proxy = thrPct(proxy0.thr, group.throttling());
  }
  run.cpuPct.pgbench = pct(pgbenchGroup.usageMs() - pgb0.ms);
  run.throttledPct.pgbench = thrPct(pgb0.thr, pgbenchGroup.throttling());
  return run;
}

function summarise(report: ScaleOutReport, configs: Config[]): ScaleOutReport {
  report.summaries = configs.map((c) => {
    const runs = report.runs.filter((r) => r.key === c.key);
    const ok = runs.filter((r) => r.tps !== null && r.error === null && r.failed === 0);
    const tps = ok.map((r) => r.tps as number);
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.cpuPct)))];
    return {
      key: c.key,
      system: c.system,
      label: c.label,
      replicas: c.replicas,
      tps: median(tps),
      tpsMin: tps.length > 0 ? Math.min(...tps) : null,
      tpsMax: tps.length > 0 ? Math.max(...tps) : null,
      latencyAvgMs: median(ok.map((r) => r.latencyAvgMs)),
      rounds: runs.length,
      errors: [...new Set(runs.filter((r) => r.error || r.failed > 0).map((r) => r.error ?? `${r.failed} failed transactions / aborted clients`))],
      cpuPct: Object.fromEntries(keys.map((k) => [k, median(ok.map((r) => r.cpuPct[k]))])),
      throttledPct: Object.fromEntries(keys.map((k) => [k, median(ok.map((r) => r.throttledPct[k]))])),
    };
  });
  return report;
}

// ---------------------------------------------------------------------------------------------
// Rendering

const tpsCell = (s: ScaleOutConfigSummary | undefined): string => {
  if (!s) return "–";
  if (s.tps === null) return `failed${s.errors[0] ? `: ${s.errors[0].replace(/\|/g, "\\|").slice(0, 120)}` : ""}`;
  const range = s.rounds > 1 && s.tpsMin !== null && s.tpsMax !== null ? ` (${Math.round(s.tpsMin).toLocaleString("en-US")}–${Math.round(s.tpsMax).toLocaleString("en-US")})` : "";
  return `${Math.round(s.tps).toLocaleString("en-US")}${range}`;
};

const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a == null || b == null || b === 0 ? "–" : `${(a / b).toFixed(2)}×`);

/** The result table: TPS per system (rows) and replica count (columns), plus PgGate's ratios. */
export function scaleOutTable(r: ScaleOutReport): string[] {
  const maxReplicas = Math.max(0, ...r.summaries.map((s) => s.replicas ?? 0));
  const ks = Array.from({ length: maxReplicas + 1 }, (_, k) => k);
  const find = (key: string) => r.summaries.find((s) => s.key === key);
  const out: string[] = [];
  out.push(`| System | ${ks.map((k) => `${k} replica${k === 1 ? "" : "s"}`).join(" | ")} |`);
  out.push(`| --- | ${ks.map(() => "---:").join(" | ")} |`);
  const fixed = (key: string) => ks.map(() => tpsCell(find(key)));
  out.push(`| direct primary, no proxy (one node's capacity) | ${fixed("A").join(" | ")} |`);
  out.push(`| PgBouncer (primary only) | ${fixed("B").join(" | ")} |`);
  out.push(`| Pgpool-II (primary + replicas, equal weights) | ${ks.map((k) => tpsCell(find(`C${k}`))).join(" | ")} |`);
  if (find(`R${maxReplicas}`)) out.push(`| Pgpool-II (replicas only, primary weight 0) | ${ks.map((k) => (k === maxReplicas ? tpsCell(find(`R${k}`)) : "–")).join(" | ")} |`);
  out.push(`| **PgGate split** (reads on replicas) | ${ks.map((k) => `**${tpsCell(find(`E${k}`))}**`).join(" | ")} |`);
  out.push(`| PgGate ÷ PgBouncer | ${ks.map((k) => ratio(find(`E${k}`)?.tps, find("B")?.tps)).join(" | ")} |`);
  out.push(`| PgGate ÷ Pgpool-II (primary + replicas) | ${ks.map((k) => ratio(find(`E${k}`)?.tps, find(`C${k}`)?.tps)).join(" | ")} |`);
  if (ks.some((k) => find(`P${k}`))) {
    out.push(`| **PgGate split, primary_read_weight 1** (primary + replicas) | ${ks.map((k) => (find(`P${k}`) ? `**${tpsCell(find(`P${k}`))}**` : "–")).join(" | ")} |`);
    out.push(`| PgGate (primary + replicas) ÷ PgBouncer | ${ks.map((k) => (find(`P${k}`) ? ratio(find(`P${k}`)?.tps, find("B")?.tps) : "–")).join(" | ")} |`);
    out.push(`| PgGate (primary + replicas) ÷ Pgpool-II (primary + replicas) | ${ks.map((k) => (find(`P${k}`) ? ratio(find(`P${k}`)?.tps, find(`C${k}`)?.tps) : "–")).join(" | ")} |`);
  }
  return out;
}

/** Where the CPU went: per configuration, median CPU in % of one core and % of periods throttled. */
export function scaleOutCpuTable(r: ScaleOutReport): string[] {
  const keys = [...new Set(r.summaries.flatMap((s) => Object.keys(s.cpuPct)))];
  const out: string[] = [];
  out.push(`| Configuration | ${keys.map((k) => `${k} CPU % (throttled %)`).join(" | ")} | avg latency ms |`);
  out.push(`| --- | ${keys.map(() => "---:").join(" | ")} | ---: |`);
  for (const s of r.summaries) {
    const cells = keys.map((k) => (s.cpuPct[k] == null ? "–" : `${s.cpuPct[k]!.toFixed(0)} (${s.throttledPct[k]?.toFixed(0) ?? "–"})`));
    out.push(`| ${s.key}. ${s.label}${s.replicas !== null ? `, ${s.replicas} replica(s)` : ""} | ${cells.join(" | ")} | ${s.latencyAvgMs?.toFixed(2) ?? "–"} |`);
  }
  return out;
}

export function scaleOutMarkdown(r: ScaleOutReport, machine: Record<string, string>, otherLoad: string): string {
  const p = r.params;
  const out: string[] = [];
  out.push("# PgGate benchmark — scenario 10: read scale-out as on separate machines");
  out.push("");
  out.push(
    `${r.date}: \`pgbench ${p.args.join(" ")} -T ${p.durationS}\`, ${p.rounds} interleaved round(s) per configuration (median, min–max). ` +
      `cgroup v1 cpu quotas (cfs_period_us ${p.periodUs}): each PostgreSQL node ${p.nodeCpus} CPU, the proxy under test ${p.proxyCpus} CPU, pgbench ${p.pgbenchCpus} CPU. ` +
      `Machine: ${machine.CPU ?? `${cpus().length} cores`}; ${otherLoad}.`,
  );
  out.push("");
  out.push(...scaleOutTable(r));
  out.push("");
  out.push("CPU per group, % of one core (median over the rounds; in parentheses the % of CFS periods in which the group hit its quota):");
  out.push("");
  out.push(...scaleOutCpuTable(r));
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
