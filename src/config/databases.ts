// Validation of the `databases:` section: each entry's own keys, then the rules that need the
// top-level values (routing defaults, pool.databases, which nodes form which cluster). Reports
// through the validator's checks; no I/O.

import { formatValue } from "./reference.ts";
import { DATABASE_FIELDS, DATABASE_ROUTING_KEYS, describeType, findKey, RESERVED_DATABASE_NAMES, SCHEMA, snakeToCamel, type KeyDef } from "./schema.ts";
import { suggest } from "./suggest.ts";
import { pgbouncerDatabaseHint } from "./pgbouncer-keys.ts";
import type { ClusterNodes, DatabaseConfig, NodeConfig, PoolMode, PoolOverride, RoutingConfig } from "./types.ts";
import { describeGot as describe, formatPath as path, isMapping, type Segment } from "./yaml-shape.ts";

/** The validator's checks an entry reuses, so an entry's keys are judged exactly like the top-level ones. */
export interface EntryChecks {
  report(segments: readonly Segment[], message: string, at?: "key" | "value", near?: readonly Segment[]): void;
  string(segs: readonly Segment[], v: unknown, nonEmpty: boolean): string | undefined;
  node(segs: readonly Segment[], v: unknown): NodeConfig | undefined;
  nodeList(segs: readonly Segment[], v: unknown): NodeConfig[] | undefined;
  /** `{ size?, mode? }` as in pool.databases; undefined when it reported a problem. */
  poolEntry(segs: readonly Segment[], v: unknown): { size: number | null; mode: PoolMode | null } | undefined;
  /** A value checked against `key`'s kind and bounds; undefined when it reported a problem. */
  leafValue(key: KeyDef, segs: readonly Segment[], v: unknown): unknown;
}

/** An entry whose own keys are valid, before the top-level values are folded in. */
export interface ParsedDatabase {
  readonly name: string;
  readonly dbname: string;
  readonly nodes: ClusterNodes | null;
  /** null when the entry sets no pool key. */
  readonly pool: PoolOverride | null;
  /** Only the routing keys the entry sets. */
  readonly routing: Partial<RoutingConfig>;
}

const ENTRY_KEYS = DATABASE_FIELDS.map((f) => f.name);
const ROUTING_NAMES = DATABASE_ROUTING_KEYS.map((p) => p.slice("routing.".length));
const POOL_NAMES = ["size", "mode"];
const CLUSTER_KEYS = ["primary", "replicas"];

/** Whether a `databases:` value (valid or not) gives every entry its own nodes, so top-level nodes.primary is not needed. */
export function everyEntryHasNodes(v: unknown): boolean {
  if (!isMapping(v)) return false;
  const entries = Object.values(v);
  return entries.length > 0 && entries.every((e) => isMapping(e) && e.nodes !== undefined);
}

/**
 * The entries of a `databases:` value, in file order (`order` sorts them by position when the
 * text is known: a plain object lists integer-like names first). Undefined when any entry has a
 * problem (all reported).
 */
export function parseDatabases(
  c: EntryChecks,
  segs: readonly Segment[],
  v: unknown,
  order?: (name: string) => number,
): ParsedDatabase[] | undefined {
  if (v === null) return [];
  if (!isMapping(v)) {
    c.report(segs, `must be a mapping of database names, e.g. { app: { dbname: app_prod } }, got ${describe(v)}`);
    return undefined;
  }
  let names = Object.keys(v);
  if (order) names = names.map((n) => ({ n, at: order(n) })).sort((a, b) => a.at - b.at).map((x) => x.n);
  const out: ParsedDatabase[] = [];
  let ok = true;
  for (const name of names) {
    const entry = parseEntry(c, [...segs, name], name, v[name]);
    if (entry) out.push(entry);
    else ok = false;
  }
  return ok ? out : undefined;
}

function parseEntry(c: EntryChecks, at: readonly Segment[], name: string, v: unknown): ParsedDatabase | undefined {
  let ok = true;
  if (name === "") {
    c.report(at.slice(0, -1), "has an entry with an empty name; name it as clients connect to it", "key", at);
    ok = false;
  } else if (RESERVED_DATABASE_NAMES.includes(name)) {
    c.report(at, `${JSON.stringify(name)} is reserved: clients connecting to ${RESERVED_DATABASE_NAMES.join(" or ")} reach the admin console`, "key");
    ok = false;
  }
  if (v === null) v = {}; // `app:` with nothing under it: every field at its default
  if (!isMapping(v)) {
    c.report(at, `must be a mapping with keys ${ENTRY_KEYS.join(", ")} (or {} for all defaults), got ${describe(v)}`);
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (ENTRY_KEYS.some((k) => k === key)) continue;
    unknownEntryKey(c, [...at, key], key);
    ok = false;
  }

  let dbname = "";
  if (v.dbname === null) {
    c.report([...at, "dbname"], "has no value, expected string; remove the key to use the name the client sent");
    ok = false;
  } else if (v.dbname !== undefined) {
    const s = c.string([...at, "dbname"], v.dbname, true);
    if (s === undefined) ok = false;
    else dbname = s;
  }

  let nodes: ClusterNodes | null = null;
  if (v.nodes !== undefined) {
    const n = parseNodes(c, [...at, "nodes"], v.nodes);
    if (n) nodes = n;
    else ok = false;
  }

  let pool: PoolOverride | null = null;
  if (v.pool !== undefined && v.pool !== null) {
    const p = c.poolEntry([...at, "pool"], v.pool);
    if (!p) ok = false;
    else if (p.size !== null || p.mode !== null) pool = { name, size: p.size, mode: p.mode };
  }

  const routing: Record<string, unknown> = {};
  if (v.routing !== undefined && v.routing !== null) {
    const r = parseRouting(c, [...at, "routing"], v.routing);
    if (r) Object.assign(routing, r);
    else ok = false;
  }
  return ok ? { name, dbname, nodes, pool, routing } : undefined;
}

function unknownEntryKey(c: EntryChecks, segs: readonly Segment[], key: string): void {
  const entry = segs.slice(0, -1);
  // The right key one level too high, e.g. `size: 5` for `pool: { size: 5 }`.
  const section = POOL_NAMES.includes(key) ? "pool" : ROUTING_NAMES.includes(key) ? "routing" : CLUSTER_KEYS.includes(key) ? "nodes" : undefined;
  if (section) {
    c.report(segs, `unknown key; did you mean ${path([...entry, section, key])}?`, "key");
    return;
  }
  // A PgBouncer connect-string key (`pool_size`, `host`, ...) written as an entry key.
  const pgbouncer = pgbouncerDatabaseHint(key);
  if (pgbouncer) {
    const msg = "path" in pgbouncer ? `did you mean ${path([...entry, ...pgbouncer.path.split(".")])}? (PgBouncer's ${key}=)` : `PgBouncer's ${key}= has no PgGate key: ${pgbouncer.why}`;
    c.report(segs, `unknown key; ${msg}`, "key");
    return;
  }
  const near = suggest(key, ENTRY_KEYS);
  c.report(segs, near ? `unknown key; did you mean ${path([...entry, near])}?` : `unknown key; allowed in a databases entry: ${ENTRY_KEYS.join(", ")}`, "key");
}

function parseNodes(c: EntryChecks, segs: readonly Segment[], v: unknown): ClusterNodes | undefined {
  if (!isMapping(v)) {
    const example = "{ primary: { host: 10.0.0.9, port: 5432 }, replicas: [...] }";
    c.report(
      segs,
      v === null
        ? `has no value, expected ${example}; remove the key to use the top-level nodes`
        : `must be a mapping like ${example}, got ${describe(v)}`,
    );
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(v)) {
    if (CLUSTER_KEYS.includes(key)) continue;
    if (findKey(`nodes.${key}`) || SCHEMA.some((k) => k.path.startsWith(`nodes.${key}.`))) {
      c.report([...segs, key], `nodes.${key} is process-wide; set it at the top level`, "key");
    } else {
      const near = suggest(key, CLUSTER_KEYS);
      c.report([...segs, key], near ? `unknown key; did you mean ${path([...segs, near])}?` : `unknown key; allowed: ${CLUSTER_KEYS.join(", ")}`, "key");
    }
    ok = false;
  }
  let primary: NodeConfig | undefined;
  if (v.primary === undefined) {
    c.report(segs, "primary is required, e.g. nodes: { primary: { host: 10.0.0.9, port: 5432 } }");
    ok = false;
  } else primary = c.node([...segs, "primary"], v.primary);
  const replicas = v.replicas === undefined ? [] : c.nodeList([...segs, "replicas"], v.replicas);
  if (!ok || !primary || !replicas) return undefined;

  // As for the top-level nodes: each address once.
  const seen = new Map<string, string>([[address(primary), path([...segs, "primary"])]]);
  replicas.forEach((r, i) => {
    const prev = seen.get(address(r));
    if (prev) {
      c.report([...segs, "replicas", i], `${address(r)} is already listed as ${prev}`);
      ok = false;
    } else seen.set(address(r), path([...segs, "replicas", i]));
  });
  return ok ? { primary, replicas } : undefined;
}

function parseRouting(c: EntryChecks, segs: readonly Segment[], v: unknown): Partial<RoutingConfig> | undefined {
  if (!isMapping(v)) {
    c.report(segs, `must be a mapping with any of ${ROUTING_NAMES.join(", ")}, got ${describe(v)}`);
    return undefined;
  }
  const out: Record<string, unknown> = {};
  let ok = true;
  for (const [name, value] of Object.entries(v)) {
    const at = [...segs, name];
    const key = ROUTING_NAMES.includes(name) ? findKey(`routing.${name}`) : undefined;
    if (!key) {
      ok = false;
      if (findKey(`routing.${name}`)) c.report(at, `routing.${name} is process-wide; set it at the top level`, "key");
      else {
        const near = suggest(name, ROUTING_NAMES);
        c.report(at, near ? `unknown key; did you mean ${path([...segs, near])}?` : `unknown key; allowed: ${ROUTING_NAMES.join(", ")}`, "key");
      }
      continue;
    }
    if (value === null) {
      c.report(at, `has no value, expected ${describeType(key)}; remove the key to use the top-level ${key.path}`);
      ok = false;
      continue;
    }
    const checked = c.leafValue(key, at, value);
    if (checked === undefined) ok = false;
    else out[snakeToCamel(name)] = checked;
  }
  // Each value was checked against its routing key's own kind, so it has that field's type.
  return ok ? (out as Partial<RoutingConfig>) : undefined;
}

/** The top-level values the entries are resolved against. */
export interface TopLevel {
  /** undefined when the top-level nodes are not given (or are invalid, already reported). */
  readonly primary: NodeConfig | undefined;
  readonly replicas: readonly NodeConfig[];
  readonly routing: RoutingConfig;
  readonly poolDatabases: readonly PoolOverride[];
}

/**
 * The final entries (routing folded over the top-level values) and pool.databases with the
 * entries' pools added; undefined when a rule across entries is broken (reported).
 */
export function resolveDatabases(
  c: EntryChecks,
  entries: readonly ParsedDatabase[],
  top: TopLevel,
): { databases: DatabaseConfig[]; poolDatabases: PoolOverride[] } | undefined {
  let ok = true;
  const poolDatabases = [...top.poolDatabases];
  for (const e of entries) {
    if (!e.pool) continue;
    if (top.poolDatabases.some((p) => p.name === e.name)) {
      c.report(["databases", e.name, "pool"], `pool.databases.${e.name} also sets this database's pool; set it in one place`);
      ok = false;
    } else poolDatabases.push(e.pool);
  }
  if (!checkClusters(c, entries, top)) ok = false;
  if (!ok) return undefined;
  const databases = entries.map((e) => ({
    name: e.name,
    dbname: e.dbname,
    nodes: e.nodes,
    routing: { ...routingOf(top.routing), ...e.routing },
  }));
  return { databases, poolDatabases };
}

/** Only the RoutingConfig fields (the top-level routing also holds the process-wide function lists). */
function routingOf(r: RoutingConfig): RoutingConfig {
  return {
    readWriteSplit: r.readWriteSplit,
    readYourWrites: r.readYourWrites,
    defaultRoute: r.defaultRoute,
    noReplica: r.noReplica,
    rywMaxWaitMs: r.rywMaxWaitMs,
    maxReplicaLagMs: r.maxReplicaLagMs,
    maxReplicaLagBytes: r.maxReplicaLagBytes,
    primaryReadWeight: r.primaryReadWeight,
  };
}

/**
 * A cluster is named by its primary's address. Wherever it is named it must have the same
 * replicas, and no address may be in two clusters: the health checks and failover of one
 * cluster would otherwise act on another's node.
 */
function checkClusters(c: EntryChecks, entries: readonly ParsedDatabase[], top: TopLevel): boolean {
  let ok = true;
  const clusters = new Map<string, { where: string; replicas: readonly NodeConfig[] }>();
  /** address → where it is listed, and its cluster's primary. */
  const owners = new Map<string, { where: string; primary: string }>();
  const add = (nodes: ClusterNodes, at: readonly Segment[]): boolean => {
    const pk = address(nodes.primary);
    const prev = clusters.get(pk);
    if (prev) {
      if (sameReplicas(prev.replicas, nodes.replicas)) return true;
      const hint = prev.where === "nodes" ? ", or leave out nodes to use the top-level ones" : "";
      c.report(
        [...at, "replicas"],
        `primary ${pk} is also ${prev.where}.primary, with replicas ${formatValue(prev.replicas)}; a cluster lists the same replicas wherever it is named (got ${formatValue(nodes.replicas)})${hint}`,
      );
      return false;
    }
    let fine = true;
    const members: [NodeConfig, readonly Segment[]][] = [[nodes.primary, [...at, "primary"]], ...nodes.replicas.map((r, i): [NodeConfig, readonly Segment[]] => [r, [...at, "replicas", i]])];
    for (const [n, segs] of members) {
      const owner = owners.get(address(n));
      if (owner) {
        const role = owner.where.endsWith(".primary") ? "the primary of another cluster" : `a replica of primary ${owner.primary}`;
        c.report(segs, `${address(n)} is already listed as ${owner.where}, ${role}; a node belongs to one cluster`);
        fine = false;
      }
    }
    if (!fine) return false;
    clusters.set(pk, { where: path(at), replicas: nodes.replicas });
    for (const [n, segs] of members) owners.set(address(n), { where: path(segs), primary: pk });
    return true;
  };
  if (top.primary) add({ primary: top.primary, replicas: top.replicas }, ["nodes"]);
  for (const e of entries) if (e.nodes && !add(e.nodes, ["databases", e.name, "nodes"])) ok = false;
  return ok;
}

function sameReplicas(a: readonly NodeConfig[], b: readonly NodeConfig[]): boolean {
  const weights = new Map(a.map((n) => [address(n), n.weight]));
  return a.length === b.length && b.every((n) => weights.get(address(n)) === n.weight);
}

function address(n: NodeConfig): string {
  return `${n.host}:${n.port}`;
}
