// Requests PgGate answers itself, without a server: SET pggate.route / pggate.min_lsn (not
// forwarded: the server would reject the unknown parameter), and SQL DEALLOCATE of the client's
// protocol-level statements, by simple Query or as a whole extended batch (localBatch, whose
// shape LISTEN answers reuse). Pure: parses and validates, the session applies the result and
// sends the replies.
import { error, SqlState, type PgError } from "../errors/index.ts";
import { parseLsn } from "../health/lsn.ts";
import { BodyReader, decodeQuery, Frontend } from "../protocol/index.ts";
import type { QueuedFrame } from "./batch.ts";

export type PggateSetting = { name: "route"; route: "primary" | "replica" | "auto" } | { name: "min_lsn"; lsn: bigint };

/** Parses `SET pggate.<name> = value`; an invalid value is the ERROR PostgreSQL would give (22023). */
export function parsePggateSet(name: "route" | "min_lsn", value: string): PggateSetting | PgError {
  if (name === "min_lsn") {
    const lsn = parseLsn(value.replace(/^'|'$/g, ""));
    if (lsn === null) {
      return error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.min_lsn": "${value}"`, "Use a WAL position like 0/16B3748, e.g. a pggate.write_lsn seen on another connection.");
    }
    return { name, lsn };
  }
  const v = value.toLowerCase();
  if (v !== "primary" && v !== "replica" && v !== "auto") {
    return error(SqlState.InvalidParameterValue, `invalid value for parameter "pggate.route": "${value}"`, "Allowed values: primary, replica, auto.");
  }
  return { name, route: v };
}

/**
 * `DEALLOCATE [PREPARE] name | ALL` as the only statement of a Query, or null. Unquoted names
 * fold to lower case as PostgreSQL folds them; a quoted name keeps its spelling.
 */
export function parseDeallocate(sql: string): { all: true } | { name: string } | null {
  const m = /^\s*deallocate\s+(?:prepare\s+)?(?:(all)|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))\s*;?\s*$/i.exec(sql);
  if (!m) return null;
  if (m[1]) return { all: true };
  if (m[2] !== undefined) return { name: m[2].replace(/""/g, '"') };
  return { name: m[3].toLowerCase() };
}

/** What DEALLOCATE names: every statement, or one (folded as PostgreSQL folds it). */
export type DeallocateTarget = { all: true } | { name: string };

/** A message of a batch PgGate answers itself, in the order PostgreSQL answers them. */
export type LocalStep = "parse" | "describe_statement" | "bind" | "describe_portal" | "execute";
/** Kept under its first name: DEALLOCATE was the first batch answered this way. */
export type DeallocateStep = LocalStep;

/** A batch that is one statement PgGate answers and nothing else: a Query, or Parse … Sync of the unnamed statement. */
export interface LocalBatch<T> {
  target: T;
  /** Extended protocol: the messages before the Sync; empty for a simple Query. */
  steps: LocalStep[];
  /** Whether the statement runs (a Query, or an Execute in the batch): only then does it take effect. */
  executes: boolean;
  /** The unnamed Parse's body after its name (query, parameter types): the client's unnamed statement now. */
  parsed: Uint8Array | null;
}

export type DeallocateBatch = LocalBatch<DeallocateTarget>;

const DEALLOCATE = "deallocate";

/**
 * Whether the SQL text at `buf[at, end)` starts (after whitespace) with the word DEALLOCATE: a
 * byte peek, so the batches of every client are not decoded just to look for it.
 */
export function startsWithDeallocate(buf: Uint8Array, at: number, end: number): boolean {
  let i = at;
  while (i < end && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  if (end - i < DEALLOCATE.length + 1) return false;
  for (let k = 0; k < DEALLOCATE.length; k++) if ((buf[i + k] | 0x20) !== DEALLOCATE.charCodeAt(k)) return false;
  const next = buf[i + DEALLOCATE.length];
  return next === 0x20 || (next >= 0x09 && next <= 0x0d);
}

/**
 * Whether the first frame of a batch may start a local batch whose text `startsWith` recognises
 * (a Query, or a Parse of the unnamed statement): the session then waits for the whole batch.
 */
export function mayStartLocal(type: number, buf: Uint8Array, start: number, end: number, startsWith: (buf: Uint8Array, at: number, end: number) => boolean): boolean {
  if (type === Frontend.Query) return startsWith(buf, start + 5, end);
  // The unnamed statement's name is the empty string: its NUL comes first.
  if (type === Frontend.Parse) return end - start > 6 && buf[start + 5] === 0 && startsWith(buf, start + 6, end);
  return false;
}

/** Whether the first frame of a batch may start a DEALLOCATE batch (see mayStartLocal). */
export function mayStartDeallocate(type: number, buf: Uint8Array, start: number, end: number): boolean {
  return mayStartLocal(type, buf, start, end, startsWithDeallocate);
}

/**
 * The first `count` frames (a complete batch) as one DEALLOCATE, or null when a server must see
 * them (see localBatch).
 */
export function deallocateBatch(frames: readonly QueuedFrame[], count: number): DeallocateBatch | null {
  return localBatch(frames, count, parseDeallocate);
}

/**
 * The first `count` frames (a complete batch) as one statement that `parse` recognises, or null
 * when a server must see them. Simple: one Query (`parse` decides what its text may hold).
 * Extended: Parse of the unnamed statement with no parameter types, then any Describe of the
 * unnamed statement, at most one Bind of it into the unnamed portal without parameters (as
 * libpq's PQsendQueryParams and psycopg send it), Describe of that portal, at most one Execute of
 * it, and the Sync. Anything else in the batch — another statement, a named portal, a Flush — and
 * the whole batch goes to the server as it is.
 */
export function localBatch<T>(frames: readonly QueuedFrame[], count: number, parse: (sql: string) => T | null): LocalBatch<T> | null {
  if (count < 1) return null;
  const first = frames[0];
  if (first.type === Frontend.Query) {
    if (count !== 1) return null;
    const target = parse(decodeQuery(first.buf, first.start + 5, first.end));
    return target === null ? null : { target, steps: [], executes: true, parsed: null };
  }
  if (first.type !== Frontend.Parse || frames[count - 1].type !== Frontend.Sync) return null;
  const p = new BodyReader(first.buf, first.start + 5, first.end);
  if (p.cstring() !== "") return null;
  const parsed = first.buf.slice(first.end - p.remaining, first.end);
  const target = parse(p.cstring());
  if (target === null || p.int16() !== 0) return null;
  const steps: LocalStep[] = ["parse"];
  let bound = false;
  let executes = false;
  for (let i = 1; i < count - 1; i++) {
    const f = frames[i];
    const r = new BodyReader(f.buf, f.start + 5, f.end);
    if (f.type === Frontend.Describe) {
      const kind = r.int8();
      if (r.cstring() !== "") return null;
      if (kind === 0x53 /* 'S' */) steps.push("describe_statement");
      else if (kind === 0x50 /* 'P' */ && bound) steps.push("describe_portal");
      else return null;
    } else if (f.type === Frontend.Bind) {
      if (bound || r.cstring() !== "" || r.cstring() !== "") return null;
      // More than one format code for no parameters / no columns is an error: the server says it.
      const paramFormats = r.int16();
      if (paramFormats > 1) return null;
      r.bytes(2 * paramFormats);
      if (r.int16() !== 0) return null;
      const resultFormats = r.int16();
      if (resultFormats > 1) return null;
      r.bytes(2 * resultFormats);
      if (r.remaining !== 0) return null;
      bound = true;
      steps.push("bind");
    } else if (f.type === Frontend.Execute) {
      if (!bound || executes || r.cstring() !== "") return null;
      executes = true;
      steps.push("execute");
    } else return null;
  }
  return { target, steps, executes, parsed };
}
