// The [pgbouncer] section minus authentication (auth.ts): each setting through the shared table
// (src/config/pgbouncer-keys.ts) to its PgGate key, units and bounds checked against the schema,
// or named on stderr with why it is left behind. No I/O.

import { pgbouncerSetting, type PgBouncerKey } from "../config/pgbouncer-keys.ts";
import { findKey, MAX_MS } from "../config/schema.ts";
import type { IniEntry } from "./ini.ts";
import { at, type Origin, type Plan } from "./plan.ts";
import { parseInt0, parseList, parseSwitch, secondsToMs } from "./values.ts";

/** Handled by auth.ts, which needs them together. */
export const AUTH_SETTINGS: ReadonlySet<string> = new Set(["auth_type", "auth_file", "auth_hba_file", "auth_user", "auth_query", "auth_dbname"]);

/** What 0 means for a PgBouncer duration whose PgGate key reads 0 differently (or refuses it). */
const ZERO_SECONDS: Readonly<Record<string, "no-limit" | "once" | "os-default">> = {
  client_login_timeout: "no-limit",
  query_wait_timeout: "no-limit",
  server_connect_timeout: "no-limit",
  server_lifetime: "once",
  tcp_keepidle: "os-default",
};

const CLIENT_TLS: Readonly<Record<string, string>> = { disable: "disable", allow: "allow", prefer: "allow", require: "require", "verify-ca": "require", "verify-full": "require" };
const SERVER_TLS: Readonly<Record<string, string>> = { disable: "disable", allow: "prefer", prefer: "prefer", require: "require", "verify-ca": "verify-full", "verify-full": "verify-full" };

/** `resolvePath` turns a file setting into the absolute path the YAML will hold. */
export function mapSettings(entries: ReadonlyMap<string, IniEntry>, plan: Plan, resolvePath: (value: string, e: IniEntry) => string): void {
  for (const [name, e] of entries) {
    if (AUTH_SETTINGS.has(name)) continue;
    const origin: Origin = { file: e.file, line: e.line, key: name };
    const k = pgbouncerSetting(name);
    if (!k) {
      plan.say(origin, "dropped", "not a PgBouncer setting PgGate knows");
      continue;
    }
    if (!k.pggate) {
      plan.say(origin, "dropped", k.why ?? "no PgGate equivalent");
      continue;
    }
    const from = `${name} = ${e.value} (${at(e)})`;
    mapOne(k, k.pggate, e, origin, from, plan, resolvePath);
  }
  if (!entries.has("pool_mode")) {
    // PgBouncer's default is session, PgGate's transaction: a silent switch would change what clients may rely on.
    plan.set("pool.mode", "session", "PgBouncer's default pool_mode (not set in the ini); PgGate's default is transaction");
    plan.say(null, "note", "pool_mode is not set: PgBouncer's default, session, is written as pool.mode: session (PgGate's default, transaction, would share server connections between transactions)");
  }
}

function mapOne(k: PgBouncerKey, path: string, e: IniEntry, origin: Origin, from: string, plan: Plan, resolvePath: (value: string, e: IniEntry) => string): void {
  const v = e.value;
  const bad = (what: string): void => plan.say(origin, "unsupported", `${JSON.stringify(v)} is not ${what}; left out`);
  const withWhy = k.why ? `${from}; ${k.why}` : from;
  switch (e.key) {
    case "listen_addr":
      return listenAddr(v, origin, from, plan);
    case "pool_mode":
      return poolMode(v, "pool.mode", origin, from, plan);
    case "client_tls_sslmode":
    case "server_tls_sslmode":
      return tlsMode(e.key === "client_tls_sslmode" ? CLIENT_TLS : SERVER_TLS, path, v, origin, from, plan);
    case "verbose": {
      const n = parseInt0(v);
      if (n === undefined) return bad("an integer");
      plan.set(path, n > 0 ? "debug" : "info", from);
      return;
    }
  }
  switch (k.kind) {
    case "int": {
      const n = parseInt0(v);
      if (n === undefined) return bad("an integer");
      return setInt(path, n, origin, withWhy, plan);
    }
    case "seconds": {
      const ms = secondsToMs(v);
      if (ms === undefined) return bad("a number of seconds");
      if (ms === 0 && ZERO_SECONDS[e.key]) return zeroSeconds(ZERO_SECONDS[e.key], path, origin, from, plan);
      return setInt(path, ms, origin, `${withWhy}: ${v} s`, plan);
    }
    case "bool": {
      const b = parseSwitch(v);
      if (b === undefined) return bad("0 or 1");
      plan.set(path, b, withWhy, origin);
      return;
    }
    case "list":
      plan.set(path, parseList(v), withWhy, origin);
      return;
    case "path":
      if (v === "") {
        plan.say(origin, "note", `empty: ${path} keeps its default`);
        return;
      }
      plan.set(path, resolvePath(v, e), withWhy, origin);
      return;
    case "string":
      plan.set(path, v, withWhy, origin);
      return;
    case "special":
      throw new Error(`internal: ${e.key} has no converter`);
  }
}

/** An integer within the PgGate key's bounds (a key this build lacks is taken as it is). */
function setInt(path: string, n: number, origin: Origin, comment: string, plan: Plan): void {
  const key = findKey(path);
  if (key && key.kind === "int" && (n < key.min || n > key.max)) {
    const limit = n < key.min ? key.min : key.max;
    if (path === "listen.max_message_size" && n > key.max) {
      plan.set(path, key.max, `${comment}; PgGate's largest is ${key.max}`, origin);
      plan.say(origin, "note", `${n} is above PgGate's largest listen.max_message_size; ${key.max} (1 GiB, PostgreSQL's own limit) written instead`);
      return;
    }
    plan.say(origin, "unsupported", `${n} is outside ${path}'s range ${key.min}..${key.max} (nearest: ${limit}); left at PgGate's default`);
    return;
  }
  plan.set(path, n, comment, origin);
}

function zeroSeconds(meaning: "no-limit" | "once" | "os-default", path: string, origin: Origin, from: string, plan: Plan): void {
  if (meaning === "no-limit") {
    plan.set(path, MAX_MS, `${from}: 0 (no limit) → the longest PgGate allows (~24.8 days)`, origin);
    return;
  }
  if (meaning === "once") {
    plan.say(origin, "unsupported", `0 makes PgBouncer use each server connection only once; PgGate cannot, so ${path} keeps its default`);
    return;
  }
  plan.say(origin, "note", `0 means the OS default in PgBouncer; ${path} keeps PgGate's default`);
}

/** PgGate listens on one address: `*` is every IPv4 address; of a list, the first is taken. */
function listenAddr(value: string, origin: Origin, from: string, plan: Plan): void {
  const addrs = parseList(value);
  if (addrs.length === 0) {
    plan.say(origin, "unsupported", "empty: PgBouncer then listens on its Unix socket only; PgGate always listens on TCP (listen.host, default 127.0.0.1)");
    return;
  }
  const first = addrs[0] === "*" ? "0.0.0.0" : addrs[0];
  plan.set("listen.host", first, addrs[0] === "*" ? `${from}: * → every IPv4 address (:: for IPv6 too)` : from, origin);
  if (addrs.length > 1) plan.say(origin, "unsupported", `PgGate listens on one address: ${first} is taken, ${addrs.slice(1).join(", ")} left out (0.0.0.0 listens on all)`);
}

/** PgBouncer's pool_mode → PgGate's; statement becomes transaction, the closest PgGate has. */
export function toPoolMode(value: string): { mode: "session" | "transaction"; wasStatement: boolean } | undefined {
  const mode = value.trim().toLowerCase();
  if (mode === "session" || mode === "transaction") return { mode, wasStatement: false };
  if (mode === "statement") return { mode: "transaction", wasStatement: true };
  return undefined;
}

export const STATEMENT_POOLING = "statement pooling: PgGate pools per transaction (transaction written instead; multi-statement transactions then work too)";

function poolMode(value: string, path: string, origin: Origin, from: string, plan: Plan): void {
  const m = toPoolMode(value);
  if (!m) {
    plan.say(origin, "unsupported", `${JSON.stringify(value)} is not session, transaction or statement; left out`);
    return;
  }
  plan.set(path, m.mode, m.wasStatement ? `${from}: PgGate has no statement pooling; transaction is the closest` : from);
  if (m.wasStatement) plan.say(origin, "unsupported", STATEMENT_POOLING);
}

function tlsMode(table: Readonly<Record<string, string>>, path: string, value: string, origin: Origin, from: string, plan: Plan): void {
  const v = value.trim().toLowerCase();
  const mode = table[v];
  if (!mode) {
    plan.say(origin, "unsupported", `${JSON.stringify(value)} is not an sslmode; left out`);
    return;
  }
  plan.set(path, mode, mode === v ? from : `${from} → ${mode}`, origin);
  if (path === "listen.tls.mode" && v.startsWith("verify")) plan.say(origin, "unsupported", `PgGate does not verify client certificates: ${v} becomes require (TLS required, no certificate asked)`);
  if (path === "nodes.tls.mode" && v === "allow") plan.say(origin, "note", "allow becomes prefer: PgGate tries TLS first and falls back to plaintext");
  if (path === "nodes.tls.mode" && v === "verify-ca") plan.say(origin, "note", "verify-ca becomes verify-full: PgGate also checks the node's host name (nodes.tls.server_name sets the name to check)");
}

