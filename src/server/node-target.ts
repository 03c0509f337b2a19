// Where a server connection goes: a configured node by name and address. A leaf, so both the
// connection and the cancel path can name it without importing each other.

export interface NodeTarget {
  /** "primary" or "replica<i>": used in logs, errors and metrics. */
  name: string;
  host: string;
  port: number;
}
