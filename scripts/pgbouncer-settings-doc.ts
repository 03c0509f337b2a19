// Writes docs/pgbouncer-settings.md from the one table `pggate convert` and `pggate check` use
// (src/config/pgbouncer-keys.ts): every PgBouncer setting and what PgGate does with it.
// `npx bun scripts/pgbouncer-settings-doc.ts`; test/unit/docs/pgbouncer-settings.test.ts keeps it current.
import { writeFileSync } from "node:fs";
import { PGBOUNCER_DATABASE_KEYS, PGBOUNCER_SETTINGS, PGBOUNCER_USER_KEYS, pggateKeyFor, type PgBouncerKey } from "../src/config/pgbouncer-keys.ts";

function rows(keys: readonly PgBouncerKey[]): string[] {
  return keys.map((k) => {
    const target = pggateKeyFor(k);
    const what = target ? `\`${target}\`${k.kind === "seconds" ? " (seconds → ms)" : ""}${k.why ? `: ${k.why}` : ""}` : `not carried over: ${k.why ?? "no PgGate equivalent"}`;
    return `| \`${k.name}\` | ${what.replace(/\|/g, "\\|")} |`;
  });
}

export function settingsDoc(): string {
  const table = (title: string, keys: readonly PgBouncerKey[]): string => [`## ${title}`, "", "| PgBouncer | PgGate |", "| --- | --- |", ...rows(keys), ""].join("\n");
  return [
    "# Every PgBouncer setting in PgGate",
    "",
    "Generated from `src/config/pgbouncer-keys.ts`, the table `pggate convert` maps a `pgbouncer.ini`",
    "with and `pggate check` uses to answer PgBouncer names (`npx bun scripts/pgbouncer-settings-doc.ts`).",
    "",
    table("[pgbouncer] settings", PGBOUNCER_SETTINGS),
    table("[databases] connection-string keys", PGBOUNCER_DATABASE_KEYS),
    table("[users] keys", PGBOUNCER_USER_KEYS),
  ].join("\n");
}

if (import.meta.main) {
  writeFileSync("docs/pgbouncer-settings.md", settingsDoc());
  console.log("docs/pgbouncer-settings.md written");
}
