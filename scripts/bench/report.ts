// Result types of the benchmark and their renderings: medians, the console table, the Markdown
// report and a dependency-free SVG bar chart. Pure functions over plain data; no I/O.

import type { PgbenchResult } from "./pgbench.ts";
import { SYSTEM_NAMES, type SystemId } from "./systems.ts";

export type RunStatus = "ok" | "partial" | "failed" | "unsupported" | "skipped";

export interface RunRecord {
  scenario: string;
  system: SystemId;
  round: number;
  status: RunStatus;
  /** Why a run is not "ok" (first error line, or the start failure of the system). */
  reason: string | null;
  pgbench: PgbenchResult | null;
  /** Proxy CPU (user + system) during the run, ms; null for the direct primary. */
  cpuMs: number | null;
  cpuMsPerTxn: number | null;
  /** Peak of the summed VmRSS of the proxy's processes, sampled every 250 ms during the run. */
  rssPeakMb: number | null;
  /** Summed VmHWM (peak since process start) after the run. */
  hwmMb: number | null;
  /** Summed Pss after the run (shared pages split among the processes sharing them). */
  pssMb: number | null;
  /** CPU used during the run by processes that are not ours, in % of all cores (machine noise). */
  foreignCpuPct: number | null;
  /** Scenario 9: share of the SELECTs PgGate ran on a replica (from its /metrics); 0 for the others. */
  replicaReadPct?: number | null;
}

export interface Summary {
  scenario: string;
  system: SystemId;
  status: RunStatus;
  rounds: number;
  measuredRounds: number;
  reason: string | null;
  tps: number | null;
  tpsMin: number | null;
  tpsMax: number | null;
  latencyAvgMs: number | null;
  p99Ms: number | null;
  failed: number | null;
  cpuMsPerTxn: number | null;
  clientCpuMsPerTxn: number | null;
  rssPeakMb: number | null;
  pssMb: number | null;
  foreignCpuPct: number | null;
  replicaReadPct: number | null;
}

export interface ScenarioDef {
  id: string;
  title: string;
  args: string[];
  log?: boolean;
  systems?: SystemId[];
  /** Seconds added to -T (time the clients need to connect before the measured part starts). */
  extraS?: number;
  /** Which cluster user pgbench logs in as (default scram). */
  user?: "scram" | "md5";
  /** A sentence for the report under the command line. */
  note?: string;
}

export interface MemoryResult {
  system: SystemId;
  label: string;
  connections: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  loginMs: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  hwmAfterMb: number;
  kbPerConnection: number | null;
  error: string | null;
}

export interface BenchReport {
  date: string;
  totalRuntimeS: number;
  params: {
    rounds: number;
    durationS: number;
    scale: number;
    scenarios: string[];
    systems: SystemId[];
    quick: boolean;
    /** Unrecorded warm-up per system before scenario 1, seconds. */
    warmupS: { pggate: number; others: number };
  };
  machine: Record<string, string>;
  systems: Record<string, { name: string; status: "running" | "skipped" | "failed"; notes: string[]; error: string | null }>;
  scenarios: ScenarioDef[];
  runs: RunRecord[];
  summaries: Summary[];
  metricsOverhead: {
    tpsOn: number | null;
    tpsOff: number | null;
    /** (off - on) / off in %: positive means metrics cost throughput. */
    overheadPct: number | null;
    cpuOn: number | null;
    cpuOff: number | null;
    /** [min, max] TPS over the rounds. */
    rangeOn: [number | null, number | null];
    rangeOff: [number | null, number | null];
  } | null;
  memory: MemoryResult[];
  problems: string[];
}

// ---------------------------------------------------------------------------------------------
// Medians

export function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function summarise(scenario: string, system: SystemId, runs: RunRecord[]): Summary {
  const mine = runs.filter((r) => r.scenario === scenario && r.system === system);
  const measured = mine.filter((r) => (r.status === "ok" || r.status === "partial") && (r.pgbench?.transactions ?? 0) > 0);
  const statuses = new Set(mine.map((r) => r.status));
  const status: RunStatus = statuses.has("unsupported")
    ? "unsupported"
    : mine.length > 0 && mine.every((r) => r.status === "ok")
      ? "ok"
      : mine.length > 0 && mine.every((r) => r.status === "skipped")
        ? "skipped"
        : measured.length > 0
          ? "partial"
          : "failed";
  const reason = mine.find((r) => r.reason)?.reason ?? null;
  return {
    scenario,
    system,
    status,
    rounds: mine.length,
    measuredRounds: measured.length,
    reason,
    tps: median(measured.map((r) => r.pgbench?.tps)),
    tpsMin: measured.length > 0 ? Math.min(...measured.map((r) => r.pgbench?.tps ?? Infinity)) : null,
    tpsMax: measured.length > 0 ? Math.max(...measured.map((r) => r.pgbench?.tps ?? -Infinity)) : null,
    // Scenario 6 computes latency from the per-transaction log; the others use pgbench's average.
    latencyAvgMs: median(measured.map((r) => r.pgbench?.log?.avgMs ?? r.pgbench?.latencyAvgMs)),
    p99Ms: median(measured.map((r) => r.pgbench?.log?.p99Ms)),
    failed: median(mine.filter((r) => r.pgbench?.tps != null).map((r) => (r.pgbench?.failedTransactions ?? 0) + (r.pgbench?.abortedClients ?? 0))),
    cpuMsPerTxn: median(measured.map((r) => r.cpuMsPerTxn)),
    clientCpuMsPerTxn: median(measured.map((r) => (r.pgbench?.clientCpuMs != null && r.pgbench.transactions ? r.pgbench.clientCpuMs / r.pgbench.transactions : null))),
    rssPeakMb: median(measured.map((r) => r.rssPeakMb)),
    pssMb: median(measured.map((r) => r.pssMb)),
    foreignCpuPct: median(mine.map((r) => r.foreignCpuPct)),
    replicaReadPct: median(measured.map((r) => r.replicaReadPct)),
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const fmt = (v: number | null, digits = 0): string => (v === null ? "–" : v.toFixed(digits));
const fmtTps = (v: number | null): string => (v === null ? "–" : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1));
const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? "–" : `${(a / b).toFixed(2)}×`);
const signed = (v: number): string => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`;
const usable = (s: Summary | undefined): s is Summary => !!s && (s.status === "ok" || s.status === "partial") && s.tps !== null;

function statusCell(s: Summary): string {
  if (s.status === "ok") return "ok";
  const why = s.reason ? `: ${s.reason.replace(/\|/g, "\\|").slice(0, 240)}` : "";
  if (s.status === "partial") return `partial (${s.measuredRounds}/${s.rounds} rounds measured)${why}`;
  return `${s.status}${why}`;
}

function find(summaries: Summary[], scenario: string, system: SystemId): Summary | undefined {
  return summaries.find((s) => s.scenario === scenario && s.system === system);
}

// ---------------------------------------------------------------------------------------------
// Console

export function consoleTable(report: BenchReport): string {
  const lines: string[] = [];
  const head = ["scenario", "system", "status", "TPS", "lat ms", "p99 ms", "fail", "cpu ms/txn", "RSS MB"];
  const rows: string[][] = [head];
  for (const s of report.summaries) {
    rows.push([
      s.scenario,
      `${s.system} ${SYSTEM_NAMES[s.system]}`,
      s.status,
      usable(s) ? fmtTps(s.tps) : "–",
      fmt(s.latencyAvgMs, 3),
      fmt(s.p99Ms, 3),
      fmt(s.failed),
      fmt(s.cpuMsPerTxn, 4),
      fmt(s.rssPeakMb, 1),
    ]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) lines.push(r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  "));
  if (report.metricsOverhead) {
    const m = report.metricsOverhead;
    lines.push(`metrics overhead (scenario 1, PgGate split): on ${fmtTps(m.tpsOn)} tps, off ${fmtTps(m.tpsOff)} tps -> throughput cost of metrics ${fmt(m.overheadPct, 1)} % (ranges on ${fmtTps(m.rangeOn[0])}-${fmtTps(m.rangeOn[1])}, off ${fmtTps(m.rangeOff[0])}-${fmtTps(m.rangeOff[1])})`);
  }
  for (const m of report.memory) {
    lines.push(
      m.error
        ? `memory ${m.label}: ${m.error}`
        : `memory ${m.label}: ${m.ok}/${m.connections} idle logins, RSS ${fmt(m.rssBeforeMb, 1)} -> ${fmt(m.rssAfterMb, 1)} MB = ${fmt(m.kbPerConnection, 1)} KB/connection`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function markdown(report: BenchReport): string {
  const out: string[] = [];
  const p = report.params;
  out.push("# PgGate benchmark");
  out.push("");
  out.push(
    `${report.date} — ${p.rounds} round(s) of \`-T ${p.durationS}\` per system and scenario (rounds interleaved A B C D E, medians shown), ` +
      `pgbench scale ${p.scale}, total runtime ${Math.round(report.totalRuntimeS)} s. Every system on loopback, every leg plaintext. ` +
      `Before scenario 1 every system got an unrecorded warm-up (PgGate ${p.warmupS.pggate} s: it runs on a JIT and a fresh instance needs ~8 s of load to reach steady throughput; the others ${p.warmupS.others} s).`,
  );
  out.push("");
  out.push("## Machine");
  out.push("");
  for (const [k, v] of Object.entries(report.machine)) out.push(`- ${k}: ${v}`);
  const foreign = report.runs.map((r) => r.foreignCpuPct).filter((v): v is number => v !== null);
  if (foreign.length > 0) {
    out.push(
      `- Other load during the runs (CPU of processes the bench did not start, % of all cores): median ${fmt(median(foreign), 1)} %, max ${fmt(Math.max(...foreign), 1)} %`,
    );
  }
  out.push("");
  out.push("## Systems");
  out.push("");
  for (const [id, s] of Object.entries(report.systems)) {
    const detail = s.status === "running" ? s.notes.join("; ") : s.error ?? "";
    out.push(`- **${id}. ${s.name}** (${s.status})${detail ? ": " + detail : ""}`);
  }
  out.push("");
  out.push(
    "Columns: TPS = pgbench tps (without initial connection time, except scenario 5 where reconnections are the workload); " +
      "latency = pgbench's average (scenario 6: from the per-transaction log); failed = failed transactions + clients pgbench aborted; " +
      "proxy CPU ms/txn = the proxy's user+system CPU during the run (all processes of its tree, from /proc/<pid>/stat) / transactions; " +
      "pgbench CPU ms/txn = the client's own CPU (it shares the 2 cores); " +
      "RSS MB = peak summed VmRSS sampled during the run (for Pgpool-II's ~25 processes this counts shared pages many times, PSS does not); " +
      "vs PgBouncer / vs Pgpool-II = TPS ratio; other load % = CPU used during the runs by processes the bench did not start, in % of all cores (this machine is shared).",
  );
  for (const sc of report.scenarios) {
    const rows = report.summaries.filter((s) => s.scenario === sc.id);
    if (rows.length === 0) continue;
    out.push("");
    out.push(`## Scenario ${sc.id}: ${sc.title}`);
    out.push("");
    const who = sc.user === "md5" ? "the MD5 user pggate_md5" : "the SCRAM user pggate_scram";
    out.push(
      `\`pgbench ${sc.args.join(" ")}${sc.log ? " -l" : ""} -T ${p.durationS + (sc.extraS ?? 0)}\` as ${who}` +
        (sc.extraS ? ` (-T includes the ${sc.extraS} s the 1000 logins may take; pgbench's TPS excludes the connection time)` : ""),
    );
    if (sc.note) {
      out.push("");
      out.push(sc.note);
    }
    out.push("");
    const b = find(report.summaries, sc.id, "B");
    const c = find(report.summaries, sc.id, "C");
    const a = find(report.summaries, sc.id, "A");
    const bTps = usable(b) && b.status === "ok" ? b.tps : null;
    const cTps = usable(c) && c.status === "ok" ? c.tps : null;
    const isLatency = sc.id === "6";
    const isRyw = sc.id === "9";
    const head = ["System", "TPS (min–max)", "avg latency ms"];
    if (isLatency) head.push("p99 ms", "added avg / p99 vs direct (ms)");
    if (isRyw) head.push("reads on replicas %");
    head.push("failed", "proxy CPU ms/txn", "pgbench CPU ms/txn", "RSS MB", "PSS MB", "vs PgBouncer", "vs Pgpool-II", "other load %", "status");
    out.push(`| ${head.join(" | ")} |`);
    out.push(`| ${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join(" | ")} |`);
    for (const s of rows) {
      const ok = usable(s);
      const range = ok && s.measuredRounds > 1 ? ` (${fmtTps(s.tpsMin)}–${fmtTps(s.tpsMax)})` : "";
      const cells = [`${s.system}. ${SYSTEM_NAMES[s.system]}`, ok ? `${fmtTps(s.tps)}${range}` : "–", ok ? fmt(s.latencyAvgMs, 3) : "–"];
      if (isLatency) {
        cells.push(ok ? fmt(s.p99Ms, 3) : "–");
        cells.push(
          ok && usable(a) && s.system !== "A" && s.latencyAvgMs !== null && a.latencyAvgMs !== null && s.p99Ms !== null && a.p99Ms !== null
            ? `${signed(s.latencyAvgMs - a.latencyAvgMs)} / ${signed(s.p99Ms - a.p99Ms)}`
            : "–",
        );
      }
      if (isRyw) cells.push(ok ? fmt(s.replicaReadPct ?? 0, 0) : "–");
      cells.push(
        fmt(s.failed),
        fmt(s.cpuMsPerTxn, 4),
        fmt(s.clientCpuMsPerTxn, 4),
        fmt(s.rssPeakMb, 1),
        fmt(s.pssMb, 1),
        ok && s.system !== "B" ? ratio(s.tps, bTps) : "–",
        ok && s.system !== "C" ? ratio(s.tps, cTps) : "–",
        fmt(s.foreignCpuPct, 0),
        statusCell(s),
      );
      out.push(`| ${cells.join(" | ")} |`);
    }
  }
  out.push("");
  out.push("## Extras");
  out.push("");
  if (report.metricsOverhead) {
    const m = report.metricsOverhead;
    out.push(
      `- **Metrics overhead** (scenario 1 against PgGate with splitting, \`metrics.enabled: true\` vs \`false\`, rounds alternating E E0 / E0 E): ` +
        `${fmtTps(m.tpsOn)} vs ${fmtTps(m.tpsOff)} TPS = **${m.overheadPct === null ? "–" : `${Math.abs(m.overheadPct).toFixed(1)} % ${m.overheadPct >= 0 ? "slower" : "faster"}`} with metrics on**; ` +
        `CPU ${fmt(m.cpuOn, 4)} vs ${fmt(m.cpuOff, 4)} ms/txn (no scraper was polling /metrics). ` +
        `TPS ranges over the rounds: on ${fmtTps(m.rangeOn[0])}–${fmtTps(m.rangeOn[1])}, off ${fmtTps(m.rangeOff[0])}–${fmtTps(m.rangeOff[1])}` +
        (m.rangeOn[0] !== null && m.rangeOn[1] !== null && m.rangeOff[0] !== null && m.rangeOff[1] !== null &&
        m.rangeOn[0] <= m.rangeOff[1] && m.rangeOff[0] <= m.rangeOn[1]
          ? ": they overlap, so the difference is within run-to-run noise on this machine."
          : "."),
    );
  }
  for (const m of report.memory) {
    out.push(
      m.error
        ? `- **Memory, ${m.label}**: failed: ${m.error}`
        : `- **Memory, ${m.label}**: ${m.ok.toLocaleString("en-US")} of ${m.connections.toLocaleString("en-US")} idle clients logged in (SCRAM, ${(m.loginMs / 1000).toFixed(1)} s); ` +
            `RSS ${fmt(m.rssBeforeMb, 1)} MB before → ${fmt(m.rssAfterMb, 1)} MB after (VmHWM ${fmt(m.hwmAfterMb, 1)} MB) = **${fmt(m.kbPerConnection, 1)} KB per connection**` +
            (m.failed > 0 ? `; ${m.failed} failed: ${Object.entries(m.errors).map(([k, v]) => `${k} ×${v}`).join(", ")}` : ""),
    );
  }
  const gaps = pggateVsPgbouncer(report);
  if (gaps.length > 0) {
    out.push("");
    out.push("## PgGate vs PgBouncer");
    out.push("");
    for (const g of gaps) out.push(`- ${g}`);
  }
  if (report.problems.length > 0) {
    out.push("");
    out.push("## What did not work");
    out.push("");
    for (const pr of report.problems) out.push(`- ${pr}`);
  }
  out.push("");
  return out.join("\n");
}

/** One line per scenario: how PgGate (D, E) compares with PgBouncer on TPS, latency and CPU. */
export function pggateVsPgbouncer(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const sc of report.scenarios) {
    const b = find(report.summaries, sc.id, "B");
    if (!usable(b) || b.status !== "ok" || b.tps === null) continue;
    const parts: string[] = [];
    for (const id of ["D", "E"] as const) {
      const s = find(report.summaries, sc.id, id);
      if (!usable(s) || s.tps === null) continue;
      const pct = (s.tps / b.tps - 1) * 100;
      const lat = s.latencyAvgMs !== null && b.latencyAvgMs !== null ? ` avg latency ${s.latencyAvgMs.toFixed(3)} vs ${b.latencyAvgMs.toFixed(3)} ms,` : "";
      const cpu = s.cpuMsPerTxn !== null && b.cpuMsPerTxn !== null && b.cpuMsPerTxn > 0 ? ` CPU/txn ${(s.cpuMsPerTxn / b.cpuMsPerTxn).toFixed(1)}× PgBouncer's` : "";
      parts.push(`${id} ${pct < 0 ? `${(-pct).toFixed(1)} % slower` : `${pct.toFixed(1)} % faster`} (${fmtTps(s.tps)} vs ${fmtTps(b.tps)} TPS,${lat}${cpu})`);
    }
    if (parts.length > 0) lines.push(`Scenario ${sc.id} (${sc.title}): ${parts.join("; ")}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// SVG: one panel per scenario (own scale: TPS differs 100× between scenarios), one bar per system

const COLORS: Record<SystemId, string> = { A: "#6b7280", F: "#9ca3af", B: "#2563eb", C: "#d97706", D: "#059669", E: "#7c3aed", E0: "#db2777" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function svgChart(report: BenchReport): string {
  const scenarios = report.scenarios.filter((sc) => /^[1-6]$/.test(sc.id) && report.summaries.some((s) => s.scenario === sc.id));
  const systems = (["A", "F", "B", "C", "D", "E"] as SystemId[]).filter((id) => report.summaries.some((s) => s.system === id));
  const panelW = 40 + systems.length * 34;
  const plotH = 220;
  const top = 70;
  const left = 20;
  const width = left * 2 + Math.max(1, scenarios.length) * panelW;
  const height = top + plotH + 80;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">PgGate benchmark — TPS per scenario (median of ${report.params.rounds}, -T ${report.params.durationS}; each panel has its own scale)</text>`);
  // Legend
  systems.forEach((id, i) => {
    const x = left + i * 150;
    parts.push(`<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[id]}"/>`);
    parts.push(`<text x="${x + 16}" y="44">${esc(`${id}. ${SYSTEM_NAMES[id]}`)}</text>`);
  });
  scenarios.forEach((sc, pi) => {
    const x0 = left + pi * panelW;
    const rows = systems.map((id) => find(report.summaries, sc.id, id));
    const max = Math.max(1, ...rows.map((s) => (usable(s) && s.tps !== null ? s.tps : 0)));
    parts.push(`<line x1="${x0 + 10}" y1="${top + plotH}" x2="${x0 + panelW - 10}" y2="${top + plotH}" stroke="#9ca3af"/>`);
    rows.forEach((s, i) => {
      const bx = x0 + 20 + i * 34;
      const id = systems[i];
      if (usable(s) && s.tps !== null) {
        const h = Math.max(1, (s.tps / max) * (plotH - 20));
        const y = top + plotH - h;
        const opacity = s.status === "ok" ? 1 : 0.45;
        parts.push(`<rect x="${bx}" y="${y.toFixed(1)}" width="26" height="${h.toFixed(1)}" fill="${COLORS[id]}" fill-opacity="${opacity}"><title>${esc(`${SYSTEM_NAMES[id]}: ${fmtTps(s.tps)} TPS (${s.status})`)}</title></rect>`);
        const label = s.tps >= 10000 ? `${(s.tps / 1000).toFixed(1)}k` : s.tps >= 1000 ? `${(s.tps / 1000).toFixed(2)}k` : s.tps.toFixed(0);
        parts.push(`<text x="${bx + 13}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="9">${label}</text>`);
      } else {
        const word = s ? (s.status === "unsupported" ? "unsup." : s.status === "skipped" ? "skip" : "fail") : "";
        // Rotated to read upwards from just above the axis.
        parts.push(`<text x="${bx + 16}" y="${top + plotH - 4}" font-size="9" fill="#b91c1c" transform="rotate(-90 ${bx + 16} ${top + plotH - 4})">${word}</text>`);
      }
    });
    const words = `${sc.id}. ${sc.title}`.split(" ");
    const lines: string[] = [];
    let cur = "";
    for (const w of words) {
      if ((cur + " " + w).trim().length > Math.floor(panelW / 6)) {
        lines.push(cur.trim());
        cur = w;
      } else cur += " " + w;
    }
    lines.push(cur.trim());
    lines.slice(0, 4).forEach((l, li) => {
      parts.push(`<text x="${x0 + panelW / 2}" y="${top + plotH + 16 + li * 13}" text-anchor="middle">${esc(l)}</text>`);
    });
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
