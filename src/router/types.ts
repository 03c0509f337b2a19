// Public types of the router's classification contract. Types only: no logic, no imports.

export type PinReason =
  | "set"
  | "prepare"
  | "listen"
  | "temp_table"
  | "advisory_lock"
  | "hold_cursor"
  | "role"
  | "set_config"
  | "dblink_or_other";

export type TxnEffect =
  | "begin"
  | "begin_read_only"
  | "commit"
  | "rollback"
  | "savepoint"
  | "set_transaction_read_only"
  | null;

export interface ClassifyContext {
  /** Lower-case names from config routing.write_functions (writes). */
  writeFunctions: ReadonlySet<string>;
  /** Lower-case names from config routing.read_functions (safe on replicas even if VOLATILE). */
  readFunctions: ReadonlySet<string>;
  /**
   * Catalog provolatile for user functions; undefined = not known yet. `name` is unqualified
   * (schema dropped): unquoted names folded to lower case, quoted names exactly as written, i.e.
   * pg_proc.proname. With overloads or several schemas, answer the most volatile match.
   */
  volatility(name: string): "v" | "s" | "i" | undefined;
}

export type Route = "primary" | "replica";

export type Reason =
  | "read"
  | "write"
  | "ddl"
  | "forced"
  | "unknown"
  | "function"
  | "transaction"
  | "session"
  | "copy_from"
  | "locking_read"
  | "utility";

export interface PggateSet {
  name: "route" | "min_lsn";
  value: string;
}

export interface Classification {
  /** Where the whole string may run when outside a transaction. */
  route: Route;
  reason: Reason;
  /** Session-level state change: the client must be pinned to the primary for life. */
  pin: PinReason | null;
  /** Effect of the (last) transaction-control statement in the string. */
  txn: TxnEffect;
  /** From a pggate:primary / pggate:replica hint comment. */
  forced: "primary" | "replica" | null;
  /**
   * User functions whose volatility() returned undefined, named as passed to volatility(); route
   * is "primary" meanwhile. Empty when something else already sends the string to the primary.
   */
  unknownFunctions: string[];
  /** `SET pggate.route|min_lsn ...` as the sole statement: answered by the proxy, never forwarded. */
  pggateSet: PggateSet | null;
  statements: number;
}
