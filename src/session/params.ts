// Session parameters a client asked for at startup, and the minimal SQL that makes a pooled
// server connection match them. Pooled connections start with only user and database, so
// RESET returns a parameter to the server's default.

/** Startup keys that are not session parameters. */
const NOT_PARAMS = new Set(["user", "database", "options", "replication"]);
/** A parameter name we are willing to put into SQL (GUC names, custom ones with a dot). */
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_$.]*$/;

/**
 * The session parameters from a StartupMessage: every key except user/database/replication,
 * plus `-c name=value` / `--name=value` pairs from `options`. Keys starting with "pggate." are
 * PgGate's own and are returned separately.
 */
export function sessionParams(startup: ReadonlyMap<string, string>): { params: Map<string, string>; pggate: Map<string, string> } {
  const params = new Map<string, string>();
  const pggate = new Map<string, string>();
  const put = (name: string, value: string): void => {
    const lower = name.toLowerCase();
    if (lower.startsWith("pggate.")) pggate.set(lower.slice("pggate.".length), value);
    else if (SAFE_NAME.test(name)) params.set(name, value);
  };
  // PostgreSQL applies `options` first and the startup keys after them, so a key wins.
  const options = startup.get("options");
  if (options) for (const [k, v] of parseOptions(options)) put(k, v);
  for (const [k, v] of startup) if (!NOT_PARAMS.has(k)) put(k, v);
  return { params, pggate };
}

/** libpq `options`: whitespace-separated, backslash escapes a space; `-c a=b`, `-ca=b` or `--a=b`. */
export function parseOptions(options: string): [string, string][] {
  const words: string[] = [];
  let cur = "";
  let escaped = false;
  for (const ch of options) {
    if (escaped) {
      cur += ch;
      escaped = false;
    } else if (ch === "\\") escaped = true;
    else if (ch === " " || ch === "\t" || ch === "\n") {
      if (cur) words.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) words.push(cur);
  const out: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    const w = words[i];
    if (w === "-c") setting = words[++i];
    else if (w.startsWith("-c")) setting = w.slice(2);
    else if (w.startsWith("--")) setting = w.slice(2);
    if (!setting) continue;
    const eq = setting.indexOf("=");
    if (eq <= 0) continue;
    // PostgreSQL accepts '-' for '_' in option names given on the command line.
    out.push([setting.slice(0, eq).replace(/-/g, "_"), setting.slice(eq + 1)]);
  }
  return out;
}

/** Whether a connection with `applied` already matches `desired`. */
export function paramsMatch(applied: ReadonlyMap<string, string>, desired: ReadonlyMap<string, string>): boolean {
  if (applied.size !== desired.size) return false;
  for (const [k, v] of desired) if (applied.get(k) !== v) return false;
  return true;
}

/**
 * SQL turning `applied` into `desired`: RESET what the new client did not ask for, set_config()
 * what differs. set_config takes the raw string as a startup packet would (list-valued settings
 * like search_path keep their commas), and E'' quoting works whatever standard_conforming_strings is.
 */
export function syncSql(applied: ReadonlyMap<string, string>, desired: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  for (const k of applied.keys()) if (!desired.has(k)) parts.push(`RESET "${k}"`);
  const sets: string[] = [];
  for (const [k, v] of desired) if (applied.get(k) !== v) sets.push(`pg_catalog.set_config(${literal(k)}, ${literal(v)}, false)`);
  if (sets.length > 0) parts.push(`SELECT ${sets.join(", ")}`);
  return parts.join("; ");
}

export function literal(s: string): string {
  return `E'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * A parameter set as one string, the same however the map is ordered: JSON of the sorted pairs,
 * so no two sets share a key (names and values are quoted and escaped).
 */
export function paramsKey(params: ReadonlyMap<string, string>): string {
  return JSON.stringify([...params].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
