// `pggate convert`: a pgbouncer.ini (and optionally its userlist) → PgGate YAML plus one stderr line
// per setting left behind. Reads files only through `read`; the result is validated in memory
// the way `pggate check` validates a file, so the caller can say whether it passes.

import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { loadHbaFile } from "../auth/hba.ts";
import { parseUserlist } from "../auth/userlist.ts";
import { ConfigError, parseConfig } from "../config/index.ts";
import { findKey } from "../config/schema.ts";
import { mapAuth } from "./auth.ts";
import { mapDatabases, mapUsers } from "./databases.ts";
import { renderYaml } from "./emit.ts";
import { parseIni, type IniEntry } from "./ini.ts";
import { Plan } from "./plan.ts";
import { mapSettings } from "./settings.ts";

export { IniError, parseConnectString, parseIni, type IniEntry } from "./ini.ts";

export interface ConvertInput {
  /** The ini as named on the command line (messages show it so). */
  readonly iniPath: string;
  /** A userlist named on the command line; wins over auth_file. */
  readonly userlistPath?: string;
  readonly read?: (path: string) => string;
  /** Where the YAML will be checked from; relative paths given on the command line resolve here. */
  readonly cwd?: string;
}

export interface ConvertOutput {
  readonly yaml: string;
  /** stderr lines: `file:line: key: dropped|unsupported|note: why`. */
  readonly notes: readonly string[];
  /** What `pggate check` would say about the YAML; empty when it passes. */
  readonly problems: readonly string[];
}

/** PgBouncer defaults that PgGate's differ from, named in the header when the ini leaves them unset. */
const DIFFERING_DEFAULTS: readonly { pgbouncer: string; seconds: number | null; value: number; pggate: string }[] = [
  { pgbouncer: "max_client_conn", seconds: null, value: 100, pggate: "listen.max_client_connections" },
  { pgbouncer: "query_wait_timeout", seconds: 120, value: 120_000, pggate: "pool.acquire_timeout_ms" },
  { pgbouncer: "server_connect_timeout", seconds: 15, value: 15_000, pggate: "nodes.connect_timeout_ms" },
  { pgbouncer: "client_login_timeout", seconds: 60, value: 60_000, pggate: "listen.handshake_timeout_ms" },
];

const utf8 = (path: string): string => readFileSync(path, "utf8");

/** Throws IniError (with file:line) when the ini cannot be read as PgBouncer would read it. */
export function convertPgBouncer(input: ConvertInput): ConvertOutput {
  const read = input.read ?? utf8;
  const cwd = input.cwd ?? process.cwd();
  const entries = parseIni(read(resolve(cwd, input.iniPath)), input.iniPath, (p) => read(resolve(cwd, p)));
  const plan = new Plan();

  const settings = new Map<string, IniEntry>();
  const databases: IniEntry[] = [];
  const users: IniEntry[] = [];
  const otherSections = new Set<string>();
  for (const e of entries) {
    if (e.section === "pgbouncer") settings.set(e.key, e);
    else if (e.section === "databases") databases.push(e);
    else if (e.section === "users") users.push(e);
    else if (!otherSections.has(e.section)) {
      otherSections.add(e.section);
      const why = e.section === "peers" ? "PgGate has no peering between processes" : "not a PgBouncer section";
      plan.say({ file: e.file, line: e.line, key: `[${e.section}]` }, e.section === "peers" ? "unsupported" : "dropped", why);
    }
  }

  const resolvePath = (value: string, e: IniEntry): string => {
    const expanded = value === "~" || value.startsWith("~/") ? join(homedir(), value.slice(1)) : value;
    if (isAbsolute(expanded)) return expanded;
    const abs = resolve(cwd, dirname(e.file), expanded);
    plan.say({ file: e.file, line: e.line, key: e.key }, "note", `relative path ${value} taken from the ini's directory: ${abs} (PgBouncer opens it from its working directory)`);
    return abs;
  };

  mapSettings(settings, plan, resolvePath);
  mapAuth({ entries: settings, userlistArg: input.userlistPath === undefined ? undefined : resolve(cwd, input.userlistPath), resolvePath, read }, plan);
  mapDatabases(databases, plan);
  mapUsers(users, plan);

  const yaml = renderYaml(plan, header(input.iniPath, settings));
  const files = [...new Set([input.iniPath, ...entries.map((e) => e.file)])];
  return { yaml, notes: plan.notes(files), problems: check(yaml, cwd, read) };
}

function header(iniPath: string, settings: ReadonlyMap<string, IniEntry>): string[] {
  const lines = [
    `PgGate config converted by \`pggate convert\` from ${iniPath}.`,
    "Each value's comment names the PgBouncer setting it came from; anything not set here is",
    "PgGate's default (README \"Configuration reference\"). Validate with `pggate check FILE`.",
  ];
  const unset = DIFFERING_DEFAULTS.filter((d) => !settings.has(d.pgbouncer));
  if (unset.length > 0) {
    lines.push("", "Left unset in the ini, where PgGate's default differs from PgBouncer's:");
    for (const d of unset) {
      const key = findKey(d.pggate);
      const ours = key && key.kind === "int" ? key.default : "?";
      const theirs = d.seconds === null ? String(d.value) : `${d.seconds} s`;
      lines.push(`  ${d.pgbouncer} ${theirs} → ${d.pggate} ${ours} (set ${d.pggate}: ${d.value} to keep PgBouncer's)`);
    }
  }
  lines.push("");
  return lines;
}

/** What `pggate check` would report for `yaml` saved in `cwd`: config problems, then the files it names. */
function check(yaml: string, cwd: string, read: (path: string) => string): string[] {
  let config;
  // The YAML has not been saved anywhere yet: messages name it "output" (line:column in stdout).
  const source = join(cwd, "output");
  try {
    config = parseConfig(yaml, { source, env: {} });
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split("\n").filter((l) => l.trim() !== "").map((l) => l.replaceAll(source, "output"));
    throw e;
  }
  const problems: string[] = [];
  try {
    if (config.auth.hba) loadHbaFile(config.auth.hba);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (config.auth.mode === "userlist") {
    try {
      parseUserlist(read(config.auth.userlist), config.auth.userlist);
    } catch (e) {
      problems.push(`auth.userlist: ${(e as Error).message}`);
    }
  }
  return problems;
}
