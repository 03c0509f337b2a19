// StatementReplies without sockets: which replies are PgGate's own, shapes recorded, and what a
// failed batch still owed.
import { describe, expect, test } from "bun:test";
import { StatementReplies } from "../../../src/server/statement-replies.ts";
import type { StatementShape } from "../../../src/server/statement-shape.ts";

const frame = (type: number, body: number[]) => new Uint8Array([type, 0, 0, 0, 4 + body.length, ...body]);
const fields = (code: string, message: string) => new Map([[0x43, code], [0x4d, message]]);

describe("StatementReplies", () => {
  test("an injected Describe's answers are swallowed and record the shape; the client's own are not", () => {
    const prepared = new Map<string, StatementShape | null>([["pggate_1", null]]);
    const r = new StatementReplies(prepared);
    const told: (StatementShape | null)[] = [];
    r.expectParse(0, "pggate_1", true, null);
    r.expectDescribe(0, "pggate_1", true, (s) => told.push(s));
    expect(r.onParseComplete()).toBe(true);
    const t = frame(0x74, [0, 0]);
    expect(r.onParameterDescription(t, 0, t.length)).toBe(true);
    const n = frame(0x6e, []);
    let cut = 0;
    expect(r.onRowDescription(0x6e, n, 0, n.length, () => cut++)).toBe(true);
    expect(cut).toBe(1);
    expect(prepared.get("pggate_1")).toEqual({ params: new Uint8Array([0, 0]), row: null });
    expect(told.length).toBe(1);
    // A query's own RowDescription with no Describe owed is not ours.
    expect(r.onRowDescription(0x54, n, 0, n.length, () => cut++)).toBe(false);
  });

  test("an error ends the batch: owed Parses are forgotten (statements dropped), Describes told null, the server skips until Sync", () => {
    const prepared = new Map<string, StatementShape | null>([["pggate_2", null]]);
    const r = new StatementReplies(prepared);
    const told: (StatementShape | null)[] = [];
    r.expectParse(3, "pggate_2", true, null);
    r.expectDescribe(3, "pggate_2", true, (s) => told.push(s));
    expect(r.onError(fields("42P01", "relation does not exist"), 3)).toBeNull();
    expect(prepared.has("pggate_2")).toBe(false);
    expect(told).toEqual([null]);
    expect(r.skipping(3)).toBe(true);
    expect(r.skipping(4)).toBe(false);
  });

  test("a forced failure's 26000 is replaced, an earlier real error is not; a replaceNextError applies once", () => {
    const sub = new Uint8Array([1]);
    const r = new StatementReplies(new Map());
    r.expectForcedError(0, "pggate_stale_1", sub);
    expect(r.onError(fields("26000", 'prepared statement "pggate_stale_1" does not exist'), 0)).toBe(sub);
    r.expectForcedError(1, "pggate_stale_2", sub);
    expect(r.onError(fields("22012", "division by zero"), 1)).toBeNull();
    r.replaceNextError("57014", sub);
    expect(r.onError(fields("57014", "canceling statement due to user request"), 2)).toBe(sub);
    expect(r.onError(fields("57014", "canceling statement due to user request"), 3)).toBeNull();
  });

  test("a 0A000 is traced to the batch's first unanswered Bind or Describe; PgGate's own CloseCompletes are swallowed", () => {
    const prepared = new Map<string, StatementShape | null>();
    const r = new StatementReplies(prepared);
    const told: string[] = [];
    r.expectClose(0, null);
    r.expectClose(0, "pggate_7");
    r.expectBind(0, "pggate_5", (n) => told.push(`5:${n}`));
    r.expectBind(0, "pggate_6", (n) => told.push(`6:${n}`));
    expect(r.onCloseComplete()).toBe(false);
    expect(r.onCloseComplete()).toBe(true);
    r.onBindComplete();
    // pggate_5's Bind was answered: the failure is pggate_6's.
    expect(r.planChanged(0)).toBe("pggate_6");
    expect(told).toEqual(["6:pggate_6"]);
    r.onError(fields("0A000", "cached plan must not change result type"), 0);
    // A Describe sent before a Bind of the same batch fails first.
    r.expectDescribe(1, "pggate_8", false, null);
    r.expectBind(1, "pggate_9", (n) => told.push(`9:${n}`));
    expect(r.planChanged(1)).toBe("pggate_8");
    expect(told.length).toBe(1);
  });

  test("a Close of ours the server skipped leaves the old copy known, of unknown shape (refreshed again before use)", () => {
    const prepared = new Map<string, StatementShape | null>();
    const r = new StatementReplies(prepared);
    r.expectClose(2, "pggate_3");
    r.expectParse(2, "pggate_3", true, null);
    prepared.set("pggate_3", null);
    r.onError(fields("22012", "division by zero"), 2);
    expect(prepared.has("pggate_3")).toBe(true);
    expect(prepared.get("pggate_3")).toBeNull();
  });
});

describe("StatementNames.retire", () => {
  test("a retired name is never handed out again; connections learn of it through retiredGen", async () => {
    const { StatementNames } = await import("../../../src/server/statement-names.ts");
    const names = new StatementNames();
    const a = names.nameFor("key-a");
    expect(names.nameFor("key-a")).toBe(a);
    const gen = names.retiredGen;
    names.retire(a);
    expect(names.retiredGen).toBe(gen + 1);
    expect(names.isRetired(a)).toBe(true);
    const b = names.nameFor("key-a");
    expect(b).not.toBe(a);
    expect(names.nameFor("key-a")).toBe(b);
  });
});
