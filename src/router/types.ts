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

/** pg_proc.provolatile. */
export type Volatility = "v" | "s" | "i";

/**
 * What routing needs to know about a relation read in FROM / JOIN / TABLE / COPY: "sequence"
 * (relkind S: its state is the node's own, a replica shows a value logged ahead of the primary's)
 * and "unlogged" (relpersistence u: its rows exist only on the primary) must be read there;
 * "other" is any other relation, or none of that name (a CTE, a typo).
 */
export type RelationKind = "sequence" | "unlogged" | "other";

/** The catalog facts of one database, as classify() consults them. */
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
  volatility(name: string): Volatility | undefined;
  /**
   * Kind of the relations named `name` (unqualified, as pg_class.relname); undefined = not known
   * yet. With several schemas, answer the most node-local match (sequence, then unlogged), so the
   * answer cannot depend on a search_path. Omitted where there is no catalog (tools, unit tests):
   * every relation not in the built-in node-local list is then "other".
   */
  relationKind?(name: string): RelationKind | undefined;
}

/**
 * The primary's catalog facts per database, for createRouter(): a function or sequence named x
 * in database A is not the one in database B. Same answers as ClassifyContext, per database.
 */
export interface CatalogLookup {
  volatility(database: string, name: string): Volatility | undefined;
  relationKind(database: string, name: string): RelationKind | undefined;
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
  | "utility"
  /**
   * Reads node-local state (pg_stat_* views, sequences, pg_backend_pid(), transaction_read_only,
   * ...) or a relation whose kind is being looked up: a replica's answer would not be the
   * primary's. Never a write.
   */
  | "node_local";

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
  /**
   * Relations whose relationKind() returned undefined, named as passed to it; route is "primary"
   * meanwhile (reason "node_local" when no function is pending too). Empty when something else
   * already sends the string to the primary.
   */
  unknownRelations: string[];
  /** `SET pggate.route|min_lsn ...` as the sole statement: answered by the proxy, never forwarded. */
  pggateSet: PggateSet | null;
  /**
   * A statement may change what names resolve to or the types queries yield (CREATE, ALTER,
   * DROP): prepared statements parsed before it may no longer match a fresh parse.
   */
  schema: boolean;
  statements: number;
}
