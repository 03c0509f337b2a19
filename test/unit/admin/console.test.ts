// AdminConsole against a fake backend: simple and extended query round trips as psql, node-postgres
// and lib/pq send them, error paths, ordering of pipelined frames behind a slow command, closing.

import { describe, expect, test } from "bun:test";
import { AdminConsole, type AdminBackend, type AdminCommand, type AdminResult } from "../../../src/admin/index.ts";
import { PgError, error, fatal } from "../../../src/errors/index.ts";
import { Bind, Close, Describe, Execute, Flush, Parse, Query, Sync, Terminate, decodeMessage, text, typed, type Msg } from "../../frames.ts";

/** Lets queued microtasks and timers run so the console can finish what it can. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

const POOLS: AdminResult = {
  columns: ["database", "cl_active"],
  rows: [
    ["app", 3],
    ["web", null],
  ],
  tag: "SHOW",
};

class FakeBackend implements AdminBackend {
  readonly calls: AdminCommand[] = [];
  /** When set, execute() returns a promise the test resolves by calling release(). */
  slow = false;
  private readonly pending: (() => void)[] = [];
  failWith: ((cmd: AdminCommand) => unknown) | null = null;

  execute(cmd: AdminCommand): Promise<AdminResult> {
    this.calls.push(cmd);
    const answer = (): AdminResult => {
      const failure = this.failWith?.(cmd);
      if (failure !== undefined) throw failure;
      if (cmd.kind === "show" && cmd.what === "pools") return POOLS;
      if (cmd.kind === "show") return { columns: [cmd.what], rows: [[cmd.what]], tag: "SHOW" };
      return { tag: cmd.kind.toUpperCase() };
    };
    if (!this.slow) return Promise.resolve().then(answer);
    return new Promise((resolve, reject) => {
      this.pending.push(() => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  get waiting(): number {
    return this.pending.length;
  }

  release(): void {
    this.pending.shift()?.();
  }
}

function harness<B extends AdminBackend>(backend: B) {
  const out: Msg[] = [];
  let closes = 0;
  const console = new AdminConsole(
    (buf) => out.push(decodeMessage(buf)),
    () => closes++,
    backend,
  );
  /** Feeds frames the way the session does: a view into a larger buffer that is reused afterwards. */
  const feed = (...frames: Uint8Array[]): void => {
    for (const f of frames) {
      const big = new Uint8Array(f.length + 7);
      big.set(f, 3);
      console.onFrame(f[0], big, 3, 3 + f.length);
      big.fill(0xff);
    }
  };
  /** Everything sent since the last call. */
  const take = (): Msg[] => out.splice(0);
  return { console, backend, feed, take, closes: () => closes };
}

const rfq: Msg = { t: "ReadyForQuery", status: "I" };
const poolsRows: Msg[] = [
  { t: "DataRow", values: ["app", "3"] },
  { t: "DataRow", values: ["web", null] },
];
const poolsDesc: Msg = { t: "RowDescription", columns: ["database", "cl_active"], typeOids: [25, 20] };

describe("simple Query", () => {
  test("SHOW POOLS: RowDescription, DataRows, CommandComplete, ReadyForQuery", async () => {
    const h = harness(new FakeBackend());
    h.feed(Query("show pools;"));
    await settle();
    expect(h.take()).toEqual([poolsDesc, ...poolsRows, { t: "CommandComplete", tag: "SHOW" }, rfq]);
    expect(h.backend.calls).toEqual([{ kind: "show", what: "pools" }]);
  });

  test("a command without rows: CommandComplete, ReadyForQuery", async () => {
    const h = harness(new FakeBackend());
    h.feed(Query("RELOAD"));
    await settle();
    expect(h.take()).toEqual([{ t: "CommandComplete", tag: "RELOAD" }, rfq]);
  });

  test("empty and comment-only queries: EmptyQueryResponse, no backend call", async () => {
    const h = harness(new FakeBackend());
    h.feed(Query(""), Query("  -- nothing\n ; /* */ ;"));
    await settle();
    expect(h.take()).toEqual([{ t: "EmptyQueryResponse" }, rfq, { t: "EmptyQueryResponse" }, rfq]);
    expect(h.backend.calls).toEqual([]);
  });

  test("several statements run in order, one ReadyForQuery at the end", async () => {
    const h = harness(new FakeBackend());
    h.feed(Query("SHOW VERSION; RELOAD;; PAUSE \"a;b\" -- ;\n"));
    await settle();
    expect(h.take()).toEqual([
      { t: "RowDescription", columns: ["version"], typeOids: [25] },
      { t: "DataRow", values: ["version"] },
      { t: "CommandComplete", tag: "SHOW" },
      { t: "CommandComplete", tag: "RELOAD" },
      { t: "CommandComplete", tag: "PAUSE" },
      rfq,
    ]);
    expect(h.backend.calls).toEqual([
      { kind: "show", what: "version" },
      { kind: "reload" },
      { kind: "pause", database: "a;b" },
    ]);
  });

  test("a syntax error anywhere in the string runs nothing", async () => {
    const h = harness(new FakeBackend());
    h.feed(Query("RELOAD; SHOW FOO; SHUTDOWN"));
    await settle();
    const msgs = h.take();
    expect(msgs.length).toBe(2);
    expect(msgs[0]).toMatchObject({ t: "ErrorResponse", severity: "ERROR", code: "42601" });
    expect((msgs[0] as { message: string }).message).toContain('unknown admin command "SHOW FOO"; available: SHOW POOLS');
    expect(msgs[1]).toEqual(rfq);
    expect(h.backend.calls).toEqual([]);
    expect(h.closes()).toBe(0);
  });

  test("a backend ERROR stops the remaining statements, then ReadyForQuery; the session goes on", async () => {
    const h = harness(new FakeBackend());
    h.backend.failWith = (cmd) => (cmd.kind === "pause" ? error("3D000", 'no database "nope"') : undefined);
    h.feed(Query("RELOAD; PAUSE nope; RESUME"), Query("SHOW VERSION"));
    await settle();
    const msgs = h.take();
    expect(msgs.slice(0, 3)).toEqual([
      { t: "CommandComplete", tag: "RELOAD" },
      { t: "ErrorResponse", severity: "ERROR", code: "3D000", message: 'no database "nope"' },
      rfq,
    ]);
    expect(msgs.at(-1)).toEqual(rfq);
    expect(h.backend.calls.map((c) => c.kind)).toEqual(["reload", "pause", "show"]);
    expect(h.closes()).toBe(0);
  });

  test("a backend FATAL is sent, then the connection closes and later frames are ignored", async () => {
    const h = harness(new FakeBackend());
    h.backend.failWith = (cmd) => (cmd.kind === "shutdown" ? fatal("57P01", "terminating connection due to PgGate shutdown") : undefined);
    h.feed(Query("SHUTDOWN"), Query("SHOW POOLS"));
    await settle();
    expect(h.take()).toEqual([
      { t: "ErrorResponse", severity: "FATAL", code: "57P01", message: "terminating connection due to PgGate shutdown" },
    ]);
    expect(h.closes()).toBe(1);
    expect(h.backend.calls).toEqual([{ kind: "shutdown", waitForClients: false }]);
    h.feed(Query("SHOW POOLS"));
    await settle();
    expect(h.take()).toEqual([]);
  });

  test("a plain Error from the backend becomes ERROR XX000", async () => {
    const h = harness(new FakeBackend());
    h.backend.failWith = () => new Error("boom");
    h.feed(Query("RELOAD"));
    await settle();
    expect(h.take()).toEqual([
      { t: "ErrorResponse", severity: "ERROR", code: "XX000", message: "admin command failed: boom" },
      rfq,
    ]);
  });

  test("a backend result whose rows do not fit its columns is an ERROR, with no partial frames", async () => {
    const h = harness({ execute: async () => ({ columns: ["a"], rows: [["x", "y"]], tag: "SHOW" }) });
    h.feed(Query("SHOW POOLS"));
    await settle();
    const msgs = h.take();
    expect(msgs.map((m) => m.t)).toEqual(["ErrorResponse", "ReadyForQuery"]);
    expect(msgs[0]).toMatchObject({ code: "XX000" });
  });
});

describe("extended protocol", () => {
  test("node-postgres shape: Parse/Bind/Describe P/Execute/Sync runs the command exactly once", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "SHOW POOLS", [23]), Bind("", "", ["ignored"]), Describe("P", ""), Execute(""), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "BindComplete" },
      poolsDesc,
      ...poolsRows,
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
    ]);
    expect(h.backend.calls).toEqual([{ kind: "show", what: "pools" }]);
  });

  test("lib/pq shape: Parse/Describe S/Sync then Bind/Execute/Sync runs the command exactly once", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "KILL_CLIENT 9"), Describe("S", ""), Sync());
    await settle();
    expect(h.take()).toEqual([{ t: "ParseComplete" }, { t: "ParameterDescription", count: 0 }, { t: "NoData" }, rfq]);
    h.feed(Bind("", ""), Execute(""), Sync());
    await settle();
    expect(h.take()).toEqual([{ t: "BindComplete" }, { t: "CommandComplete", tag: "KILL_CLIENT" }, rfq]);
    expect(h.backend.calls).toEqual([{ kind: "kill_client", id: 9 }]);
  });

  test("Describe S of a SHOW: ParameterDescription then RowDescription; Execute sends rows without a second run", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("s1", "SHOW POOLS"), Describe("S", "s1"), Describe("S", "s1"), Bind("p1", "s1"), Describe("P", "p1"), Execute("p1"), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "ParameterDescription", count: 0 },
      poolsDesc,
      { t: "ParameterDescription", count: 0 },
      poolsDesc,
      { t: "BindComplete" },
      poolsDesc,
      ...poolsRows,
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
    ]);
    expect(h.backend.calls.length).toBe(1);
  });

  test("a named statement executed again runs again (the Describe result is used once)", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("s", "RELOAD"), Describe("S", "s"), Bind("", "s"), Execute(""), Sync(), Bind("", "s"), Execute(""), Sync());
    await settle();
    expect(h.take().filter((m) => m.t === "CommandComplete").length).toBe(2);
    expect(h.backend.calls).toEqual([{ kind: "reload" }, { kind: "reload" }]);
  });

  test("Execute without Describe runs the command and sends rows but no RowDescription", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "SHOW POOLS"), Bind("", ""), Execute(""), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "BindComplete" },
      ...poolsRows,
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
    ]);
  });

  test("Execute with a row limit suspends the portal and resumes it", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "SHOW POOLS"), Bind("c", ""), Execute("c", 1), Execute("c", 1), Execute("c", 1), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "BindComplete" },
      poolsRows[0],
      { t: "PortalSuspended" },
      poolsRows[1],
      { t: "CommandComplete", tag: "SHOW" },
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
    ]);
    expect(h.backend.calls.length).toBe(1);
  });

  test("an empty statement: NoData on Describe, EmptyQueryResponse on Execute", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", " -- nothing"), Describe("S", ""), Bind("", ""), Describe("P", ""), Execute(""), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "ParameterDescription", count: 0 },
      { t: "NoData" },
      { t: "BindComplete" },
      { t: "NoData" },
      { t: "EmptyQueryResponse" },
      rfq,
    ]);
    expect(h.backend.calls).toEqual([]);
  });

  test("Close statement and portal answer CloseComplete; Flush sends nothing", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("s", "SHOW HELP"), Bind("p", "s"), Flush(), Close("P", "p"), Close("S", "s"), Close("S", "never-existed"), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "BindComplete" },
      { t: "CloseComplete" },
      { t: "CloseComplete" },
      { t: "CloseComplete" },
      rfq,
    ]);
    h.feed(Bind("", "s"), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ErrorResponse", severity: "ERROR", code: "26000", message: 'prepared statement "s" does not exist' },
      rfq,
    ]);
  });

  test("a syntax error in Parse skips every message up to Sync, then ReadyForQuery", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "SHOW FOO"), Bind("", ""), Describe("P", ""), Execute(""), Query("RELOAD"), Sync());
    await settle();
    const msgs = h.take();
    expect(msgs.map((m) => m.t)).toEqual(["ErrorResponse", "ReadyForQuery"]);
    expect(msgs[0]).toMatchObject({ severity: "ERROR", code: "42601" });
    expect(h.backend.calls).toEqual([]);
    h.feed(Parse("", "RELOAD"), Bind("", ""), Execute(""), Sync());
    await settle();
    expect(h.take()).toEqual([{ t: "ParseComplete" }, { t: "BindComplete" }, { t: "CommandComplete", tag: "RELOAD" }, rfq]);
  });

  test("a backend error in Execute skips to Sync; portals do not survive Sync", async () => {
    const h = harness(new FakeBackend());
    h.backend.failWith = (cmd) => (cmd.kind === "pause" ? error("3D000", "no such database") : undefined);
    h.feed(Parse("", "PAUSE x"), Bind("p", ""), Execute("p"), Parse("", "RELOAD"), Bind("", ""), Execute(""), Sync(), Execute("p"), Sync());
    await settle();
    expect(h.take()).toEqual([
      { t: "ParseComplete" },
      { t: "BindComplete" },
      { t: "ErrorResponse", severity: "ERROR", code: "3D000", message: "no such database" },
      rfq,
      { t: "ErrorResponse", severity: "ERROR", code: "34000", message: 'portal "p" does not exist' },
      rfq,
    ]);
    expect(h.backend.calls.map((c) => c.kind)).toEqual(["pause"]);
  });

  test("errors named as PostgreSQL names them", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("s", "RELOAD"), Parse("s", "RELOAD"), Sync());
    h.feed(Bind("", "missing"), Sync());
    h.feed(Bind("", ""), Sync());
    h.feed(Describe("P", ""), Sync());
    h.feed(Parse("", "RELOAD; RELOAD"), Sync());
    await settle();
    const errors = h.take().filter((m) => m.t === "ErrorResponse");
    expect(errors).toEqual([
      { t: "ErrorResponse", severity: "ERROR", code: "42P05", message: 'prepared statement "s" already exists' },
      { t: "ErrorResponse", severity: "ERROR", code: "26000", message: 'prepared statement "missing" does not exist' },
      { t: "ErrorResponse", severity: "ERROR", code: "26000", message: "unnamed prepared statement does not exist" },
      { t: "ErrorResponse", severity: "ERROR", code: "34000", message: "unnamed portal does not exist" },
      expect.objectContaining({ code: "42601", message: expect.stringContaining("one command per statement expected") }),
    ]);
  });

  test("a FATAL from the backend during Describe closes without ReadyForQuery", async () => {
    const h = harness(new FakeBackend());
    h.backend.failWith = () => fatal("57P01", "bye");
    h.feed(Parse("", "SHUTDOWN"), Describe("S", ""), Sync());
    await settle();
    expect(h.take()).toEqual([{ t: "ParseComplete" }, { t: "ErrorResponse", severity: "FATAL", code: "57P01", message: "bye" }]);
    expect(h.closes()).toBe(1);
  });
});

describe("ordering and connection handling", () => {
  test("pipelined frames wait behind a slow command and are answered in order", async () => {
    const h = harness(new FakeBackend());
    h.backend.slow = true;
    h.feed(Query("SHOW POOLS"), Parse("", "RELOAD"), Bind("", ""), Execute(""), Sync(), Query(""), Query("SHOW STATS"));
    await settle();
    expect(h.take()).toEqual([]);
    expect(h.backend.waiting).toBe(1);

    h.backend.release();
    await settle();
    expect(h.take()).toEqual([
      poolsDesc,
      ...poolsRows,
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
      { t: "ParseComplete" },
      { t: "BindComplete" },
    ]);
    expect(h.backend.calls.map((c) => c.kind)).toEqual(["show", "reload"]);

    h.backend.release();
    await settle();
    expect(h.take()).toEqual([{ t: "CommandComplete", tag: "RELOAD" }, rfq, { t: "EmptyQueryResponse" }, rfq]);

    h.backend.release();
    await settle();
    expect(h.take()).toEqual([
      { t: "RowDescription", columns: ["stats"], typeOids: [25] },
      { t: "DataRow", values: ["stats"] },
      { t: "CommandComplete", tag: "SHOW" },
      rfq,
    ]);
    expect(h.backend.waiting).toBe(0);
  });

  test("Terminate closes, even while an extended batch is being skipped", async () => {
    const h = harness(new FakeBackend());
    h.feed(Terminate(), Query("SHOW POOLS"));
    await settle();
    expect(h.take()).toEqual([]);
    expect(h.closes()).toBe(1);
    expect(h.backend.calls).toEqual([]);

    const h2 = harness(new FakeBackend());
    h2.feed(Parse("", "nope"), Terminate());
    await settle();
    expect(h2.take().map((m) => m.t)).toEqual(["ErrorResponse"]);
    expect(h2.closes()).toBe(1);
  });

  test("Terminate queued behind a slow command closes once that command's reply is out", async () => {
    const h = harness(new FakeBackend());
    h.backend.slow = true;
    h.feed(Query("RELOAD"), Terminate());
    await settle();
    expect(h.closes()).toBe(0);
    h.backend.release();
    await settle();
    expect(h.take()).toEqual([{ t: "CommandComplete", tag: "RELOAD" }, rfq]);
    expect(h.closes()).toBe(1);
  });

  test("an unknown message type is FATAL 08P01 and closes", async () => {
    const h = harness(new FakeBackend());
    h.feed(typed("z", new Uint8Array([1, 2])), Query("SHOW POOLS"));
    await settle();
    expect(h.take()).toEqual([
      {
        t: "ErrorResponse",
        severity: "FATAL",
        code: "08P01",
        message: "protocol violation: unexpected message type 'z' in the admin console",
      },
    ]);
    expect(h.closes()).toBe(1);
    expect(h.backend.calls).toEqual([]);
  });

  test("an unknown message type is FATAL even while skipping to Sync", async () => {
    const h = harness(new FakeBackend());
    h.feed(Parse("", "nope"), typed("p", new Uint8Array([0])));
    await settle();
    expect(h.take().map((m) => (m.t === "ErrorResponse" ? m.severity : m.t))).toEqual(["ERROR", "FATAL"]);
    expect(h.closes()).toBe(1);
  });

  test("a truncated body is FATAL 08P01", async () => {
    const h = harness(new FakeBackend());
    h.feed(typed("Q", text("SHOW POOLS")));
    await settle();
    expect(h.take()).toEqual([
      expect.objectContaining({ t: "ErrorResponse", severity: "FATAL", code: "08P01" }),
    ]);
    expect(h.closes()).toBe(1);
  });

  test("CopyData/CopyDone/CopyFail outside COPY are ignored, as PostgreSQL does", async () => {
    const h = harness(new FakeBackend());
    h.feed(typed("d", new Uint8Array([1])), typed("c"), typed("f", new Uint8Array([0])), Query("RELOAD"));
    await settle();
    expect(h.take()).toEqual([{ t: "CommandComplete", tag: "RELOAD" }, rfq]);
    expect(h.closes()).toBe(0);
  });

  test("dispose() mid-command: the late result is dropped and nothing more is sent", async () => {
    const h = harness(new FakeBackend());
    h.backend.slow = true;
    h.feed(Query("SHOW POOLS"), Query("RELOAD"));
    await settle();
    h.console.dispose();
    h.backend.release();
    await settle();
    expect(h.take()).toEqual([]);
    expect(h.backend.calls.length).toBe(1);
    expect(h.closes()).toBe(0);
  });

  test("a backend that throws synchronously instead of rejecting is still reported", async () => {
    const h = harness({
      execute: (): Promise<AdminResult> => {
        throw new PgError("ERROR", "55000", "not now");
      },
    });
    h.feed(Query("RELOAD"));
    await settle();
    expect(h.take()).toEqual([{ t: "ErrorResponse", severity: "ERROR", code: "55000", message: "not now" }, rfq]);
  });
});
