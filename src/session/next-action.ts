// What to do with the next complete (or too-large-to-hold) batch of a client: a pure function
// of plain inputs returning one action. ClientSession gathers the inputs and executes the action;
// nothing here touches sockets, pools or clocks, so every case is a row in a table test.
import { route, type Classification, type PinReason, type Target } from "../router/index.ts";
import type { NodeTarget } from "../server/node-target.ts";

/** Read-your-writes verdict for a read: not asked yet, or what the write floor said. */
export type FloorVerdict = "unknown" | "wait" | "primary" | { replica: NodeTarget };

export interface BatchSituation {
  /** Merged classification of the batch; null when it cannot be classified (primary is safe). */
  cls: Classification | null;
  /** The batch is a replica's 25006 being replayed: it goes to the primary. */
  retryOnPrimary: boolean;
  /** routing.read_write_split */
  split: boolean;
  /** routing.no_replica */
  noReplica: "primary" | "error";
  /** Startup parameter or SET pggate.route. */
  sessionRoute: "auto" | "primary" | "replica";
  /** The replica picked for this read (only asked when wantsReplica() said so), or null. */
  replica: NodeTarget | null;
  /** The pick was the primary itself (routing.primary_read_weight): the read runs there. */
  replicaIsPrimary?: boolean;
  /** Whether this client keeps a read-your-writes floor that is set (a write was learnt). */
  floorSet: boolean;
  /** Asked only when the action was "consult_floor". */
  floor: FloorVerdict;
  /** The connection attached to the client, if any, and whether it still owes replies. */
  attached: { target: Target; busy: boolean } | null;
  /** PAUSE covers this client's database. */
  paused: boolean;
  /**
   * Why the client keeps one primary connection for life (session mode, or a pin), or null.
   * Such a client's own connection is always the primary's: its session state lives there.
   */
  pinned: string | null;
}

export interface Placement {
  target: Target;
  reason: string;
  pin: PinReason | null;
}

export type BatchAction =
  /** Answer the batch with 57P03: a read and routing.no_replica = error. */
  | { kind: "fail_no_replica" }
  /** A read with a floor: ask the write floor, then decide again with `floor` set. */
  | { kind: "consult_floor" }
  /** No replica has the floor yet, and it is worth waiting for one. */
  | { kind: "wait_floor" }
  /** Send on the attached connection. */
  | ({ kind: "forward" } & Placement)
  /** The attached replica still answers the previous batch; its ReadyForQuery decides again. */
  | { kind: "wait_attached" }
  /** PAUSE: the batch waits for RESUME. */
  | { kind: "wait_pause" }
  /** Get a connection for `target` (on `replica` when it is a read), giving back the attached one first. */
  | ({ kind: "acquire"; releaseFirst: boolean; replica: NodeTarget | null } & Placement);

/** Whether a replica should be picked before deciding (one pick per read batch). */
export function wantsReplica(cls: Classification | null, split: boolean, retryOnPrimary: boolean, pinned: string | null = null): boolean {
  return cls !== null && cls.route === "replica" && !cls.pin && split && !retryOnPrimary && pinned === null;
}

export function nextAction(s: BatchSituation): BatchAction {
  if (!s.retryOnPrimary && s.pinned === null && s.cls && s.cls.route === "replica" && !s.cls.pin && s.noReplica === "error" && s.split && s.replica === null) {
    return { kind: "fail_no_replica" };
  }
  // A pinned client (pool.mode session included) never reads on a replica: PgGate cannot know
  // which of its reads would need the session state kept on its primary connection.
  let placement: Placement = s.pinned !== null && !s.cls?.pin
    ? { target: "primary", reason: `pinned:${s.pinned}`, pin: null }
    : s.retryOnPrimary
    ? { target: "primary", reason: "retry_25006", pin: null }
    : s.cls
      ? route(s.cls, { split: s.split, sessionRoute: s.sessionRoute, replicaAvailable: s.replica !== null })
      : { target: "primary", reason: "unknown", pin: null };
  let replica = placement.target === "replica" ? s.replica : null;
  // The balancer gave this read to the primary (routing.primary_read_weight): it has every write,
  // so no floor applies.
  if (placement.target === "replica" && s.replicaIsPrimary === true) {
    placement = { target: "primary", reason: "read_balanced", pin: null };
    replica = null;
  }
  // A read after this client's write: only a replica that replayed the write may serve it. On an
  // attached primary connection the read simply stays there (it sees everything).
  if (placement.target === "replica" && s.floorSet && s.attached?.target !== "primary") {
    const f = s.floor;
    if (f === "unknown") return { kind: "consult_floor" };
    if (f === "wait") return { kind: "wait_floor" };
    if (f === "primary") {
      placement = { target: "primary", reason: "read_your_writes", pin: null };
      replica = null;
    } else replica = f.replica;
  }
  const a = s.attached;
  if (a) {
    // Anything may run on an attached primary connection; a replica one takes only reads.
    if (a.target === "primary" || placement.target === a.target) return { kind: "forward", ...placement };
    if (a.busy) return { kind: "wait_attached" };
  }
  // PAUSE holds new transactions only; batches on an attached connection went through above.
  if (s.paused) return { kind: "wait_pause" };
  return { kind: "acquire", releaseFirst: a !== null, replica, ...placement };
}

/** What the last ReadyForQuery of a batch means for the attached connection. */
export type AfterReady =
  /** A write committed on the primary: learn its WAL position (the floor), then release. */
  | "capture_floor"
  /** Transaction pooling, nothing pinned: the connection goes back to its pool. */
  | "release"
  /** Session mode or pinned: the client keeps the connection; it is idle now. */
  | "keep"
  /** More batches are queued: route them (they may need another node). */
  | "pump"
  /** Inside a transaction (or COPY, or an open batch): nothing to do until the client speaks. */
  | "none";

export interface ReadySituation {
  /** A write may have run, floors are kept, the connection is the primary's, and the server is idle. */
  floorToCapture: boolean;
  queued: boolean;
  /** The connection must take the client's next message whatever it is (transaction, pin, COPY). */
  sticky: boolean;
  transactionPooling: boolean;
  pinned: boolean;
}

export function afterReadyForQuery(s: ReadySituation): AfterReady {
  if (s.floorToCapture) return "capture_floor";
  if (!s.queued && !s.sticky) return s.transactionPooling && !s.pinned ? "release" : "keep";
  // Replies of a new batch cannot overtake this ReadyForQuery: they come from later events.
  return s.queued ? "pump" : "none";
}
