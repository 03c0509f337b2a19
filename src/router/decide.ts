// route(): where one batch runs, from its classification and the session's situation. Pure.
// The caller keeps a batch on the attached connection inside transactions; this decides only
// batches that start fresh (autocommit, or the first statement of a transaction).
import type { Classification, PinReason } from "./types.ts";

export type Target = "primary" | "replica";

export interface RouteContext {
  /** routing.read_write_split */
  split: boolean;
  /** Session default: startup parameter or SET pggate.route (auto unless set). */
  sessionRoute: "auto" | "primary" | "replica";
  /** Whether at least one replica can serve this client now (healthy, reachable, credentials). */
  replicaAvailable: boolean;
}

export interface RouteDecision {
  target: Target;
  /** Label for metrics and SHOW CLIENTS: read, write, transaction, forced, no_replica, pinned:<why>, ... */
  reason: string;
  /** Set when the batch changes session state: the client stays on this primary connection for life. */
  pin: PinReason | null;
}

export function route(c: Classification, ctx: RouteContext): RouteDecision {
  if (c.pin) return { target: "primary", reason: `pinned:${c.pin}`, pin: c.pin };
  if (c.forced === "primary") return { target: "primary", reason: "forced", pin: null };
  if (c.route === "primary") {
    return { target: "primary", reason: c.txn === "begin" ? "transaction" : c.reason === "read" ? "write" : c.reason, pin: null };
  }
  if (!ctx.split) return { target: "primary", reason: "split_disabled", pin: null };
  if (c.forced !== "replica" && ctx.sessionRoute === "primary") return { target: "primary", reason: "forced", pin: null };
  if (!ctx.replicaAvailable) return { target: "primary", reason: "no_replica", pin: null };
  if (c.forced === "replica" || ctx.sessionRoute === "replica") return { target: "replica", reason: "forced", pin: null };
  return { target: "replica", reason: c.txn === "begin_read_only" ? "read_only_transaction" : "read", pin: null };
}

/** Merges the classifications of the statements of one extended-protocol batch: any primary wins. */
export function mergeClassifications(a: Classification, b: Classification): Classification {
  if (b.pin && !a.pin) return b;
  if (a.pin) return a;
  if (a.route === "primary") return a;
  if (b.route === "primary") return b;
  return a.forced ? a : b;
}
