// Which of a client's startup parameters a statement returns to the server's default: RESET name,
// RESET ALL, DISCARD ALL. On a dedicated connection those go back to the value the client gave at
// startup (it is the session's reset value); PgGate applies startup parameters with set_config(),
// so it must apply them again afterwards. Pure text scan: a false hit only costs a re-apply.

/** Startup parameters to apply again after `sql` ran, "all", or null when it resets none. */
export function resetTargets(sql: string, startup: ReadonlyMap<string, string>): "all" | string[] | null {
  if (startup.size === 0) return null;
  // Cheap gate first: most statements contain neither word.
  if (!/reset|discard/i.test(sql)) return null;
  if (/\bdiscard\s+all\b/i.test(sql) || /\breset\s+all\b/i.test(sql)) return "all";
  const names: string[] = [];
  for (const m of sql.matchAll(/\breset\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$.]*)/gi)) {
    const raw = m[1];
    const name = raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.toLowerCase();
    // GUC names are case-insensitive; the startup packet's spelling is what we re-apply.
    for (const k of startup.keys()) if (k.toLowerCase() === name.toLowerCase() && !names.includes(k)) names.push(k);
  }
  return names.length > 0 ? names : null;
}

/** Whether `sql` ends the connection's prepared statements and session state (DISCARD ALL). */
export function discardsAll(sql: string): boolean {
  return /discard/i.test(sql) && /\bdiscard\s+all\b/i.test(sql);
}
