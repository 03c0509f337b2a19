// Client access rules in PostgreSQL's pg_hba.conf syntax (docs: "The pg_hba.conf File"), like
// PgBouncer's auth_hba_file: parseHba turns the text into rules, matchHba picks the first rule
// that fits a client, the way PostgreSQL's check_hba does, and the two message functions word the
// refusals as PostgreSQL does (SQLSTATE 28000, invalid_authorization_specification).
//
// Supported: record types local (clients of the Unix socket, listen.unix_socket_dir), host,
// hostssl, hostnossl (TCP clients only, as in PostgreSQL); comma lists with quoting; the keywords all, sameuser and replication (which
// never matches, PgGate has no replication connections); PostgreSQL 16's /regex names (the
// subset hba-regex.ts matches in linear time) and backslash line continuation; IPv4 and IPv6
// addresses as CIDR or with a netmask column; methods trust, reject, scram-sha-256, md5 and
// password. Options after the method are checked to be name=value and kept on the rule, but
// PgGate acts on none of them. Client names are matched as PostgreSQL sees them: cut to 63 bytes,
// and pggate and pgbouncer (both the admin console) as one database.
//
// Refused with an HbaParseError (rather than silently never matching, which would hide a
// misconfiguration until someone cannot log in): hostgssenc/hostnogssenc, samerole/samegroup,
// +group, @file includes and include directives, samehost/samenet, host names, and every method
// PgGate cannot carry out (peer, ident, cert, gss, ldap, ...), regexes beyond that subset, and
// names longer than 63 bytes (no client name can equal them). Unlike PostgreSQL the first bad
// line stops the parse, and an unterminated quote is an error rather than running to end of line.
//
// No I/O except loadHbaFile. Client names are attacker-chosen: they are only ever compared with
// === or tested against the administrator's regexes, never compiled or used as object keys.

import { readFileSync } from "node:fs";
import { MAX_NAME_BYTES, truncateName } from "../protocol/index.ts";
import { compileHbaRegex, HbaRegexError } from "./hba-regex.ts";
import { parseIp } from "./hba-address.ts";

export type { HbaAddress, HbaClient, HbaConnectionType, HbaMethod, HbaNameMatcher, HbaOption, HbaRule } from "./hba-types.ts";
import type { HbaAddress, HbaConnectionType, HbaMethod, HbaNameMatcher, HbaOption, HbaRule } from "./hba-types.ts";

export class HbaParseError extends Error {
  override readonly name = "HbaParseError";

  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Lines and tokens

interface LogicalLine {
  readonly line: number;
  readonly text: string;
  /** Where in `text` each physical line of the record begins, for locating a column. */
  readonly starts: readonly number[];
}

/** A token as PostgreSQL's next_token lexes it; `quoted` means it began with a double quote. */
interface Token {
  readonly text: string;
  readonly quoted: boolean;
  /** For each UTF-16 unit of `text`, its offset in the logical line (quotes make the two differ). */
  readonly at: readonly number[];
}

/** A whitespace-separated field: one token, or several joined by commas. */
type Field = readonly Token[];

function fail(line: number, detail: string): never {
  throw new HbaParseError(`line ${line}: ${detail}`, line);
}

/** A problem at one character of a record, raised while parsing it; parseHba words it with a line and column. */
class ErrorAt extends Error {
  constructor(
    readonly detail: string,
    /** Offset in the logical line. */
    readonly offset: number,
  ) {
    super(detail);
  }
}

/** The physical line and 1-based column (in characters) of `offset` in a logical line. */
function locate(logical: LogicalLine, offset: number): { line: number; column: number } {
  let i = logical.starts.length - 1;
  while (i > 0 && logical.starts[i] > offset) i--;
  const start = logical.starts[i];
  return { line: logical.line + i, column: Array.from(logical.text.slice(start, offset)).length + 1 };
}

/**
 * Physical lines joined at a trailing backslash, as PostgreSQL 16 does it: the backslash must be
 * the very last character, it is removed, and nothing is put in its place, so the next line
 * continues the same token unless there is whitespace before the backslash. Numbered by the
 * line the record starts on.
 */
function logicalLines(text: string): LogicalLine[] {
  const physical = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const out: LogicalLine[] = [];
  let start = 0;
  let pending: string | null = null; // the record so far, while its lines end in a backslash
  let starts: number[] = [];
  for (let i = 0; i < physical.length; i++) {
    const l = physical[i];
    if (pending === null) {
      start = i + 1;
      pending = "";
      starts = [];
    }
    starts.push(pending.length);
    if (l.endsWith("\\")) {
      pending += l.slice(0, -1);
      continue;
    }
    out.push({ line: start, text: pending + l, starts });
    pending = null;
  }
  // A backslash on the last line continues into the end of the file: PostgreSQL keeps the text.
  if (pending !== null) out.push({ line: start, text: pending, starts });
  return out;
}

/** PostgreSQL's pg_isblank: the characters that separate fields. */
function isBlank(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r";
}

interface Lexed {
  readonly token: Token | null;
  readonly comma: boolean;
  readonly end: number;
}

/**
 * One token from `pos`, following hba.c's next_token: leading blanks and commas are skipped, an
 * unquoted blank or comma ends the token, an unquoted # ends the line, "" inside quotes is a
 * literal quote, and quotes may cover part of a token.
 */
function lexToken(text: string, pos: number, line: number): Lexed {
  while (pos < text.length && (isBlank(text[pos]) || text[pos] === ",")) pos++;
  let value = "";
  const at: number[] = [];
  let inQuote = false;
  let sawQuote = false;
  let initialQuote = false;
  let comma = false;
  while (pos < text.length && (inQuote || !isBlank(text[pos]))) {
    const ch = text[pos];
    if (ch === "#" && !inQuote) {
      pos = text.length;
      break;
    }
    if (ch === "," && !inQuote) {
      comma = true;
      pos++;
      break;
    }
    if (ch === '"') {
      if (inQuote && text[pos + 1] === '"') {
        value += '"';
        at.push(pos);
        pos += 2;
        continue;
      }
      if (!inQuote && value === "" && !sawQuote) initialQuote = true;
      inQuote = !inQuote;
      sawQuote = true;
    } else {
      value += ch;
      at.push(pos);
    }
    pos++;
  }
  if (inQuote) fail(line, "unterminated quoted string");
  const token = sawQuote || value !== "" ? { text: value, quoted: initialQuote, at } : null;
  return { token, comma, end: pos };
}

/** Splits a logical line into fields of comma-joined tokens; [] for a blank or comment line. */
function tokenizeLine(text: string, line: number): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  for (;;) {
    const field: Token[] = [];
    let lexed: Lexed;
    do {
      lexed = lexToken(text, pos, line);
      pos = lexed.end;
      if (lexed.token !== null) field.push(lexed.token);
    } while (lexed.comma && lexed.token !== null);
    if (field.length === 0) return fields;
    fields.push(field);
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

const CONNECTION_TYPES: readonly HbaConnectionType[] = ["local", "host", "hostssl", "hostnossl"];
const METHODS: readonly HbaMethod[] = ["trust", "reject", "scram-sha-256", "md5", "password"];
/** Methods PostgreSQL knows that need something PgGate does not have (the peer's OS user, a client certificate, an external service). */
const FOREIGN_METHODS: readonly string[] = ["peer", "ident", "cert", "gss", "sspi", "ldap", "radius", "pam", "bsd"];

function isKeyword(token: Token, word: string): boolean {
  return !token.quoted && token.text === word;
}

/** The field's only token; PostgreSQL refuses a list where one value belongs. */
function single(field: Field, what: string, line: number): Token {
  if (field.length !== 1) fail(line, `multiple values specified for ${what}`);
  return field[0];
}

function required(field: Field | undefined, what: string, line: number): Field {
  if (field === undefined) fail(line, `end-of-line before ${what} specification`);
  return field;
}

/** PostgreSQL would read the named file in place of an unquoted @name token. */
function refuseIncludes(fields: readonly Field[], line: number): void {
  for (const field of fields) {
    for (const token of field) {
      if (!token.quoted && token.text.length > 1 && token.text.startsWith("@")) {
        fail(line, `file inclusion (${token.text}) is not supported by PgGate`);
      }
    }
  }
}

function parseConnectionType(token: Token, line: number): HbaConnectionType {
  const type = CONNECTION_TYPES.find((t) => t === token.text);
  if (type !== undefined) return type;
  if (token.text === "hostgssenc" || token.text === "hostnogssenc") {
    fail(line, `connection type "${token.text}" is not supported by PgGate (it has no GSSAPI encryption)`);
  }
  if (token.text === "include" || token.text === "include_if_exists" || token.text === "include_dir") {
    fail(line, `"${token.text}" directives are not supported by PgGate`);
  }
  return fail(line, `invalid connection type "${token.text}"`);
}

/**
 * PostgreSQL 16: a name beginning with / is a regular expression over the rest, unanchored unless
 * written with ^ and $, even when quoted (quoting is how a regex gets a comma). Not JavaScript's
 * RegExp: it backtracks, and one nested quantifier (/^(a+)+$) let crafted login names stall
 * PgGate for a minute; hba-regex.ts matches in linear time and refuses what it cannot (back
 * references, lookaround, ...) here, so `pggate check`, start and reload all report it. An
 * empty one would match every name, so it is refused as a likely mistake.
 */
function regexMatcher(token: Token, line: number): HbaNameMatcher {
  const source = token.text.slice(1);
  if (source === "") fail(line, `empty regular expression "${token.text}"`);
  try {
    return { kind: "regex", regex: compileHbaRegex(source) };
  } catch (e) {
    if (!(e instanceof HbaRegexError)) throw e;
    // The offset is into `source`, one past the slash; past its end means after the token.
    const i = 1 + e.index;
    const offset = i < token.at.length ? token.at[i] : token.at[token.at.length - 1] + 1;
    throw new ErrorAt(`invalid regular expression "${source}": ${e.message}`, offset);
  }
}

/**
 * A plain name. Client names are cut to 63 bytes before matching (as PostgreSQL cuts them), so a
 * longer one here could never match — a reject line for it would silently let everyone through.
 */
function nameMatcher(token: Token, line: number): HbaNameMatcher {
  if (truncateName(token.text) !== token.text) {
    fail(line, `name "${token.text}" is longer than ${MAX_NAME_BYTES} bytes; PostgreSQL truncates role and database names to ${MAX_NAME_BYTES} bytes, so write "${truncateName(token.text)}"`);
  }
  return { kind: "name", name: token.text };
}

function parseDatabases(field: Field, line: number): HbaNameMatcher[] {
  return field.map((token): HbaNameMatcher => {
    if (isKeyword(token, "all")) return { kind: "all" };
    if (isKeyword(token, "sameuser")) return { kind: "sameuser" };
    if (isKeyword(token, "replication")) return { kind: "replication" };
    if (isKeyword(token, "samerole") || isKeyword(token, "samegroup")) {
      fail(line, `"${token.text}" is not supported by PgGate (it cannot see role membership)`);
    }
    if (token.text.startsWith("/")) return regexMatcher(token, line);
    return nameMatcher(token, line);
  });
}

/** In the user field only `all`, +group and /regex are special; sameuser there is a role name. */
function parseUsers(field: Field, line: number): HbaNameMatcher[] {
  return field.map((token): HbaNameMatcher => {
    if (isKeyword(token, "all")) return { kind: "all" };
    if (!token.quoted && token.text.startsWith("+")) {
      fail(line, `group membership (${token.text}) is not supported by PgGate`);
    }
    if (token.text.startsWith("/")) return regexMatcher(token, line);
    return nameMatcher(token, line);
  });
}

/** Reads the address field, and the netmask field after it when the address has no /prefix. */
function parseAddress(fields: readonly Field[], index: number, line: number): { address: HbaAddress; next: number } {
  const token = single(required(fields[index], "IP address", line), "host address", line);
  if (isKeyword(token, "all")) return { address: { kind: "all" }, next: index + 1 };
  if (isKeyword(token, "samehost") || isKeyword(token, "samenet")) {
    fail(line, `"${token.text}" is not supported by PgGate; use an address or CIDR`);
  }
  const slash = token.text.indexOf("/");
  if (slash >= 0) return { address: parseCidr(token.text, slash, line), next: index + 1 };
  const ip = parseIp(token.text);
  if (ip === null) {
    // PostgreSQL takes anything that is not numeric for a host name; a near-miss address gets
    // a message about the address instead.
    if (token.text.includes(":") || /^[0-9.]+$/.test(token.text)) fail(line, `invalid IP address "${token.text}"`);
    fail(line, `host names are not supported; use an address or CIDR (got "${token.text}")`);
  }
  const maskToken = single(required(fields[index + 1], "netmask", line), "netmask", line);
  const mask = parseIp(maskToken.text);
  if (mask === null) fail(line, `invalid IP mask "${maskToken.text}"`);
  if (mask.family !== ip.family) fail(line, "IP address and mask do not match");
  return { address: { kind: "net", family: ip.family, address: ip.bytes, mask: mask.bytes }, next: index + 2 };
}

/** `address/prefix`. Bits of the address beyond the prefix are ignored, as PostgreSQL does. */
function parseCidr(text: string, slash: number, line: number): HbaAddress {
  const ip = parseIp(text.slice(0, slash));
  if (ip === null) fail(line, `invalid IP address "${text.slice(0, slash)}"`);
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  const maxPrefix = ip.bytes.length * 8;
  if (!/^[0-9]{1,3}$/.test(prefixText) || prefix > maxPrefix) fail(line, `invalid CIDR mask in address "${text}"`);
  return { kind: "net", family: ip.family, address: ip.bytes, mask: prefixMask(prefix, ip.bytes.length) };
}

function prefixMask(prefix: number, length: number): number[] {
  const mask: number[] = [];
  for (let i = 0; i < length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    mask.push((0xff << (8 - bits)) & 0xff);
  }
  return mask;
}

function parseMethod(token: Token, line: number): HbaMethod {
  const method = METHODS.find((m) => m === token.text);
  if (method !== undefined) return method;
  if (FOREIGN_METHODS.includes(token.text)) fail(line, `authentication method "${token.text}" is not supported by PgGate`);
  return fail(line, `invalid authentication method "${token.text}"`);
}

function parseOptions(fields: readonly Field[], line: number): HbaOption[] {
  const options: HbaOption[] = [];
  for (const field of fields) {
    for (const token of field) {
      const eq = token.text.indexOf("=");
      if (eq <= 0) fail(line, `authentication option not in name=value format: ${token.text}`);
      const name = token.text.slice(0, eq);
      const value = token.text.slice(eq + 1);
      // PgGate does not ask clients for certificates: a rule demanding one must not let anyone in without.
      if (name === "clientcert" && value !== "no-verify") fail(line, `clientcert=${value} is not supported by PgGate (it does not verify client certificates)`);
      options.push({ name, value });
    }
  }
  return options;
}

function parseRecord(fields: readonly Field[], line: number): HbaRule {
  refuseIncludes(fields, line);
  const type = parseConnectionType(single(fields[0], "connection type", line), line);
  const databases = parseDatabases(required(fields[1], "database", line), line);
  const users = parseUsers(required(fields[2], "role", line), line);
  let next = 3;
  let address: HbaAddress | null = null;
  if (type !== "local") ({ address, next } = parseAddress(fields, next, line));
  const method = parseMethod(single(required(fields[next], "authentication method", line), "authentication type", line), line);
  const options = parseOptions(fields.slice(next + 1), line);
  return { line, type, databases, users, address, method, options };
}

/** Parses pg_hba.conf text; throws HbaParseError at the first bad line. A text with no records gives []. */
export function parseHba(text: string): HbaRule[] {
  const rules: HbaRule[] = [];
  for (const logical of logicalLines(text)) {
    const fields = tokenizeLine(logical.text, logical.line);
    if (fields.length === 0) continue;
    try {
      rules.push(parseRecord(fields, logical.line));
    } catch (e) {
      if (!(e instanceof ErrorAt)) throw e;
      const { line, column } = locate(logical, e.offset);
      const where = line === logical.line ? `column ${column}` : `line ${line}, column ${column}`;
      fail(logical.line, `${e.detail} (at ${where})`);
    }
  }
  return rules;
}

/**
 * Reads and parses the file. Errors name the path. A file with no records is refused, as
 * PostgreSQL refuses one ("contains no entries"): it would let nobody in. A file that cannot be
 * read throws a plain Error.
 */
export function loadHbaFile(path: string): HbaRule[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cannot read hba file ${path}: ${(e as Error).message}`, { cause: e });
  }
  let rules: HbaRule[];
  try {
    rules = parseHba(text);
  } catch (e) {
    if (e instanceof HbaParseError) throw new HbaParseError(`${path}: ${e.message}`, e.line);
    throw e;
  }
  if (rules.length === 0) throw new HbaParseError(`${path}: configuration file contains no entries`, 0);
  return rules;
}

export { matchHba, noEntryMessage, rejectMessage } from "./hba-match.ts";
