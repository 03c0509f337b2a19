// Config keys set from the environment, for containers: PGGATE_<SECTION>__<KEY>=value. Read into
// the YAML-shaped value before validation, so they are checked (and reported) like the file's.
import { parse as parseYaml } from "yaml";
import { isMapping } from "./yaml-shape.ts";

/** Prefix of environment variables that set config keys: PGGATE_LISTEN__PORT=6432 sets listen.port. */
export const ENV_KEY_PREFIX = "PGGATE_";

/**
 * The one section the environment cannot set: its entry names are case-sensitive (variable names
 * are read lower-cased) and nest three levels deep. See `unsupportedEnvVariables`.
 */
const ENV_UNSUPPORTED_SECTION = "databases";

export interface EnvOverride {
  variable: string;
  path: string[];
  value: unknown;
}

/**
 * Config keys set from the environment, for containers: `PGGATE_` + the key path with `__`
 * between levels, upper or lower case (PGGATE_LISTEN__PORT, PGGATE_AUTH__AUTH_USER,
 * PGGATE_NODES__PRIMARY='{host: db, port: 5432}'). The value is read as YAML, so numbers,
 * booleans, lists and mappings are written as in the file; it wins over the file.
 */
export function envOverrides(env: Readonly<Record<string, string | undefined>>): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (raw === undefined || !variable.toUpperCase().startsWith(ENV_KEY_PREFIX) || !variable.includes("__")) continue;
    const path = variable.slice(ENV_KEY_PREFIX.length).toLowerCase().split("__");
    if (path.some((p) => p === "") || path[0] === ENV_UNSUPPORTED_SECTION) continue;
    let value: unknown = raw;
    try {
      value = parseYaml(raw);
    } catch {
      // Not YAML: taken as the string it is (and validated as such).
    }
    out.push({ variable, path, value });
  }
  return out.sort((a, b) => a.variable.localeCompare(b.variable));
}

/** A copy of `root` with the overrides set (sections created as needed). */
export function withOverrides(root: Record<string, unknown>, overrides: readonly EnvOverride[]): Record<string, unknown> {
  const copy = structuredClone(root);
  for (const o of overrides) {
    let cur: Record<string, unknown> = copy;
    for (const seg of o.path.slice(0, -1)) {
      const next = cur[seg];
      if (!isMapping(next)) cur[seg] = {};
      cur = cur[seg] as Record<string, unknown>;
    }
    cur[o.path[o.path.length - 1]] = o.value;
  }
  return copy;
}

/**
 * Variables that look like they set `databases` (PGGATE_DATABASES, PGGATE_DATABASES__…), which
 * the environment cannot: reported as problems rather than silently ignored.
 */
export function unsupportedEnvVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const name = `${ENV_KEY_PREFIX}${ENV_UNSUPPORTED_SECTION}`.toUpperCase();
  return Object.keys(env)
    .filter((v) => env[v] !== undefined && (v.toUpperCase() === name || v.toUpperCase().startsWith(`${name}__`)))
    .sort();
}
