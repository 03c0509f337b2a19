// [databases] and [users] → PgGate's `databases:` entries, the top-level nodes and pool.users.
// PgGate names a cluster by its primary's address, so entries sharing host:port share a cluster;
// the address most entries use becomes the top-level nodes and the others name their own. No I/O.

import { PGBOUNCER_DATABASE_KEYS, PGBOUNCER_USER_KEYS } from "../config/pgbouncer-keys.ts";
import { NODE_DEFAULT_PORT, RESERVED_DATABASE_NAMES } from "../config/schema.ts";
import { parseConnectString, type IniEntry } from "./ini.ts";
import { at, type DatabaseOut, type Origin, type Plan } from "./plan.ts";
import { STATEMENT_POOLING, toPoolMode } from "./settings.ts";
import { parseInt0, parseList } from "./values.ts";

interface Parsed {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly dbname?: string;
  readonly pool: { size?: number; mode?: string };
  readonly comment: string;
}

/** PostgreSQL's and PgBouncer's default server; used when [databases] names none. */
const FALLBACK_HOST = "localhost";

export function mapDatabases(entries: readonly IniEntry[], plan: Plan): void {
  const byName = new Map<string, Parsed>();
  for (const e of entries) {
    const origin: Origin = { file: e.file, line: e.line, key: `[databases] ${e.key}` };
    if (RESERVED_DATABASE_NAMES.includes(e.key)) {
      plan.say(origin, "unsupported", `${JSON.stringify(e.key)} is the admin console's name in PgGate; entry left out`);
      continue;
    }
    const parsed = parseEntry(e, origin, plan);
    if (!parsed) continue;
    if (byName.has(e.key)) plan.say(origin, "note", "listed again: this later entry wins, as in PgBouncer");
    byName.set(e.key, parsed);
  }
  const parsed = [...byName.values()];
  if (parsed.length === 0) {
    plan.set("nodes.primary", { host: FALLBACK_HOST, port: NODE_DEFAULT_PORT }, "[databases] lists no database: PostgreSQL's default address; edit it");
    plan.say(null, "note", `[databases] lists no database (PgBouncer would serve none): nodes.primary is ${FALLBACK_HOST}:${NODE_DEFAULT_PORT} and serves every database name; edit it, or add databases: entries to serve only those`);
    return;
  }
  const counts = new Map<string, number>();
  for (const p of parsed) counts.set(address(p), (counts.get(address(p)) ?? 0) + 1);
  const top = [...counts.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const topEntry = parsed.find((p) => address(p) === top)!;
  const others = counts.size - 1;
  plan.set("nodes.primary", { host: topEntry.host, port: topEntry.port }, `the server of ${counts.get(top)} of the [databases] entries${others > 0 ? `; ${others} other address(es) below have a cluster of their own` : ""}`);
  for (const p of parsed) {
    const out: DatabaseOut = {
      name: p.name,
      ...(p.dbname !== undefined ? { dbname: p.dbname } : {}),
      ...(address(p) !== top ? { primary: { host: p.host, port: p.port } } : {}),
      ...(p.pool.size !== undefined || p.pool.mode !== undefined ? { pool: p.pool } : {}),
      comment: p.comment,
    };
    plan.databases.push(out);
  }
}

function parseEntry(e: IniEntry, origin: Origin, plan: Plan): Parsed | undefined {
  let pairs: [string, string][];
  try {
    pairs = parseConnectString(e.value);
  } catch (err) {
    plan.say(origin, "unsupported", `${(err as Error).message}; entry left out (PgBouncer refuses it too)`);
    return undefined;
  }
  const shown = pairs.map(([k, v]) => `${k}=${k === "password" ? "***" : /[\s']/.test(v) ? `'${v.replaceAll("'", "''")}'` : v}`).join(" ");
  let host: string | undefined;
  let port = NODE_DEFAULT_PORT;
  let dbname: string | undefined;
  const pool: { size?: number; mode?: string } = {};
  for (const [key, value] of pairs) {
    const here: Origin = { ...origin, key: `${origin.key} ${key}=` };
    if (key === "host") host = value;
    else if (key === "port") {
      const n = parseInt0(value);
      if (n === undefined || n < 1 || n > 65535) plan.say(here, "unsupported", `${JSON.stringify(value)} is not a port; ${NODE_DEFAULT_PORT} used`);
      else port = n;
    } else if (key === "dbname") {
      if (value !== e.key) dbname = value;
    } else if (key === "pool_size") {
      const n = parseInt0(value);
      if (n === undefined || n < 1 || n > 10000) plan.say(here, "unsupported", `${JSON.stringify(value)} is outside pool.size's range 1..10000; the default applies`);
      else pool.size = n;
    } else if (key === "pool_mode") {
      poolModeOf(value, here, pool, plan);
    } else {
      const k = PGBOUNCER_DATABASE_KEYS.find((d) => d.name === key);
      plan.say(here, k ? "unsupported" : "dropped", k?.why ?? "not a connect-string key PgGate knows");
    }
  }
  const resolved = nodeHost(host, origin, port, plan);
  return { name: e.key, host: resolved, port, dbname, pool, comment: `${e.key} = ${shown} (${at(e)})` };
}

/** Sets `pool.mode` from a connect string's pool_mode=, or says why not. */
function poolModeOf(value: string, origin: Origin, pool: { mode?: string }, plan: Plan): void {
  const m = toPoolMode(value);
  if (!m) plan.say(origin, "unsupported", `${JSON.stringify(value)} is not session, transaction or statement; the default mode applies`);
  else {
    pool.mode = m.mode;
    if (m.wasStatement) plan.say(origin, "unsupported", STATEMENT_POOLING);
  }
}

/** A TCP host for the entry: PgGate cannot reach a node through a Unix socket. */
function nodeHost(host: string | undefined, entry: Origin, port: number, plan: Plan): string {
  const sub = `127.0.0.1 used instead (PostgreSQL must listen on TCP at 127.0.0.1:${port}, with a pg_hba host line for it)`;
  if (host === undefined) {
    plan.say(entry, "unsupported", `no host= means a Unix socket in PgBouncer; PgGate connects to nodes over TCP only: ${sub}`);
    return "127.0.0.1";
  }
  const origin: Origin = { ...entry, key: `${entry.key} host=` };
  const hosts = parseList(host);
  let first = hosts[0] ?? "";
  if (hosts.length > 1) {
    plan.say(origin, "unsupported", `PgBouncer spreads connections over ${hosts.join(", ")}; PgGate takes ${first} as the primary (list streaming replicas under nodes.replicas)`);
  }
  if (first.startsWith("/") || first.startsWith("@")) {
    plan.say(origin, "unsupported", `${first} is a Unix socket directory; PgGate connects to nodes over TCP only: ${sub}`);
    first = "127.0.0.1";
  }
  return first;
}

function address(p: Parsed): string {
  return `${p.host}:${p.port}`;
}

/** [users]: `name = pool_mode=... pool_size=...` → pool.users. */
export function mapUsers(entries: readonly IniEntry[], plan: Plan): void {
  const users: Record<string, { size?: number; mode?: string }> = {};
  const comments: string[] = [];
  for (const e of entries) {
    const origin: Origin = { file: e.file, line: e.line, key: `[users] ${e.key}` };
    let pairs: [string, string][];
    try {
      pairs = parseConnectString(e.value);
    } catch (err) {
      plan.say(origin, "unsupported", `${(err as Error).message}; entry left out (PgBouncer refuses it too)`);
      continue;
    }
    const pool: { size?: number; mode?: string } = {};
    for (const [key, value] of pairs) {
      const here: Origin = { ...origin, key: `${origin.key} ${key}=` };
      if (key === "pool_mode") poolModeOf(value, here, pool, plan);
      else if (key === "pool_size") {
        const n = parseInt0(value);
        if (n === undefined || n < 1 || n > 10000) plan.say(here, "unsupported", `${JSON.stringify(value)} is outside pool.size's range 1..10000`);
        else pool.size = n;
      } else {
        const k = PGBOUNCER_USER_KEYS.find((u) => u.name === key);
        plan.say(here, k ? "unsupported" : "dropped", k?.why ?? "not a [users] key PgGate knows");
      }
    }
    if (pool.size === undefined && pool.mode === undefined) continue;
    users[e.key] = pool;
    comments.push(`${e.key} (${at(e)})`);
  }
  if (comments.length > 0) plan.set("pool.users", users, `[users] ${comments.join(", ")}`);
}
