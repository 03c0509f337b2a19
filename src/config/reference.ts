// Renders SCHEMA for people: the README config reference and SHOW CONFIG rows.
// Pure text; secrets are masked here so no caller has to remember to.

import { describeType, NODE_FIELDS, SCHEMA, valueAt, type ConfigPath } from "./schema.ts";
import type { Config, NodeConfig } from "./types.ts";

function formatNode(n: NodeConfig): string {
  return `${n.host}:${n.port}${n.weight === 1 ? "" : ` (weight ${n.weight})`}`;
}

/** A value as one line of text, as SHOW CONFIG and the reference print it. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "(required)";
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (typeof v === "object" && v !== null && "host" in v && "port" in v && "weight" in v) {
    const { host, port, weight } = v;
    if (typeof host === "string" && typeof port === "number" && typeof weight === "number") {
      return formatNode({ host, port, weight });
    }
  }
  if (typeof v === "string") return v === "" ? '""' : v;
  return String(v);
}

export interface ConfigRow {
  readonly key: ConfigPath;
  readonly value: string;
  readonly default: string;
  readonly reloadable: boolean;
}

/** One row per key for SHOW CONFIG; secret values are shown as "********" when set. */
export function configRows(config: Config): ConfigRow[] {
  return SCHEMA.map((k) => {
    const v = valueAt(config, k.path);
    const shown = k.secret === true && v !== "" ? "********" : formatValue(v);
    return { key: k.path, value: shown, default: formatValue(k.default), reloadable: k.reloadable };
  });
}

/** The README config reference: a Markdown table generated from SCHEMA. */
export function renderReference(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [
    "| Key | Type | Default | SIGHUP | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const k of SCHEMA) {
    const reload = k.reloadable ? "yes" : "restart";
    lines.push(`| \`${k.path}\` | ${esc(describeType(k))} | \`${esc(formatValue(k.default))}\` | ${reload} | ${esc(k.doc)} |`);
  }
  lines.push("", "Node fields (`nodes.primary`, each item of `nodes.replicas`):", "");
  lines.push("| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
  for (const f of NODE_FIELDS) lines.push(`| \`${f.name}\` | ${f.type} | \`${formatValue(f.default)}\` | ${esc(f.doc)} |`);
  return `${lines.join("\n")}\n`;
}
