// Renders a Plan as PgGate YAML: sections in the schema's order, each value with a comment saying
// where it came from, `databases:` entries under their PgBouncer lines, and keys this PgGate
// lacks as comments. Pure: text in, text out.

import { parse } from "yaml";
import { SCHEMA } from "../config/schema.ts";
import type { DatabaseOut, Plan, Setting } from "./plan.ts";

interface Tree {
  readonly children: Map<string, Tree>;
  setting?: Setting;
  /** Settings of keys this PgGate lacks, written commented out under this section. */
  readonly pending: Setting[];
}

const newTree = (): Tree => ({ children: new Map(), pending: [] });

export function renderYaml(plan: Plan, header: readonly string[]): string {
  const root = newTree();
  const order = new Map<string, number>(SCHEMA.map((k, i) => [k.path, i]));
  const settings = [...plan.settings.values()].sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
  // The databases section sits where the schema puts it, among the others.
  const withDatabases: (Setting | "databases")[] = [...settings];
  if (plan.databases.length > 0) {
    const at = withDatabases.findIndex((s) => s !== "databases" && (order.get(s.path) ?? 0) > (order.get("databases") ?? 0));
    withDatabases.splice(at < 0 ? withDatabases.length : at, 0, "databases");
  }
  for (const s of withDatabases) {
    if (s === "databases") node(root, ["databases"]);
    else node(root, s.path.split(".")).setting = s;
  }
  for (const p of plan.pending) {
    const parts = p.path.split(".");
    node(root, parts.slice(0, -1)).pending.push(p);
  }
  const lines = header.map((h) => (h === "" ? "#" : `# ${h}`));
  renderTree(root, 0, lines, plan.databases);
  for (const p of root.pending) lines.push(`# ${p.path}: ${flow(p.value)}  # ${p.comment}; ${p.path} is not in this PgGate version`);
  return lines.join("\n") + "\n";
}

function node(root: Tree, parts: readonly string[]): Tree {
  let cur = root;
  for (const part of parts) {
    let next = cur.children.get(part);
    if (!next) {
      next = newTree();
      cur.children.set(part, next);
    }
    cur = next;
  }
  return cur;
}

function renderTree(tree: Tree, depth: number, lines: string[], databases: readonly DatabaseOut[]): void {
  const pad = "  ".repeat(depth);
  for (const [name, child] of tree.children) {
    const key = `${pad}${yamlKey(name)}:`;
    if (name === "databases" && depth === 0) {
      lines.push(`${key}  # PgBouncer's [databases]; a name not listed here${databases.some((d) => d.name === "*") ? ' goes to "*"' : " is refused"}`);
      for (const d of databases) renderDatabase(d, lines);
      continue;
    }
    if (child.setting) {
      lines.push(...renderValue(key, child.setting.value, depth, child.setting.comment));
      continue;
    }
    lines.push(key);
    renderTree(child, depth + 1, lines, databases);
    for (const p of child.pending) {
      const leaf = p.path.split(".").at(-1)!;
      lines.push(`${pad}  # ${yamlKey(leaf)}: ${flow(p.value)}  # ${p.comment}; ${p.path} is not in this PgGate version`);
    }
  }
}

function renderValue(key: string, value: unknown, depth: number, comment: string): string[] {
  const note = comment ? `  # ${comment}` : "";
  if (isPlainObject(value) && !Object.values(value).every(isScalar)) {
    const out = [`${key}${note}`];
    for (const [k, v] of Object.entries(value)) out.push(...renderValue(`${"  ".repeat(depth + 1)}${yamlKey(k)}:`, v, depth + 1, ""));
    return out;
  }
  return [`${key} ${flow(value)}${note}`];
}

function renderDatabase(d: DatabaseOut, lines: string[]): void {
  lines.push(`  # ${d.comment}`);
  const fields: Record<string, unknown> = {};
  if (d.dbname !== undefined) fields.dbname = d.dbname;
  if (d.primary) fields.nodes = { primary: d.primary };
  if (d.pool) fields.pool = d.pool;
  const key = `  ${yamlKey(d.name)}:`;
  if (Object.keys(fields).length === 0) {
    lines.push(`${key} {}`);
    return;
  }
  lines.push(key);
  for (const [k, v] of Object.entries(fields)) lines.push(`    ${k}: ${flow(v)}`);
}

/** A value on one line: scalars, `[a, b]`, `{ a: 1, b: { c: 2 } }`. */
function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(", ")}]`;
  if (isPlainObject(value)) {
    const parts = Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${yamlKey(k)}: ${flow(v)}`);
    return parts.length === 0 ? "{}" : `{ ${parts.join(", ")} }`;
  }
  if (typeof value === "string") return yamlString(value);
  return String(value);
}

/** Plain when YAML reads it back as the same string (so `0.0.0.0` stays plain, `"6432"` and `"*"` are quoted). */
function yamlString(s: string): string {
  if (/^[A-Za-z0-9_/.][A-Za-z0-9_/.@+-]*$/.test(s)) {
    try {
      if (parse(s) === s) return s;
    } catch {
      // not plain-safe: quoted below
    }
  }
  return JSON.stringify(s);
}

function yamlKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) && parse(k) === k ? k : JSON.stringify(k);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
