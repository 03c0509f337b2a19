// What changed between two snapshots, and which of those changes a reload cannot apply.
// Pure; the reloadable flags come from SCHEMA.

import { SCHEMA, valueAt, type ConfigPath } from "./schema.ts";
import type { Config, NodeConfig } from "./types.ts";

export interface ReplicaChanges {
  /** Replicas (by host:port) only in the new config. */
  readonly added: readonly NodeConfig[];
  /** Replicas (by host:port) only in the old config. */
  readonly removed: readonly NodeConfig[];
  /** Replicas in both whose weight changed. */
  readonly reweighted: readonly { readonly host: string; readonly port: number; readonly from: number; readonly to: number }[];
}

export interface ConfigDiff {
  /** YAML paths of every key whose value differs, in schema order. */
  readonly changed: readonly ConfigPath[];
  /** The subset of `changed` that only takes effect after a restart. */
  readonly restartRequired: readonly ConfigPath[];
  readonly replicas: ReplicaChanges;
}

export function diffConfig(old: Config, next: Config): ConfigDiff {
  const changed: ConfigPath[] = [];
  const restartRequired: ConfigPath[] = [];
  for (const key of SCHEMA) {
    if (sameValue(compared(old, key.path), compared(next, key.path))) continue;
    changed.push(key.path);
    if (!key.reloadable) restartRequired.push(key.path);
  }
  return { changed, restartRequired, replicas: diffReplicas(old.nodes.replicas, next.nodes.replicas) };
}

/**
 * What is compared for a key: its value, except that a `databases:` entry's pool lives in
 * pool.databases, so an entry whose pool changed counts as a changed entry too.
 */
function compared(c: Config, path: ConfigPath): unknown {
  if (path !== "databases") return valueAt(c, path);
  return c.databases.map((d) => ({ ...d, pool: c.pool.databases.find((p) => p.name === d.name) ?? null }));
}

function diffReplicas(old: readonly NodeConfig[], next: readonly NodeConfig[]): ReplicaChanges {
  const id = (n: NodeConfig) => `${n.host}:${n.port}`;
  const before = new Map(old.map((n) => [id(n), n]));
  const after = new Map(next.map((n) => [id(n), n]));
  const reweighted: { host: string; port: number; from: number; to: number }[] = [];
  for (const [k, n] of after) {
    const prev = before.get(k);
    if (prev && prev.weight !== n.weight) reweighted.push({ host: n.host, port: n.port, from: prev.weight, to: n.weight });
  }
  return {
    added: next.filter((n) => !before.has(id(n))),
    removed: old.filter((n) => !after.has(id(n))),
    reweighted,
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    return ka.length === kb.length && ka.every((k) => k in rb && sameValue(ra[k], rb[k]));
  }
  return false;
}
