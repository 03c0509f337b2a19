// nextAction() table tests: what happens to a client's next batch for each combination of its
// classification, the session's situation (attached connection, floor, PAUSE) and the replicas.
import { describe, expect, test } from "bun:test";
import { classify, type Classification, type ClassifyContext } from "../../../src/router/index.ts";
import type { NodeTarget } from "../../../src/server/node-target.ts";
import { afterReadyForQuery, nextAction, wantsReplica, type BatchAction, type BatchSituation } from "../../../src/session/next-action.ts";

const cctx: ClassifyContext = { writeFunctions: new Set(), readFunctions: new Set(), volatility: () => undefined };
const c = (sql: string): Classification => classify(sql, cctx);
const R1: NodeTarget = { name: "replica0", host: "127.0.0.1", port: 5433 };
const R2: NodeTarget = { name: "replica1", host: "127.0.0.1", port: 5434 };

const read = c("SELECT 1");
const write = c("INSERT INTO t VALUES (1)");
const begin = c("BEGIN");
const setWorkMem = c("SET work_mem = '8MB'");
const forcedPrimary = c("/* pggate:primary */ SELECT 1");

function sit(over: Partial<BatchSituation>): BatchSituation {
  return {
    cls: read,
    retryOnPrimary: false,
    split: true,
    noReplica: "primary",
    sessionRoute: "auto",
    replica: R1,
    floorSet: false,
    floor: "unknown",
    attached: null,
    paused: false,
    pinned: null,
    ...over,
  };
}

const acquire = (target: "primary" | "replica", reason: string, replica: NodeTarget | null = null, releaseFirst = false, pin: string | null = null): BatchAction =>
  ({ kind: "acquire", target, reason, pin, replica, releaseFirst }) as BatchAction;
const forward = (target: "primary" | "replica", reason: string, pin: string | null = null): BatchAction => ({ kind: "forward", target, reason, pin }) as BatchAction;

describe("nextAction", () => {
  const rows: [string, Partial<BatchSituation>, BatchAction][] = [
    // Nothing attached: a connection is acquired where the batch belongs.
    ["a read, a replica picked", {}, acquire("replica", "read", R1)],
    ["a read, no replica", { replica: null }, acquire("primary", "no_replica")],
    ["a read, no replica, no_replica = error", { replica: null, noReplica: "error" }, { kind: "fail_no_replica" }],
    ["a read, split off (no replica asked)", { split: false, replica: null, noReplica: "error" }, acquire("primary", "split_disabled")],
    ["a write", { cls: write, replica: null }, acquire("primary", "write")],
    ["BEGIN", { cls: begin, replica: null }, acquire("primary", "transaction")],
    ["a SET pins", { cls: setWorkMem, replica: null }, acquire("primary", "pinned:set", null, false, "set")],
    ["forced primary", { cls: forcedPrimary, replica: null }, acquire("primary", "forced")],
    ["unclassifiable", { cls: null, replica: null }, acquire("primary", "unknown")],
    ["a 25006 replay goes to the primary, whatever no_replica says", { retryOnPrimary: true, replica: null, noReplica: "error" }, acquire("primary", "retry_25006")],
    ["SET pggate.route = primary", { sessionRoute: "primary" }, acquire("primary", "forced")],
    // Read-your-writes: a floor is consulted only for reads bound for a replica.
    ["a read with a floor: ask it first", { floorSet: true }, { kind: "consult_floor" }],
    ["floor: a replica that has it", { floorSet: true, floor: { replica: R2 } }, acquire("replica", "read", R2)],
    ["floor: none can have it, go to the primary", { floorSet: true, floor: "primary" }, acquire("primary", "read_your_writes")],
    ["floor: worth waiting", { floorSet: true, floor: "wait" }, { kind: "wait_floor" }],
    ["a write with a floor set does not ask it", { cls: write, replica: null, floorSet: true }, acquire("primary", "write")],
    ["a read with a floor, attached to the primary: stays there", { floorSet: true, attached: { target: "primary", busy: true } }, forward("replica", "read")],
    // Attached connections.
    ["attached primary takes a write", { cls: write, replica: null, attached: { target: "primary", busy: false } }, forward("primary", "write")],
    ["attached primary takes a read too", { attached: { target: "primary", busy: true } }, forward("replica", "read")],
    ["attached replica takes the next read", { attached: { target: "replica", busy: true } }, forward("replica", "read")],
    ["attached busy replica, then a write: wait for it", { cls: write, replica: null, attached: { target: "replica", busy: true } }, { kind: "wait_attached" }],
    ["attached idle replica, then a write: release, then acquire", { cls: write, replica: null, attached: { target: "replica", busy: false } }, acquire("primary", "write", null, true)],
    // Pinned clients (pool.mode session from the first statement) stay on their primary connection.
    ["session mode: the first read goes to the primary, not a replica for life", { pinned: "session_mode" }, acquire("primary", "pinned:session_mode")],
    ["session mode: no_replica = error does not apply", { pinned: "session_mode", replica: null, noReplica: "error" }, acquire("primary", "pinned:session_mode")],
    ["pinned and attached to the primary: forward", { pinned: "set", attached: { target: "primary", busy: false } }, forward("primary", "pinned:set")],
    ["session mode, a SET: still the pin's own reason", { pinned: "session_mode", cls: setWorkMem, replica: null }, acquire("primary", "pinned:set", null, false, "set")],
    // PAUSE holds only new work.
    ["paused: a new batch waits", { paused: true }, { kind: "wait_pause" }],
    ["paused: an attached primary still takes it", { paused: true, cls: write, replica: null, attached: { target: "primary", busy: false } }, forward("primary", "write")],
    ["paused: release an idle replica, then wait", { paused: true, cls: write, replica: null, attached: { target: "replica", busy: false } }, { kind: "wait_pause" }],
  ];
  for (const [name, over, expected] of rows) {
    test(name, () => {
      expect(nextAction(sit(over))).toEqual(expected);
    });
  }
});

describe("wantsReplica", () => {
  const rows: [string, Classification | null, boolean, boolean, boolean][] = [
    ["a read", read, true, false, true],
    ["a read, split off", read, false, false, false],
    ["a read being replayed", read, true, true, false],
    ["a write", write, true, false, false],
    ["a pinning statement", setWorkMem, true, false, false],
    ["unclassifiable", null, true, false, false],
  ];
  for (const [name, cls, split, retry, expected] of rows) test(name, () => expect(wantsReplica(cls, split, retry)).toBe(expected));
  test("a pinned client never asks for a replica", () => expect(wantsReplica(read, true, false, "session_mode")).toBe(false));
});

describe("afterReadyForQuery", () => {
  const base = { floorToCapture: false, queued: false, sticky: false, transactionPooling: true, pinned: false };
  const rows: [string, Partial<typeof base>, string][] = [
    ["transaction pooling, nothing queued: release", {}, "release"],
    ["a write committed: capture its floor first", { floorToCapture: true, queued: true }, "capture_floor"],
    ["session mode: keep", { transactionPooling: false }, "keep"],
    ["pinned: keep", { pinned: true }, "keep"],
    ["more batches queued: pump", { queued: true }, "pump"],
    ["inside a transaction, more queued: pump (they stay on it)", { queued: true, sticky: true }, "pump"],
    ["inside a transaction, nothing queued: wait for the client", { sticky: true }, "none"],
  ];
  for (const [name, over, expected] of rows) test(name, () => expect(afterReadyForQuery({ ...base, ...over })).toBe(expected as ReturnType<typeof afterReadyForQuery>));
});

describe("nextAction with routing.primary_read_weight", () => {
  test("a read the balancer gave to the primary runs there (reason read_balanced), floors or not", () => {
    const P: NodeTarget = { name: "primary", host: "127.0.0.1", port: 5432 };
    expect(nextAction(sit({ replica: P, replicaIsPrimary: true }))).toEqual(acquire("primary", "read_balanced"));
    expect(nextAction(sit({ replica: P, replicaIsPrimary: true, floorSet: true }))).toEqual(acquire("primary", "read_balanced"));
    expect(nextAction(sit({ replica: P, replicaIsPrimary: true, attached: { target: "primary", busy: false } }))).toEqual(forward("primary", "read_balanced"));
  });
});
