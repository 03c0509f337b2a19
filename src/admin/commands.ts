// The admin console's command language: a tiny lexer (comments, quotes, `;`), statement splitting
// and parseAdminCommand(). Pure text → AdminCommand; it never executes anything.
import { PgError, SqlState } from "../errors/index.ts";

export const SHOW_WHATS = [
  // PgBouncer 1.18's SHOW commands, answered with its columns (show-pgbouncer.ts).
  "pools",
  "clients",
  "servers",
  "stats",
  "stats_totals",
  "stats_averages",
  "totals",
  "config",
  "version",
  "help",
  "lists",
  "databases",
  "users",
  "mem",
  "fds",
  "sockets",
  "active_sockets",
  "dns_hosts",
  "dns_zones",
  // PgGate's own: per node, and routing.
  "nodes",
  "pools_by_node",
  "stats_by_node",
  "routes",
] as const;

export type ShowWhat = (typeof SHOW_WHATS)[number];

export type AdminCommand =
  | { kind: "show"; what: ShowWhat }
  | { kind: "reload" }
  | { kind: "pause"; database: string | null }
  | { kind: "resume"; database: string | null }
  | { kind: "shutdown"; waitForClients: boolean }
  | { kind: "kill_client"; id: number }
  /** Server connections (of one database, or all) close once idle; clients move to new ones. */
  | { kind: "reconnect"; database: string | null }
  /** Waits until the connections RECONNECT marked have closed. */
  | { kind: "wait_close"; database: string | null }
  /** Drops every client and server connection of the database at once. */
  | { kind: "kill"; database: string }
  /** New logins to the database are refused (DISABLE) or allowed again (ENABLE). */
  | { kind: "disable"; database: string }
  | { kind: "enable"; database: string }
  /** PgBouncer's SUSPEND (before an online restart): understood, then refused with what to use instead. */
  | { kind: "suspend" }
  /** A reloadable key set at run time, over the file (until restart). */
  | { kind: "set"; key: string; value: string }
  /** An empty query string, or one holding only whitespace, comments and `;`. */
  | { kind: "empty" };


/** Every command, spelled as error messages and SHOW HELP list them. */
export const ADMIN_COMMAND_SYNOPSES: readonly string[] = [
  ...SHOW_WHATS.map((w) => `SHOW ${w.toUpperCase()}`),
  "RELOAD",
  "PAUSE [db]",
  "RESUME [db]",
  "SHUTDOWN [WAIT_FOR_CLIENTS]",
  "SUSPEND",
  "KILL_CLIENT id",
  "RECONNECT [db]",
  "WAIT_CLOSE [db]",
  "KILL db",
  "DISABLE db",
  "ENABLE db",
  "SET key = value",
];

/** Longest excerpt of the user's input quoted back in an error message. */
const MAX_ECHO_CHARS = 200;

type TokenKind = "word" | "quoted" | "string" | "param" | "semicolon" | "other";

interface Token {
  kind: TokenKind;
  /** word: the source text; quoted/string: the content with doubled quotes collapsed. */
  value: string;
  /** The token exactly as written, for echoing input back. */
  raw: string;
  /** Offset of the token's first character in the source. */
  start: number;
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Unquoted word characters: letters, digits, `_ $ . -`, and any non-ASCII character (not `$` first). */
const isWordChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  c === 0x5f ||
  c === 0x24 ||
  c === 0x2e ||
  c === 0x2d ||
  c >= 0x80;

const startsLineComment = (s: string, i: number): boolean =>
  s.charCodeAt(i) === 0x2d && s.charCodeAt(i + 1) === 0x2d;
const startsBlockComment = (s: string, i: number): boolean =>
  s.charCodeAt(i) === 0x2f && s.charCodeAt(i + 1) === 0x2a;

/**
 * Tokenizes following PostgreSQL's lexical rules where they matter here: `--` and nested `/* *\/`
 * comments, "quoted identifiers" and 'strings' with doubled-quote escapes. With `strict` an
 * unterminated comment or quote throws 42601; without, it runs to the end (used for splitting,
 * where the parser of that piece reports the error).
 */
function lex(sql: string, strict: boolean): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (startsLineComment(sql, i)) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (startsBlockComment(sql, i)) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (startsBlockComment(sql, i)) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
      if (depth > 0 && strict) throw syntaxError(sql.trim(), "unterminated /* comment");
      continue;
    }
    const start = i;
    if (c === 0x22 || c === 0x27) {
      // "identifier" or 'string'; a doubled quote stands for one (PostgreSQL docs, "Lexical Structure").
      let value = "";
      i++;
      let closed = false;
      while (i < n) {
        const q = sql.indexOf(sql[start], i);
        if (q < 0) break;
        value += sql.slice(i, q);
        if (sql.charCodeAt(q + 1) === c) {
          value += sql[start];
          i = q + 2;
          continue;
        }
        i = q + 1;
        closed = true;
        break;
      }
      if (!closed) {
        if (strict) throw syntaxError(sql.trim(), c === 0x22 ? "unterminated quoted identifier" : "unterminated quoted string");
        i = n;
      }
      tokens.push({ kind: c === 0x22 ? "quoted" : "string", value, raw: sql.slice(start, i), start });
      continue;
    }
    if (c === 0x3b) {
      i++;
      tokens.push({ kind: "semicolon", value: ";", raw: ";", start });
      continue;
    }
    if (c === 0x24 && isDigit(sql.charCodeAt(i + 1))) {
      // $1: a bind parameter placeholder, as drivers write them for extended-protocol queries.
      i++;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      const raw = sql.slice(start, i);
      tokens.push({ kind: "param", value: raw, raw, start });
      continue;
    }
    if (isWordChar(c) && c !== 0x24) {
      while (i < n && isWordChar(sql.charCodeAt(i)) && !startsLineComment(sql, i) && !startsBlockComment(sql, i)) i++;
      const raw = sql.slice(start, i);
      tokens.push({ kind: "word", value: raw, raw, start });
      continue;
    }
    i++;
    tokens.push({ kind: "other", value: sql[start], raw: sql[start], start });
  }
  return tokens;
}

/**
 * Splits a simple-Query string on `;` outside quotes and comments, as PostgreSQL runs a
 * multi-statement Query. Pieces come back verbatim (comments kept, `;` dropped), empty ones
 * included; parse each with parseAdminCommand and skip the "empty" ones.
 */
export function splitStatements(sql: string): string[] {
  const pieces: string[] = [];
  let from = 0;
  for (const t of lex(sql, false)) {
    if (t.kind !== "semicolon") continue;
    pieces.push(sql.slice(from, t.start));
    from = t.start + 1;
  }
  pieces.push(sql.slice(from));
  return pieces;
}

/**
 * Parses one admin command. Keywords are case-insensitive; whitespace, comments and trailing `;`
 * are ignored. A database name is a bare word (case kept, as PgBouncer does and as clients send it
 * in the startup packet) or a "quoted identifier". Throws PgError ERROR 42601 on anything else.
 */
export function parseAdminCommand(sql: string): AdminCommand {
  const statements: Token[][] = [[]];
  for (const t of lex(sql, true)) {
    if (t.kind === "semicolon") statements.push([]);
    else statements[statements.length - 1].push(t);
  }
  const nonEmpty = statements.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) return { kind: "empty" };
  if (nonEmpty.length > 1) {
    throw syntaxError(echo(nonEmpty.flat()), "one command per statement expected, found " + nonEmpty.length);
  }
  return parseTokens(nonEmpty[0]);
}

function parseTokens(tokens: Token[]): AdminCommand {
  const input = echo(tokens);
  if (tokens.some((t) => t.kind === "param")) {
    throw syntaxError(input, "admin commands take no parameters; write the value into the command text");
  }
  const keyword = (t: Token | undefined): string | null => (t?.kind === "word" ? t.value.toUpperCase() : null);
  const head = keyword(tokens[0]);
  const argc = tokens.length - 1;
  const tooMany = (usage: string): PgError => syntaxError(input, `${usage} takes no further arguments`);

  switch (head) {
    case "SHOW": {
      if (argc === 0) throw syntaxError(input, "SHOW needs one of " + SHOW_WHATS.map((w) => w.toUpperCase()).join(", "));
      const what = keyword(tokens[1])?.toLowerCase();
      const found = SHOW_WHATS.find((w) => w === what);
      if (found === undefined) throw syntaxError(input);
      if (argc > 1) throw tooMany(`SHOW ${found.toUpperCase()}`);
      return { kind: "show", what: found };
    }
    case "RELOAD":
      if (argc > 0) throw tooMany("RELOAD");
      return { kind: "reload" };
    case "PAUSE":
    case "RESUME": {
      if (argc > 1) throw syntaxError(input, `${head} takes at most one database name`);
      const database = argc === 0 ? null : databaseName(tokens[1], input, head);
      return head === "PAUSE" ? { kind: "pause", database } : { kind: "resume", database };
    }
    case "SHUTDOWN": {
      if (argc === 0) return { kind: "shutdown", waitForClients: false };
      if (argc === 1 && keyword(tokens[1]) === "WAIT_FOR_CLIENTS") return { kind: "shutdown", waitForClients: true };
      throw syntaxError(input, "SHUTDOWN takes only the optional word WAIT_FOR_CLIENTS");
    }
    case "SUSPEND":
      if (argc > 0) throw tooMany("SUSPEND");
      return { kind: "suspend" };
    case "RECONNECT":
    case "WAIT_CLOSE": {
      if (argc > 1) throw syntaxError(input, `${head} takes at most one database name`);
      const database = argc === 0 ? null : databaseName(tokens[1], input, head);
      return head === "RECONNECT" ? { kind: "reconnect", database } : { kind: "wait_close", database };
    }
    case "KILL":
    case "DISABLE":
    case "ENABLE": {
      if (argc !== 1) throw syntaxError(input, `${head} takes one database name`);
      const database = databaseName(tokens[1], input, head);
      return head === "KILL" ? { kind: "kill", database } : head === "DISABLE" ? { kind: "disable", database } : { kind: "enable", database };
    }
    case "SET": {
      // SET pool.size = 30 / SET pool.size TO 30; the value is YAML, as in the file.
      const key = tokens[1];
      const sep = tokens[2];
      const isSep = sep !== undefined && ((sep.kind === "other" && sep.value === "=") || keyword(sep) === "TO");
      if (argc < 3 || key.kind !== "word" || !isSep) throw syntaxError(input, "SET takes key = value, e.g. SET pool.size = 30");
      const rest = tokens.slice(3);
      const value = rest.length === 1 && rest[0].kind === "string" ? rest[0].value : rest.map((t) => t.raw).join(" ");
      return { kind: "set", key: key.value.toLowerCase(), value };
    }
    case "KILL_CLIENT": {
      const arg = tokens[1];
      const id = argc === 1 && arg.kind === "word" && /^[0-9]+$/.test(arg.value) ? Number(arg.value) : Number.NaN;
      if (!Number.isSafeInteger(id)) throw syntaxError(input, "KILL_CLIENT takes one client id, a non-negative integer");
      return { kind: "kill_client", id };
    }
    default:
      throw syntaxError(input);
  }
}

function databaseName(t: Token, input: string, command: string): string {
  if (t.kind === "word" || (t.kind === "quoted" && t.value.length > 0)) return t.value;
  throw syntaxError(input, `${command} takes a database name (a word or a "quoted identifier")`);
}

/** The statement as the user wrote it, minus comments and extra whitespace, for error messages. */
function echo(tokens: readonly Token[]): string {
  const s = tokens.map((t) => t.raw).join(" ");
  return s.length > MAX_ECHO_CHARS ? s.slice(0, MAX_ECHO_CHARS) + "..." : s;
}

function syntaxError(input: string, reason?: string): PgError {
  const shown = input.length > MAX_ECHO_CHARS ? input.slice(0, MAX_ECHO_CHARS) + "..." : input;
  const what = reason === undefined ? `unknown admin command "${shown}"` : `invalid admin command "${shown}": ${reason}`;
  return new PgError("ERROR", SqlState.SyntaxError, `${what}; available: ${ADMIN_COMMAND_SYNOPSES.join(", ")}`);
}
