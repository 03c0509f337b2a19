// Which of a client's startup parameters a statement returns to the server's default: RESET,
// SET ... TO DEFAULT (every spelling), DISCARD ALL, set_config(name, NULL, ...). On a dedicated
// connection those go back to the value the client gave at startup (it is the session's reset
// value); PgGate applies startup parameters with set_config(), so it must apply them again
// afterwards. The SQL is read by the router's lexer (settingsToDefault), not by patterns.
import { lex, settingsToDefault, splitStatements, TokenKind } from "../router/index.ts";

/**
 * Startup parameters to apply again after a statement: for the session ("all", or by name) and
 * for the rest of the transaction only (SET LOCAL ... TO DEFAULT, set_config(name, NULL, true)).
 */
export interface ResetTargets {
  session: "all" | string[];
  local: string[];
}

/** What `sql` returns to the server default of `startup` (the client's startup parameters), or null. */
export function resetTargets(sql: string, startup: ReadonlyMap<string, string>): ResetTargets | null {
  if (startup.size === 0) return null;
  const found = settingsToDefault(sql);
  if (found === null) return null;
  let session: "all" | string[] = [];
  const local: string[] = [];
  for (const f of found) {
    if (f.name === null) {
      session = "all";
      continue;
    }
    // GUC names are case-insensitive; the startup packet's spelling is what we re-apply.
    const wanted = f.name.toLowerCase();
    for (const k of startup.keys()) {
      if (k.toLowerCase() !== wanted) continue;
      const into = f.local ? local : session;
      if (into !== "all" && !into.includes(k)) into.push(k);
    }
  }
  if (session !== "all" && session.length === 0 && local.length === 0) return null;
  return { session, local };
}

/** Whether `sql` ends the connection's prepared statements and session state (DISCARD ALL). */
export function discardsAll(sql: string): boolean {
  if (!/discard/i.test(sql)) return false;
  const { tokens } = lex(sql);
  const isWord = (i: number, w: string): boolean => tokens[i]?.kind === TokenKind.Ident && tokens[i].value === w;
  return splitStatements(tokens).some((r) => r.to - r.from === 2 && isWord(r.from, "discard") && isWord(r.from + 1, "all"));
}
