// Issue 23 #1 and #9: what a client's prepared statements and paused input cost is bounded and
// given back. Named Parses of 4 MB the server rejects must not pile up (per client, in the
// process-wide name map, outside limits.max_buffered_bytes); past limits.max_prepared_statements
// a Parse fails in protocol order and the session goes on; a client paused by the budget resumes
// when the other holder leaves, and a paused client that left is forgotten with its bytes.
// The gateway runs in-process: its RSS is this process's, read after a forced collection.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { Bind, cat, cstr, errorOf, Execute, i16, i32, messages, Parse, Query, Sync, text, typed } from "../frames.ts";
import { startGateway, waitUntil, type RunningGateway } from "./harness.ts";
import type { RawClient } from "./raw-client.ts";
import { rawMd5Login, roundTrip } from "./raw-login.ts";

const MB = 1024 * 1024;
const admin = { user: "pggate_md5", password: "md5_pw" };

function rssMb(): number {
  Bun.gc(true);
  return process.memoryUsage().rss / MB;
}

/** Runs `sql` on the admin console (database pggate) and returns its rows. */
async function console_(port: number, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: "127.0.0.1", port, user: admin.user, password: admin.password, database: "pggate" });
  c.on("error", () => {});
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function appClients(port: number): Promise<number> {
  return (await console_(port, "SHOW CLIENTS")).filter((r) => r.database === "app").length;
}

async function budgetUsed(port: number): Promise<number> {
  const row = (await console_(port, "SHOW MEM")).find((r) => r.name === "buffered_client_input");
  return Number(row?.bytes);
}

/** Types of the messages received so far. */
const types = (c: RawClient): string[] => messages(c.bytes).map((m) => m.type);
const count = (c: RawClient, type: string): number => types(c).filter((t) => t === type).length;

/**
 * Writes a named Parse whose SQL is `head` followed by a comment of `fillerBytes` bytes (shared
 * by every call, so the test itself holds one copy), then a Sync.
 */
async function writeBigParse(c: RawClient, name: string, head: string, filler: Uint8Array): Promise<void> {
  const sqlHead = text(`${head} -- `);
  const bodyLength = name.length + 1 + sqlHead.length + filler.length + 1 + 2;
  await c.write(cat(Uint8Array.of(0x50), i32(bodyLength + 4), cstr(name), sqlHead));
  await c.write(filler);
  await c.write(cat(Uint8Array.of(0), i16(0), Sync()));
}

describe("prepared statements cost bounded memory", () => {
  let gw: RunningGateway;
  beforeAll(() => {
    gw = startGateway({ auth: { mode: "auth_query" }, routing: { read_write_split: false }, limits: { max_buffered_bytes: 128 * MB }, admin: { users: [admin.user] } });
  });
  afterAll(async () => {
    await gw.stop();
  });

  test("100 named Parses of 4 MB (90 rejected by the server): RSS stays near the 128 MiB budget and returns to baseline when the client leaves", async () => {
    // Warm up: a login, a big message, the console.
    const warm = await rawMd5Login(gw.port, "app");
    await roundTrip(warm, Query(`SELECT 1 -- ${"x".repeat(4 * MB)}`));
    warm.close();
    await waitUntil("warm-up client gone", async () => (await appClients(gw.port)) === 0);
    const c = await rawMd5Login(gw.port, "app");
    const filler = text("x".repeat(4 * MB));
    const baseline = rssMb();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss / MB);
    }, 10);
    const started = Date.now();
    try {
      // Ten different valid texts, one at a time: kept (40 MB, within the per-client default).
      for (let i = 0; i < 10; i++) {
        await writeBigParse(c, `kept${i}`, `SELECT ${i} AS kept`, filler);
        expect(await c.waitFor(() => count(c, "Z") === i + 1, 10_000)).toBe(true);
      }
      // Then 90 the server rejects (a missing table), all at once.
      for (let i = 0; i < 90; i++) await writeBigParse(c, `bad${i}`, `SELECT 1 FROM stmtmem_missing_${i}`, filler);
      expect(await c.waitFor(() => count(c, "Z") === 100, 30_000)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const errors = messages(c.bytes).filter((m) => m.type === "E").map((m) => errorOf(m.body).code);
    const held = rssMb();
    const used = await budgetUsed(gw.port);
    expect(count(c, "1")).toBe(10);
    expect(errors.length).toBe(90);
    // Each fails: as the server says (42P01); or, while the statements in flight (counted from
    // their Parse until the server's answer) fill limits.max_prepared_statement_bytes, with 54000.
    expect(errors.filter((e) => e !== "42P01" && e !== "54000")).toEqual([]);
    expect(errors.filter((e) => e === "42P01").length).toBeGreaterThan(0);
    // A kept statement works; a rejected one does not exist (PostgreSQL would not have it).
    c.received.length = 0;
    const ok = await roundTrip(c, Bind("", "kept3"), Execute(""), Sync());
    expect(ok.map((m) => m.type)).toEqual(["2", "D", "C", "Z"]);
    const gone = await roundTrip(c, Bind("", "bad7"), Execute(""), Sync());
    expect(errorOf(gone.find((m) => m.type === "E")!.body).code).toBe("26000");
    c.close();
    await waitUntil("client gone from SHOW CLIENTS", async () => (await appClients(gw.port)) === 0);
    await Bun.sleep(200);
    const after = rssMb();
    const usedAfter = await budgetUsed(gw.port);
    console.log(
      `400 MB of Parses in ${seconds.toFixed(1)} s: baseline ${baseline.toFixed(0)} MB, peak +${(peak - baseline).toFixed(0)} MB, ` +
        `held while connected +${(held - baseline).toFixed(0)} MB (budget used ${(used / MB).toFixed(1)} MB), after leaving +${(after - baseline).toFixed(0)} MB (budget used ${usedAfter}); ` +
        `errors: ${errors.filter((e) => e === "42P01").length} × 42P01, ${errors.filter((e) => e === "54000").length} × 54000`,
    );
    // The ten kept statements (their 4 MB bodies, not decoded) are charged while the client is here.
    // Plus, under load, at most one 4 MB message whose charge is settled at the client's next
    // event (seen once in a full-suite run: 44.0 MB).
    expect(used).toBeGreaterThanOrEqual(40 * MB);
    expect(used).toBeLessThan(45 * MB);
    expect(usedAfter).toBe(0);
    // The budget, one message past it, and garbage not yet collected (a collection is forced every
    // 32 MB of large input: the socket chunks received, and as much copied on to the server);
    // 10 % for the allocator. Seen: +132 to +191 MB. Before the fix: +1,307 MB.
    expect(peak - baseline).toBeLessThan((128 + 4 + 2 * 32) * 1.1);
    expect(held - baseline).toBeLessThan(40 + 40);
    expect(after - baseline).toBeLessThan(40);
  }, 60_000);
});

describe("limits.max_prepared_statements", () => {
  let gw: RunningGateway;
  beforeAll(() => {
    gw = startGateway({ auth: { mode: "auth_query" }, routing: { read_write_split: false }, limits: { max_prepared_statements: 5 } });
  });
  afterAll(async () => {
    await gw.stop();
  });

  test("past it a Parse fails with 54000 where it stands; the session goes on", async () => {
    const c = await rawMd5Login(gw.port, "app");
    try {
      const five = await roundTrip(c, ...[1, 2, 3, 4, 5].map((i) => Parse(`p${i}`, `SELECT ${i} AS n`)), Sync());
      expect(five.map((m) => m.type)).toEqual(["1", "1", "1", "1", "1", "Z"]);
      // The sixth fails in protocol order: what came before it ran, the rest is skipped to Sync.
      const over = await roundTrip(c, Bind("", "p1"), Execute(""), Parse("p6", "SELECT 6"), Bind("", "p2"), Execute(""), Sync());
      expect(over.map((m) => m.type)).toEqual(["2", "D", "C", "E", "Z"]);
      const e = errorOf(over.find((m) => m.type === "E")!.body);
      expect(e.code).toBe("54000");
      expect(e.message).toContain("limits.max_prepared_statements");
      // Inside a transaction it aborts it, as any error does.
      const tx = await roundTrip(c, Query("BEGIN"));
      expect(tx.at(-1)!.body[0]).toBe(0x54); // 'T'
      const inTx = await roundTrip(c, Parse("p6", "SELECT 6"), Sync());
      expect(inTx.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(inTx.at(-1)!.body[0]).toBe(0x45); // 'E': failed transaction
      await roundTrip(c, Query("ROLLBACK"));
      // The session goes on; a Close makes room.
      const after = await roundTrip(c, typed("C", text("S"), cstr("p1")), Parse("p6", "SELECT 6 AS n"), Bind("", "p6"), Execute(""), Sync());
      expect(after.map((m) => m.type)).toEqual(["3", "1", "2", "D", "C", "Z"]);
      // A statement the server rejects takes no room (PostgreSQL does not create it).
      const bad = await roundTrip(c, typed("C", text("S"), cstr("p2")), Parse("p7", "SELECT FROM stmtmem_missing"), Sync());
      expect(bad.map((m) => m.type)).toEqual(["3", "E", "Z"]);
      expect(errorOf(bad.find((m) => m.type === "E")!.body).code).toBe("42P01");
      const room = await roundTrip(c, Parse("p8", "SELECT 8"), Sync());
      expect(room.map((m) => m.type)).toEqual(["1", "Z"]);
    } finally {
      c.close();
    }
  }, 20_000);
});

describe("a client paused by limits.max_buffered_bytes", () => {
  let gw: RunningGateway;
  beforeAll(() => {
    gw = startGateway({ auth: { mode: "auth_query" }, routing: { read_write_split: false }, limits: { max_buffered_bytes: 16 * MB }, admin: { users: [admin.user] } });
  });
  afterAll(async () => {
    await gw.stop();
  });
  afterEach(async () => {
    await waitUntil("no app client left", async () => (await appClients(gw.port)) === 0, 10_000);
  });

  /** Header and the first `sent` bytes of a 12 MB simple Query (the rest is `rest`). */
  function bigQuery(): { first: Uint8Array; rest: Uint8Array } {
    const q = Query(`SELECT 1 AS one -- ${"x".repeat(12 * MB)}`);
    return { first: q.subarray(0, 10 * MB), rest: q.subarray(10 * MB) };
  }

  /** A holds 10 MB of a message, then B starts one and is paused (16 MiB budget). */
  async function fillBudget(): Promise<{ a: RawClient; b: RawClient; q: { first: Uint8Array; rest: Uint8Array } }> {
    const q = bigQuery();
    const a = await rawMd5Login(gw.port, "app");
    const b = await rawMd5Login(gw.port, "app");
    await a.write(q.first);
    await waitUntil("A's partial message held", async () => (await budgetUsed(gw.port)) >= 12 * MB);
    // B's bytes beyond the budget stay in the kernel: write without waiting for all of it.
    void b.write(cat(q.first, q.rest));
    await waitUntil("B charged and paused", async () => (await budgetUsed(gw.port)) > 16 * MB, 10_000);
    await Bun.sleep(300);
    expect(count(b, "Z")).toBe(0);
    return { a, b, q };
  }

  test("resumes when the other holder disconnects, and its query completes", async () => {
    const { a, b } = await fillBudget();
    a.close();
    expect(await b.waitFor((bytes) => messages(bytes).some((m) => m.type === "Z"), 10_000)).toBe(true);
    expect(types(b)).toEqual(["T", "D", "C", "Z"]);
    b.close();
    await waitUntil("budget back to 0", async () => (await budgetUsed(gw.port)) === 0, 5_000);
  }, 20_000);

  test("one that disconnects while paused leaves SHOW CLIENTS and gives its bytes back", async () => {
    const { a, b } = await fillBudget();
    b.close();
    a.close();
    await waitUntil("both gone from SHOW CLIENTS", async () => (await appClients(gw.port)) === 0, 5_000);
    await waitUntil("budget back to 0", async () => (await budgetUsed(gw.port)) === 0, 5_000);
  }, 20_000);
});
