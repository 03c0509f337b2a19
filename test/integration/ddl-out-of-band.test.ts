// Issue 24 #4: DDL run directly on the primary (a migration tool), which PgGate never sees, while
// clients share PgGate's server-side prepared statements. Each scenario runs twice: straight
// against the primary (the oracle: what a dedicated connection gives) and through PgGate
// (transaction pooling, read/write split, 2 connections per node); the answers must be equal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import postgres from "postgres";
import { Bind, Close, Describe, errorOf, Execute, Parse, Query, Sync, type Message } from "../frames.ts";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";
import { rawMd5Login, roundTrip } from "./raw-login.ts";

let gw: RunningGateway;

beforeAll(() => {
  gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 2 }, routing: { read_write_split: true } });
});

afterAll(async () => {
  await gw.stop();
});

/** Runs `sql` on the primary directly (PgGate never sees it), then waits for the replicas to replay it. */
async function outOfBand(sql: string): Promise<void> {
  const cl = cluster();
  await cl.psql(cl.primary, sql, "app");
  await cl.waitForReplay();
}

/** (Re-)creates `table` with one row, x = 1, readable by every test user. */
const create = (table: string): Promise<void> =>
  outOfBand(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (x int); INSERT INTO ${table} VALUES (1); GRANT ALL ON ${table} TO PUBLIC`);

const alter = (table: string): Promise<void> => outOfBand(`ALTER TABLE ${table} ALTER COLUMN x TYPE text USING x::text || 'a'`);

/** A query's outcome as a comparable string: its value, or its SQLSTATE, or what the driver threw. */
function outcome(value: unknown): string {
  return JSON.stringify(value);
}

function failure(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code ? `error ${err.code}` : `driver threw: ${err.message}`;
}

async function times(n: number, run: () => Promise<string>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await run());
  return out;
}

describe("postgres.js (re-prepares on 0A000 and retries once)", () => {
  /** The steps on `port`: each phase with a brand-new client, the table dropped and made again between. */
  async function scenario(port: number): Promise<string[][]> {
    const u = cluster().users.scram;
    const phases: string[][] = [];
    for (let round = 0; round < 2; round++) {
      await create("oob_js");
      const sql = postgres({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", max: 4, onnotice: () => {} });
      const select = () => sql`select x from oob_js`.then((r) => outcome(r[0].x), failure);
      try {
        phases.push(await times(8, select));
        await alter("oob_js");
        phases.push(await times(8, select));
      } finally {
        await sql.end();
      }
    }
    return phases;
  }

  test("a column type changed directly on the primary: every later query returns the new value, as straight to PostgreSQL, and a new client after the table is made again gets no 0A000", async () => {
    const direct = await scenario(cluster().primary.port);
    expect(direct).toEqual([Array(8).fill("1"), Array(8).fill('"1a"'), Array(8).fill("1"), Array(8).fill('"1a"')]);
    expect(await scenario(gw.port)).toEqual(direct);
  }, 20_000);
});

describe("node-postgres with a named statement (never re-prepares it)", () => {
  /**
   * Client a prepares before the change, b after it, c after the table is made again; a and b
   * go on using their statement. A dedicated connection fails a statement from the change on,
   * and never one parsed after it.
   */
  async function scenario(port: number): Promise<Record<string, string[]>> {
    const u = cluster().users.scram;
    const connect = async () => {
      const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
      await c.connect();
      return c;
    };
    const q = (c: pg.Client) => () => c.query({ name: "q", text: "select x from oob_pg" }).then((r) => outcome(r.rows[0].x), failure);
    await create("oob_pg");
    const a = await connect();
    const b = await connect();
    const c = await connect();
    try {
      const out: Record<string, string[]> = {};
      out.aBefore = await times(4, q(a));
      await alter("oob_pg");
      out.aAfter = await times(4, q(a));
      out.b = await times(4, q(b));
      await create("oob_pg");
      out.bRecreated = await times(4, q(b));
      out.c = await times(4, q(c));
      out.aRecreated = await times(2, q(a));
      return out;
    } finally {
      await Promise.all([a.end(), b.end(), c.end()]);
    }
  }

  test("old statements fail with 0A000 on every use, statements parsed after the change never do", async () => {
    const direct = await scenario(cluster().primary.port);
    expect(direct).toMatchObject({ aBefore: Array(4).fill("1"), aAfter: Array(4).fill("error 0A000"), b: Array(4).fill('"1a"'), c: Array(4).fill("1") });
    expect(await scenario(gw.port)).toEqual(direct);
  }, 20_000);
});

/** What a message sequence looks like for comparison: types, with the SQLSTATE of errors and the status of ReadyForQuery. */
function shape(ms: Message[]): string[] {
  return ms.map((m) => (m.type === "E" ? `E:${errorOf(m.body).code}` : m.type === "Z" ? `Z:${String.fromCharCode(m.body[0])}` : m.type));
}

/**
 * Why `replies` cannot be PostgreSQL's answer to the extended-protocol `requests` (one reply per
 * message in order — ParseComplete, BindComplete, CloseComplete, ParameterDescription then
 * RowDescription/NoData, rows then CommandComplete — until an ErrorResponse, after which the
 * server skips to the Sync; one ReadyForQuery per Sync), or null.
 */
function violation(requests: string[], replies: string[]): string | null {
  let i = 0;
  const take = (want: RegExp, what: string): string | null => {
    const got = replies[i];
    if (got === undefined || !want.test(got)) return `expected ${what} at reply ${i}, got ${got ?? "nothing"} (${replies.join(" ")})`;
    i++;
    return null;
  };
  let failed = false;
  for (const r of requests) {
    if (r === "S") {
      const why = take(failed ? /^Z:[IE]$/ : /^Z:[ITE]$/, "ReadyForQuery");
      if (why) return why;
      failed = false;
      continue;
    }
    if (failed) continue;
    if (replies[i]?.startsWith("E:")) {
      i++;
      failed = true;
      continue;
    }
    const why =
      r === "P" ? take(/^1$/, "ParseComplete")
      : r === "B" ? take(/^2$/, "BindComplete")
      : r === "C" ? take(/^3$/, "CloseComplete")
      : r === "DS" ? take(/^t$/, "ParameterDescription") ?? endOr(/^[Tn]$/, "RowDescription or NoData")
      : r === "E" ? rows()
      : `unknown request ${r}`;
    if (why) return why;
  }
  return i === replies.length ? null : `${replies.length - i} replies nobody asked for: ${replies.slice(i).join(" ")}`;

  /** The message's last reply, or the error that ends its batch instead. */
  function endOr(want: RegExp, what: string): string | null {
    if (replies[i]?.startsWith("E:")) {
      i++;
      failed = true;
      return null;
    }
    return take(want, what);
  }

  function rows(): string | null {
    while (replies[i] === "D") i++;
    return endOr(/^[CIs]$/, "CommandComplete");
  }
}

describe("the bytes a client receives", () => {
  const read = (name: string) => [Parse(name, "select x from oob_raw"), Describe("S", name), Bind("", name), Execute(""), Sync()];
  const readKinds = ["P", "DS", "B", "E", "S"];
  const use = (name: string) => [Bind("", name), Execute(""), Sync()];
  const useKinds = ["B", "E", "S"];

  /**
   * What postgres.js and a careful client send around the change, on `port`: a client that
   * prepared before it (uses, re-prepares under a new name and under its old name), and a
   * client that first prepares after it. Returns each batch's reply sequence, checked against
   * the protocol's grammar on the way.
   */
  async function scenario(port: number): Promise<string[][]> {
    await create("oob_raw");
    if (port === gw.port) port = primaryOnly.port;
    const old = await rawMd5Login(port, "app");
    const other = await rawMd5Login(port, "app");
    const out: string[][] = [];
    const batch = async (c: typeof old, kinds: string[], frames: Uint8Array[]) => {
      const replies = shape((await roundTrip(c, ...frames)).filter((m) => m.type !== "N" && m.type !== "S"));
      expect(violation(kinds, replies)).toBeNull();
      out.push(replies);
    };
    try {
      // Both pooled connections of a node get a copy: two clients each inside a transaction.
      for (const c of [old, other]) expect(shape(await roundTrip(c, Query("BEGIN")))).toEqual(["C", "Z:T"]);
      for (const c of [old, other]) await batch(c, readKinds, read("s1"));
      for (const c of [old, other]) expect(shape(await roundTrip(c, Query("COMMIT")))).toEqual(["C", "Z:I"]);
      await batch(old, useKinds, use("s1"));
      await alter("oob_raw");
      const fresh = await rawMd5Login(port, "app");
      try {
        await batch(fresh, readKinds, read("f1"));
        await batch(fresh, useKinds, use("f1"));
        await batch(old, useKinds, use("s1"));
        await batch(old, useKinds, use("s1"));
        await batch(old, readKinds, read("s2"));
        await batch(old, useKinds, use("s2"));
        await batch(old, ["C", ...readKinds], [Close("S", "s1"), ...read("s1")]);
        await batch(old, useKinds, use("s1"));
        await batch(other, useKinds, use("s1"));
      } finally {
        fresh.close();
      }
    } finally {
      old.close();
      other.close();
    }
    return out;
  }

  // Without the read/write split every batch runs on the primary's two connections, so the
  // client preparing after the change is sure to land on a copy made before it.
  let primaryOnly: RunningGateway;
  beforeAll(() => {
    primaryOnly = startGateway({ auth: { mode: "auth_query" }, pool: { size: 2 }, routing: { read_write_split: false } });
  });
  afterAll(async () => {
    await primaryOnly.stop();
  });

  test("are what PostgreSQL sends for the same messages, reply for reply", async () => {
    const direct = await scenario(cluster().primary.port);
    // The oracle itself: a fresh statement just works, an old one fails until prepared again.
    expect(direct[3]).toEqual(["1", "t", "T", "2", "D", "C", "Z:I"]);
    expect(direct[5]).toEqual(["E:0A000", "Z:I"]);
    const viaPgGate = await scenario(gw.port);
    expect(viaPgGate).toEqual(direct);
  }, 20_000);

  test("the grammar check itself rejects what PostgreSQL never sends", () => {
    expect(violation(["P", "DS", "B", "E", "S"], ["1", "t", "T", "2", "D", "C", "Z:I"])).toBeNull();
    expect(violation(["B", "E", "S"], ["E:0A000", "Z:I"])).toBeNull();
    expect(violation(["B", "E", "S"], ["1", "2", "D", "C", "Z:I"])).not.toBeNull();
    expect(violation(["B", "E", "S"], ["2", "D", "C", "Z:I", "Z:I"])).not.toBeNull();
    expect(violation(["B", "E", "S"], ["2", "Z:E"])).not.toBeNull();
  });
});
