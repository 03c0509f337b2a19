// PgBouncer's ini syntax, as libusual's parse_ini_file reads it: `[section]`, `key = value`, whole-line
// `;` and `#` comments, `%include FILE`. Values run to the end of the line (there are no inline
// comments: `port = 6432 ; x` is the value "6432 ; x", which PgBouncer itself refuses). Reads
// included files only through the `read` callback it is given.

import { dirname, isAbsolute, resolve } from "node:path";

export interface IniEntry {
  /** The section it is under, as written (PgBouncer matches section names case-sensitively). */
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** The file it came from (an included file's path as resolved) and its 1-based line. */
  readonly file: string;
  readonly line: number;
}

export class IniError extends Error {
  override readonly name = "IniError";
}

/** libusual's MAX_INCLUDE: deeper nesting is refused (and stops include loops). */
const MAX_INCLUDE_DEPTH = 10;
/** Characters of an unquoted key, as libusual allows them (`*` is the fallback database). */
const KEY_CHAR = /[A-Za-z0-9_.\-*]/;

/**
 * Every `key = value` in file order, includes expanded in place. `read(path)` returns a file's
 * text (or throws); a relative %include path is taken from the including file's directory
 * (PgBouncer opens it relative to its working directory, which is rarely known here).
 */
export function parseIni(text: string, file: string, read: (path: string) => string): IniEntry[] {
  const out: IniEntry[] = [];
  parseInto(text, file, read, 0, { section: "" }, out);
  return out;
}

function parseInto(text: string, file: string, read: (path: string) => string, depth: number, state: { section: string }, out: IniEntry[]): void {
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const at = `${file}:${i + 1}`;
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) return;
    if (/^%include[ \t]/.test(line)) {
      if (depth >= MAX_INCLUDE_DEPTH) throw new IniError(`${at}: %include nested more than ${MAX_INCLUDE_DEPTH} deep`);
      const target = line.slice("%include".length).trim();
      const path = isAbsolute(target) ? target : resolve(dirname(file), target);
      let included: string;
      try {
        included = read(path);
      } catch (e) {
        throw new IniError(`${at}: cannot read %include ${target}: ${(e as Error).message}`);
      }
      parseInto(included, path, read, depth + 1, state, out);
      return;
    }
    if (line.startsWith("[")) {
      const end = line.indexOf("]");
      if (end < 0) throw new IniError(`${at}: section header without ]`);
      state.section = line.slice(1, end);
      return;
    }
    const { key, rest } = readKey(line, at);
    if (!rest.startsWith("=")) throw new IniError(`${at}: expected "key = value", got ${JSON.stringify(line)}`);
    if (state.section === "") throw new IniError(`${at}: ${key} is outside any [section]`);
    out.push({ section: state.section, key, value: rest.slice(1).trim(), file, line: i + 1 });
  });
}

/** A key is a run of key characters, or anything between single quotes (`'my db' = ...`). */
function readKey(line: string, at: string): { key: string; rest: string } {
  if (line.startsWith("'")) {
    const end = line.indexOf("'", 1);
    if (end <= 1) throw new IniError(`${at}: unterminated or empty quoted key`);
    return { key: line.slice(1, end), rest: line.slice(end + 1).trimStart() };
  }
  let n = 0;
  while (n < line.length && KEY_CHAR.test(line[n])) n++;
  if (n === 0) throw new IniError(`${at}: expected "key = value", got ${JSON.stringify(line)}`);
  return { key: line.slice(0, n), rest: line.slice(n).trimStart() };
}

/**
 * A [databases] / [users] value: space-separated `key=value` pairs, a value in single quotes may
 * hold spaces and doubles a quote to write one (`password='it''s here'`), as PgBouncer's
 * cstr_get_pair reads them. Empty values are refused, as PgBouncer refuses them.
 */
export function parseConnectString(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  let p = 0;
  const skip = (): void => {
    while (text[p] === " ") p++;
  };
  for (;;) {
    skip();
    if (p >= text.length) return pairs;
    const keyStart = p;
    while (p < text.length && text[p] !== "=" && text[p] !== " ") p++;
    const key = text.slice(keyStart, p);
    skip();
    if (text[p] !== "=" || key === "") throw new IniError(`expected key=value at ${JSON.stringify(text.slice(keyStart))}`);
    p++;
    skip();
    let value = "";
    if (text[p] === "'") {
      p++;
      for (;;) {
        if (p >= text.length) throw new IniError(`unterminated quoted value for ${key}`);
        if (text[p] === "'") {
          if (text[p + 1] !== "'") break;
          p++;
        }
        value += text[p++];
      }
      p++;
    } else {
      const start = p;
      while (p < text.length && text[p] !== " ") p++;
      value = text.slice(start, p);
    }
    if (value === "") throw new IniError(`empty value for ${key}`);
    pairs.push([key, value]);
  }
}
