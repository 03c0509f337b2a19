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

/** The label of the cluster `nodes:` describes. */
export const DEFAULT_CLUSTER = "default";

/** A node's name: `base` ("primary", "replica<i>"), prefixed "<cluster>/" outside the default cluster so names stay unique. */
export function nodeName(cluster: string | undefined, base: string): string {
  return cluster === undefined || cluster === DEFAULT_CLUSTER ? base : `${cluster}/${base}`;
}

/** The cluster label of `t` (a target made without one belongs to the default cluster). */
export function clusterLabel(t: NodeTarget): string {
  return t.cluster ?? DEFAULT_CLUSTER;
}
