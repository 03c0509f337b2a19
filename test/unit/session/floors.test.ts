// Read-your-writes floors when a write's WAL position is lost (issue 23 item 2): the client's reads
// and, in user / global mode, its scope's go to the primary until a position read afterwards
// replaces the unknown floor. Pure: no sockets, a fake connection answering the capture.
import { describe, expect, test } from "bun:test";
import { SharedFloors, UNKNOWN_FLOOR } from "../../../src/session/shared-floors.ts";
import { WriteFloor, type FloorCluster, type FloorHost } from "../../../src/session/write-floor.ts";
import type { RoutingConfig } from "../../../src/config/types.ts";
import type { NodeTarget, ServerConn } from "../../../src/server/server-conn.ts";

describe("SharedFloors with an unknown floor", () => {
  test("user scope: unknown until a position read after the mark; an older read does not replace it", () => {
    const f = new SharedFloors();
    f.raise("user", "u", "db", 100n, 1);
    f.markUnknown("user", "u", "db", 10);
    expect(f.get("user", "u", "db")).toBe(UNKNOWN_FLOOR);
    f.raise("user", "u", "db", 200n, 5); // read before the lost write: does not cover it
    expect(f.get("user", "u", "db")).toBe(UNKNOWN_FLOOR);
    f.raise("user", "u", "db", 150n, 11);
    expect(f.get("user", "u", "db")).toBe(150n);
    expect(f.get("user", "other", "db")).toBeNull();
    f.raise("user", "u", "db", 300n, 0);
    expect(f.get("user", "u", "db")).toBe(300n);
  });

  test("global scope behaves the same", () => {
    const f = new SharedFloors();
    f.markUnknown("global", "u", "db", 10);
    expect(f.get("global", "x", "y")).toBe(UNKNOWN_FLOOR);
    f.raise("global", "x", "y", 7n, 9);
    expect(f.get("global", "x", "y")).toBe(UNKNOWN_FLOOR);
    f.raise("global", "x", "y", 7n, 12);
    expect(f.get("global", "x", "y")).toBe(7n);
  });
});

/** A connection whose capture query is answered (or lost) on demand. */
function fakeConn(): { conn: ServerConn; answer(row: (string | null)[] | null): void } {
  let pending: { onRow?: (r: (string | null)[]) => void; done?: (ok: boolean) => void } | null = null;
  const conn = {
    isClosed: false,
    sendInternal(_sql: string, onRow?: (r: (string | null)[]) => void, done?: (ok: boolean) => void) {
      pending = { onRow, done };
    },
  } as unknown as ServerConn;
  return {
    conn,
    answer(row) {
      const p = pending!;
      pending = null;
      if (row) p.onRow?.(row);
      p.done?.(row !== null);
    },
  };
}

function floorFor(mode: "session" | "user" | "global", shared: SharedFloors, replicaAt: { lsn: bigint }, primaryAt: { lsn: bigint | null } = { lsn: 0n }): WriteFloor {
  const replica = { name: "replica0" } as NodeTarget;
  const cluster: FloorCluster = {
    primary: { name: "primary" } as NodeTarget,
    sharedFloors: shared,
    // Answers at once with the primary's position (the real one answers after a round trip).
    readIndex: { request: (cb) => (cb(primaryAt.lsn), () => {}) },
    allReplicasPast: (floor) => replicaAt.lsn >= floor,
    pickReplica: (_r, _u, _d, floor) => (floor == null || replicaAt.lsn >= floor ? replica : null),
  };
  const host: FloorHost = {
    user: "u",
    database: "db",
    routing: { readYourWrites: mode, rywMaxWaitMs: 1000 } as RoutingConfig,
    cluster,
    send: () => {},
    floorWaitOver: () => {},
  };
  return new WriteFloor({ health: { waitForReplay: () => () => {} }, stats: { rywWaits: 0 } }, host);
}

describe("WriteFloor when the capture is lost", () => {
  for (const mode of ["session", "user", "global"] as const) {
    test(`${mode}: reads go to the primary and count as writes until a capture succeeds`, () => {
      const shared = new SharedFloors();
      const replicaAt = { lsn: 1n << 40n };
      const floor = floorFor(mode, shared, replicaAt);
      const other = floorFor(mode, shared, replicaAt);
      const c = fakeConn();
      let released = 0;
      floor.capture(c.conn, () => released++);
      c.answer(null); // the connection closed before answering
      expect(released).toBe(1);
      expect(floor.current()).toBe(UNKNOWN_FLOOR);
      expect(floor.choose()).toBe("primary");
      expect(floor.wrote).toBe(true);
      // The scope's other clients cannot read a replica either (session mode: only the writer).
      if (mode === "session") expect(other.current()).toBeNull();
      else expect(other.choose()).toBe("primary");
      // The next capture (after the read that went to the primary) learns a real position.
      floor.capture(c.conn, () => released++);
      c.answer(["0/10", "0/10", "t"]);
      expect(floor.current()).toBe(0x10n);
      if (mode !== "session") expect(other.current()).toBe(0x10n);
      expect(floor.choose()).not.toBe("primary");
    });
  }
});

describe("WriteFloor in global mode: the read index", () => {
  test("every read asks the primary's position; a replica that replayed it serves, else the read waits or goes to the primary", () => {
    const replicaAt = { lsn: 100n };
    const primaryAt: { lsn: bigint | null } = { lsn: 90n };
    const floor = floorFor("global", new SharedFloors(), replicaAt, primaryAt);
    expect(floor.constrains).toBe(true);
    expect(floor.choose()).not.toBe("primary"); // 100 >= 90: the replica has everything
    primaryAt.lsn = 150n; // writes elsewhere (another PgGate): the replica is behind
    expect(floor.choose()).toBe("wait");
    replicaAt.lsn = 200n; // it replays the floor: the waiting read is served there
    expect(floor.choose()).not.toBe("primary");
    primaryAt.lsn = null; // the primary's position cannot be read: the read goes to the primary
    expect(floor.choose()).toBe("primary");
  });

  test("session mode never asks", () => {
    let asked = 0;
    const shared = new SharedFloors();
    const floor = floorFor("session", shared, { lsn: 0n });
    (floor as unknown as { host: { cluster: { readIndex: { request: () => () => void } } } }).host.cluster.readIndex.request = () => (asked++, () => {});
    expect(floor.constrains).toBe(false);
    expect(asked).toBe(0);
  });
});
