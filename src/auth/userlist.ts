// userlist mode: a file of `"user" "secret"` lines, PgBouncer's auth_file format. Secrets may be
// plain passwords, md5 hashes or SCRAM verifiers. Parsing is strict: a bad line is an error.
import { readFileSync } from "node:fs";
import { DEFAULT_MAX_SCRAM_ITERATIONS } from "../config/schema.ts";
import { log } from "../log/index.ts";
import { verifierCensus } from "./census.ts";
import { parseVerifier, verifierProblem, type Verifier } from "./verifier.ts";

export class UserlistError extends Error {
  override readonly name = "UserlistError";
}

/** Parses the file's text; `""` inside quotes is a literal quote. Blank lines and `;`/`#` comments are skipped. */
export function parseUserlist(text: string, source = "userlist"): Map<string, Verifier> {
  const users = new Map<string, Verifier>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith(";") || trimmed.startsWith("#")) return;
    const fields: string[] = [];
    let pos = 0;
    while (pos < trimmed.length) {
      while (trimmed[pos] === " " || trimmed[pos] === "\t") pos++;
      if (pos >= trimmed.length) break;
      if (trimmed[pos] !== '"') throw new UserlistError(`${source}:${i + 1}: expected a quoted field, got ${JSON.stringify(trimmed.slice(pos, pos + 10))}`);
      let value = "";
      pos++;
      for (;;) {
        if (pos >= trimmed.length) throw new UserlistError(`${source}:${i + 1}: unterminated quoted field`);
        const ch = trimmed[pos];
        if (ch === '"') {
          if (trimmed[pos + 1] === '"') {
            value += '"';
            pos += 2;
            continue;
          }
          pos++;
          break;
        }
        value += ch;
        pos++;
      }
      fields.push(value);
    }
    if (fields.length < 2) throw new UserlistError(`${source}:${i + 1}: expected "user" "secret"`);
    users.set(fields[0], parseVerifier(fields[1]));
  });
  return users;
}

/**
 * Reads and parses the file. A user whose verifier PgGate will not use (a SCRAM iteration count
 * above `maxScramIterations`, auth.max_scram_iterations) is left out with a warning, so logging in
 * as them fails like an unknown user, that is like a wrong password. The result also becomes the
 * verifier census, from which unknown users' mock exchanges take their shape.
 */
export function loadUserlist(path: string, maxScramIterations: number = DEFAULT_MAX_SCRAM_ITERATIONS): Map<string, Verifier> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserlistError(`cannot read auth.userlist ${path}: ${(e as Error).message}`);
  }
  const users = parseUserlist(text, path);
  for (const [user, v] of users) {
    const problem = verifierProblem(v, maxScramIterations);
    if (problem === null) continue;
    log.warn("userlist_verifier_unusable", { file: path, user, error: problem });
    users.delete(user);
  }
  verifierCensus.replaceAll(users);
  return users;
}
