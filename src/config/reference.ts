// Renders SCHEMA for people: the README config reference and SHOW CONFIG rows.
// Pure text; secrets are masked here so no caller has to remember to.

import { DATABASE_FIELDS, DATABASE_ROUTING_KEYS, describeType, NODE_FIELDS, SCHEMA, snakeToCamel, valueAt, type ConfigPath } from "./schema.ts";
import type { Config, DatabaseConfig, NodeConfig, PoolOverride, RoutingConfig } from "./types.ts";

function formatNode(n: NodeConfig): string {
  return `${n.host}:${n.port}${n.weight === 1 ? "" : ` (weight ${n.weight})`}`;
}

function isDatabaseConfig(v: object): v is DatabaseConfig {
  return "name" in v && "dbname" in v && "nodes" in v && "routing" in v;
}

function isPoolOverride(v: object): v is PoolOverride {
  return "name" in v && "size" in v && "mode" in v;
}

/** `reporting (size 2, mode session)`; a field left to inherit is not shown. */
function formatPoolOverride(o: PoolOverride): string {
  const own = [o.size === null ? "" : `size ${o.size}`, o.mode === null ? "" : `mode ${o.mode}`].filter((x) => x !== "");
  return own.length > 0 ? `${o.name} (${own.join(", ")})` : o.name;
}

/**
 * `app→app_prod`, `analytics@10.0.0.9:5432 replicas [10.0.0.10:5432 (weight 2)]`; with `top`, the
 * routing keys the entry sets differently, e.g. `app (read_write_split false)`.
 */
export function formatDatabase(d: DatabaseConfig, top?: RoutingConfig): string {
  let out = d.name + (d.dbname === "" ? "" : `→${d.dbname}`);
  if (d.nodes) {
    out += `@${formatNode(d.nodes.primary)}`;
    if (d.nodes.replicas.length > 0) out += ` replicas [${d.nodes.replicas.map(formatNode).join(", ")}]`;
  }
  if (top) {
    const own = DATABASE_ROUTING_KEYS.flatMap((path) => {
      const name = path.slice("routing.".length);
      const field = snakeToCamel(name) as keyof RoutingConfig;
      return d.routing[field] === top[field] ? [] : [`${name} ${formatValue(d.routing[field])}`];
    });
    if (own.length > 0) out += ` (${own.join(", ")})`;
  }
  return out;
}

/** A value as one line of text, as SHOW CONFIG and the reference print it. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "(required)";
  if (v === null) return "(none)"; // nodes.primary when every databases entry names its own nodes
  if (Array.isArray(v)) return `[${v.map((x: unknown) => formatValue(x)).join(", ")}]`;
  if (typeof v === "object" && v !== null && isDatabaseConfig(v)) return formatDatabase(v);
  if (typeof v === "object" && v !== null && isPoolOverride(v)) return formatPoolOverride(v);
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
    const shown =
      k.secret === true && v !== ""
        ? "********"
        : k.kind === "databases"
          ? `[${config.databases.map((d) => formatDatabase(d, config.routing)).join(", ")}]`
          : formatValue(v);
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
  lines.push("", "Node fields (`nodes.primary`, each item of `nodes.replicas`, and the same in a `databases` entry's `nodes`):", "");
  lines.push("| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
  for (const f of NODE_FIELDS) lines.push(`| \`${f.name}\` | ${f.type} | \`${formatValue(f.default)}\` | ${esc(f.doc)} |`);
  lines.push("", "Fields of a `databases` entry (each may be left out; `app: {}` takes every default):", "");
  lines.push("| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
  for (const f of DATABASE_FIELDS) lines.push(`| \`${f.name}\` | ${esc(f.type)} | ${esc(f.default)} | ${esc(f.doc)} |`);
  return `${lines.join("\n")}\n`;
}
