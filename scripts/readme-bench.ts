// Copies the summary of bench-results/latest.json into README.md and docs/benchmarks.md (between the bench-summary
// markers): TPS and proxy CPU per transaction per scenario and system. `bun scripts/readme-bench.ts`.
import { readFileSync, writeFileSync } from "node:fs";

interface Summary {
  scenario: string;
  system: string;
  status: string;
  tps: number | null;
  latencyAvgMs: number | null;
  p99Ms: number | null;
  cpuMsPerTxn: number | null;
  reason: string | null;
  failed?: number | null;
  replicaReadPct?: number | null;
}
interface Bench {
  date: string;
  params: { rounds: number; durationS: number };
  scenarios: { id: string; title: string }[];
  systems: Record<string, { label?: string; name?: string } | string>;
  summaries: Summary[];
  metricsOverhead: { tpsOn: number; tpsOff: number; overheadPct: number } | null;
  memory: { system: string; label: string; kbPerConnection: number; connections: number }[];
}

const START = "<!-- bench-summary:start -->";
const END = "<!-- bench-summary:end -->";
const COLUMNS: [string, string][] = [
  ["A", "direct"],
  ["F", "Bun forwarder"],
  ["B", "PgBouncer"],
  ["C", "Pgpool-II"],
  ["D", "PgGate"],
  ["E", "PgGate split"],
];

function cell(s: Summary | undefined): string {
  if (!s) return "–";
  // Scenario 9 fails a transaction on a stale read: a partial run there means stale reads.
  if (s.scenario === "9" && s.status === "partial") return `stale reads (${s.failed ?? "?"} clients aborted)`;
  if (s.status !== "ok" || s.tps === null) return s.status === "unsupported" ? "unsupported" : "failed";
  const tps = Math.round(s.tps).toLocaleString("en-US");
  return s.cpuMsPerTxn === null ? tps : `${tps} (${(s.cpuMsPerTxn * 1000).toFixed(0)} µs)`;
}

const bench = JSON.parse(readFileSync("bench-results/latest.json", "utf8")) as Bench;
const lines = [
  `Median TPS of ${bench.params.rounds} rounds of \`-T ${bench.params.durationS}\` (proxy CPU per transaction in parentheses), ${bench.date.slice(0, 10)}:`,
  "",
  `| Scenario | ${COLUMNS.map(([, n]) => n).join(" | ")} |`,
  `| --- | ${COLUMNS.map(() => "---:").join(" | ")} |`,
];
for (const sc of bench.scenarios) {
  if (!/^([1-6]|9)$/.test(sc.id)) continue;
  const row = COLUMNS.map(([k]) => cell(bench.summaries.find((s) => s.scenario === sc.id && s.system === k)));
  lines.push(`| ${sc.id}. ${sc.title} | ${row.join(" | ")} |`);
}
lines.push("");
const lat = COLUMNS.map(([k, n]) => {
  const s = bench.summaries.find((x) => x.scenario === "6" && x.system === k);
  return s && s.latencyAvgMs !== null ? `${n} ${s.latencyAvgMs.toFixed(3)} / ${s.p99Ms?.toFixed(3) ?? "–"} ms` : null;
}).filter(Boolean);
lines.push(`Single-client latency (avg / p99): ${lat.join("; ")}.`);
const ryw = bench.summaries.find((x) => x.scenario === "9" && x.system === "E");
if (ryw && ryw.tps !== null) {
  lines.push(`Read-your-writes mix (scenario 9), PgGate split: ${Math.round(ryw.replicaReadPct ?? 0)} % of the reads on replicas, ${ryw.failed ?? 0} stale reads, avg latency ${ryw.latencyAvgMs?.toFixed(2)} ms.`);
}
for (const m of bench.memory) lines.push(`Idle clients: ${m.label}: ${m.kbPerConnection.toFixed(1)} KB per connection at ${m.connections.toLocaleString("en-US")}.`);
if (bench.metricsOverhead) {
  lines.push(`Metrics on vs off (scenario 1, split): ${Math.round(bench.metricsOverhead.tpsOn)} vs ${Math.round(bench.metricsOverhead.tpsOff)} TPS (${bench.metricsOverhead.overheadPct.toFixed(1)} %, within run-to-run noise).`);
}

// The summary stands in README.md and, with the discussion around it, in docs/benchmarks.md.
for (const file of ["README.md", "docs/benchmarks.md"]) {
  const text = readFileSync(file, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} lacks the bench-summary markers`);
  writeFileSync(file, text.slice(0, a + START.length) + "\n" + lines.join("\n") + "\n" + text.slice(b));
  console.log(`${file} bench summary updated`);
}
