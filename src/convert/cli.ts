// Command-line glue for `pggate convert PGBOUNCER_INI [USERLIST]`: YAML to stdout, one line per
// setting left behind to stderr, then whether the result passes `pggate check`.

import { convertPgBouncer, IniError } from "./index.ts";

export const CONVERT_USAGE = "pggate convert PGBOUNCER_INI [USERLIST] > pggate.yaml";

/** Returns the exit code: 0 converted (stderr says whether it passes check), 1 unreadable ini, 2 bad command line. */
export function runConvert(args: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const files = args.filter((a) => !a.startsWith("-") || a === "-");
  const flags = args.filter((a) => a.startsWith("-") && a !== "-");
  if (flags.includes("--help") || flags.includes("-h")) {
    out(`usage: ${CONVERT_USAGE}\n`);
    return 0;
  }
  if (flags.length > 0 || files.length < 1 || files.length > 2) {
    err(`pggate convert: expected a pgbouncer.ini and optionally its userlist\nusage: ${CONVERT_USAGE}\n`);
    return 2;
  }
  let result;
  try {
    result = convertPgBouncer({ iniPath: files[0], userlistPath: files[1] });
  } catch (e) {
    const msg = e instanceof IniError ? e.message : `${files[0]}: ${(e as Error).message}`;
    err(`pggate convert: ${msg}\n`);
    return 1;
  }
  out(result.yaml);
  for (const note of result.notes) err(`pggate convert: ${note}\n`);
  if (result.problems.length === 0) err("pggate convert: the result passes pggate check\n");
  else err(`pggate convert: the result does not pass pggate check yet:\n${result.problems.map((p) => `  ${p}`).join("\n")}\n`);
  return 0;
}
