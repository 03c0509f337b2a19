// The shape of a prepared statement as a Describe of it reports: parameter types and result
// columns. PgGate compares the shape a client was told with the shape a re-prepared copy has,
// so no client decodes rows against a description they no longer match. No I/O.
import { BodyReader } from "../protocol/index.ts";

export interface StatementShape {
  /** ParameterDescription body: count and type OIDs. */
  readonly params: Uint8Array;
  /** RowDescription body, or null for NoData (the statement returns no rows). */
  readonly row: Uint8Array | null;
}

/**
 * Whether a client told `a` may use a statement of shape `b`: the same parameter types, and the
 * same result columns by name, type and type modifier — what PostgreSQL's plan cache compares
 * (equalTupleDescs) before it raises "cached plan must not change result type". The source
 * table and column number are not compared: a table dropped and created again with the same
 * columns serves a dedicated connection's statement unchanged.
 */
export function sameShape(a: StatementShape, b: StatementShape): boolean {
  if (a === b) return true;
  if (!equalBytes(a.params, b.params)) return false;
  if (a.row === null || b.row === null) return a.row === b.row;
  if (equalBytes(a.row, b.row)) return true;
  return sameColumns(a.row, b.row);
}

function sameColumns(a: Uint8Array, b: Uint8Array): boolean {
  const ra = new BodyReader(a, 0, a.length);
  const rb = new BodyReader(b, 0, b.length);
  const n = ra.int16();
  if (rb.int16() !== n) return false;
  for (let i = 0; i < n; i++) {
    if (ra.cstring() !== rb.cstring()) return false;
    ra.int32();
    rb.int32(); // table OID
    ra.int16();
    rb.int16(); // column number
    if (ra.int32() !== rb.int32()) return false; // type OID
    if (ra.int16() !== rb.int16()) return false; // type length
    if (ra.int32() !== rb.int32()) return false; // type modifier
    ra.int16();
    rb.int16(); // format (always text in a statement Describe)
  }
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
