// PgBouncer's value syntax for numbers, times and switches (libusual cf_set_int, cf_set_time_usec),
// turned into PgGate's: integers, `_ms` durations. Each returns undefined for a value PgBouncer
// itself would refuse. Pure.

/** strtol(value, 0): decimal, 0x hex or 0-prefixed octal, the whole string. */
export function parseInt0(value: string): number | undefined {
  const v = value.trim();
  let n: number;
  if (/^[+-]?0x[0-9a-f]+$/i.test(v)) n = Number.parseInt(v.replace(/0x/i, ""), 16);
  else if (/^[+-]?0[0-7]+$/.test(v)) n = Number.parseInt(v, 8);
  else if (/^[+-]?\d+$/.test(v)) n = Number.parseInt(v, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Seconds as strtod reads them (fractions allowed, never negative) → whole milliseconds. */
export function secondsToMs(value: string): number | undefined {
  const v = value.trim();
  if (!/^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v)) return undefined;
  const s = Number(v);
  return Number.isFinite(s) ? Math.round(s * 1000) : undefined;
}

/** PgBouncer's switches are integers (0 off, anything else on); the usual words are accepted too. */
export function parseSwitch(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["on", "true", "yes"].includes(v)) return true;
  if (["off", "false", "no"].includes(v)) return false;
  const n = parseInt0(v);
  return n === undefined ? undefined : n !== 0;
}

/** A comma-separated list (admin_users, listen_addr, ...), items trimmed, empty ones left out. */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
