// Where a server connection goes: a configured node by name and address. A leaf, so both the
// connection and the cancel path can name it without importing each other.

export interface NodeTarget {
  /** "primary" or "replica<i>" (prefixed "<cluster>/" outside the default cluster): in logs, errors and metrics. */
  name: string;
  host: string;
  port: number;
  /** The cluster it belongs to (a `databases:` entry's label, "default" for top-level nodes): for logs and metrics. */
  cluster?: string;
}
