// Issue 13 #1: prepared statements across schema changes. A client never receives rows whose
// shape differs from the RowDescription it was given for its statement; a statement parsed after
// DDL never lands on a server copy parsed before it. Real servers, raw clients that decode every
// row against the description they hold, and real drivers (pg, postgres.js).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import postgres from "postgres";
import { cat, Close, cstr, Describe, errorOf, Execute, i16, messages, Parse, Sync, typed, type Message } from "../frames.ts";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";
import type { RawClient } from "./raw-client.ts";
import { rawMd5Login, roundTrip } from "./raw-login.ts";

const INT4 = 23;
const INT8 = 20;
const TEXT = 25;

interface Column {
  name: string;
  type: number;
}

/** Bind of a parameterless statement asking for every result column in binary. */
const bindBinary = (stmt: string): Uint8Array => typed("B", cstr(""), cstr(stmt), i16(0), i16(0), i16(1), i16(1));

function columnsOf(body: Uint8Array): Column[] {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const n = dv.getInt16(0);
  const cols: Column[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    const nul = body.indexOf(0, o);
    const name = new TextDecoder().decode(body.subarray(o, nul));
    o = nul + 1;
    const type = dv.getInt32(o + 6);
    o += 18;
    cols.push({ name, type });
  }
  return cols;
}

function valuesOf(body: Uint8Array): (Uint8Array | null)[] {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const n = dv.getInt16(0);
  const out: (Uint8Array | null)[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    const len = dv.getInt32(o);
    o += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.subarray(o, o + len));
      o += len;
    }
  }
  return out;
}

/** Why a binary DataRow does not match `cols` (the client's RowDescription), or null. */
function mismatch(cols: Column[], body: Uint8Array): string | null {
  const values = valuesOf(body);
  if (values.length !== cols.length) return `row of ${values.length} columns, described ${cols.length}`;
  for (let i = 0; i < cols.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const t = cols[i].type;
    if (t === INT4 && v.length !== 4) return `${cols[i].name}: int4 of ${v.length} bytes`;
    if (t === INT8 && v.length !== 8) return `${cols[i].name}: int8 of ${v.length} bytes`;
    if (t === TEXT && !/^[0-9e]+$/.test(new TextDecoder().decode(v))) return `${cols[i].name}: text ${JSON.stringify([...v])}`;
  }
  return null;
}

/**
 * (Re-)prepares `name` and returns the columns the client is told. A DDL committing between the
 * Parse and the Describe fails the Describe with 0A000 on a dedicated connection too: try again,
 * as drivers do.
 */
async function prepare(c: RawClient, name: string, sql: string): Promise<Column[]> {
  for (let attempt = 0; ; attempt++) {
    const out = await roundTrip(c, Close("S", name), Parse(name, sql), Describe("S", name), Sync());
    const err = out.find((m) => m.type === "E");
    if (!err) {
      const t = out.find((m) => m.type === "T");
      return t ? columnsOf(t.body) : [];
    }
    const e = errorOf(err.body);
    if (e.code !== "0A000" || attempt >= 5) throw new Error(`prepare failed: ${JSON.stringify(e)}`);
  }
}

async function execute(c: RawClient, name: string): Promise<Message[]> {
  return roundTrip(c, bindBinary(name), Execute(""), Sync());
}

let gw: RunningGateway;

beforeAll(() => {
  // One server connection: every client shares it, and which copy of a statement is used is known.
  gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 }, routing: { read_write_split: false } });
});

afterAll(async () => {
  await gw.stop();
});

async function table(name: string, ddl: string): Promise<void> {
  const cl = cluster();
  // Owned by the scram user, whose clients alter it through PgGate.
  await cl.psql(cl.primary, `DROP TABLE IF EXISTS ${name}; ${ddl}; GRANT ALL ON ${name} TO PUBLIC; ALTER TABLE ${name} OWNER TO ${cl.users.scram.user};`, "app");
}

/**
 * Runs `sql` on the primary directly, then ends PgGate's server connections of the md5 user: the
 * next use of a statement re-prepares it on a new connection, against the new schema.
 */
async function behindPgGate(sql: string): Promise<void> {
  const cl = cluster();
  const backends = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${cl.users.md5.user}' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`;
  await cl.psql(cl.primary, `${sql}; ${backends}`, "app");
  await Bun.sleep(300);
}

describe("a described statement prepared again after a schema change", () => {
  test("on a new server connection: 0A000 as on a dedicated connection, never rows of the new shape; a fresh prepare then works", async () => {
    await table("ddl_a", "CREATE TABLE ddl_a (v int); INSERT INTO ddl_a VALUES (7)");
    const c = await rawMd5Login(gw.port, "app");
    try {
      const cols = await prepare(c, "s1", "SELECT v FROM ddl_a");
      expect(cols).toEqual([{ name: "v", type: INT4 }]);
      const first = await execute(c, "s1");
      expect(first.filter((m) => m.type === "D").map((m) => mismatch(cols, m.body))).toEqual([null]);
      // The schema changes behind PgGate's back, and the server connection holding the
      // statement goes away: the next use re-prepares it elsewhere, against the new schema.
      await behindPgGate("ALTER TABLE ddl_a ALTER COLUMN v TYPE bigint");
      for (let i = 0; i < 2; i++) {
        // Every use fails while the client holds the old description (PostgreSQL keeps failing too).
        const stale = await execute(c, "s1");
        expect(stale.some((m) => m.type === "D")).toBe(false);
        const e = stale.find((m) => m.type === "E");
        expect(e && errorOf(e.body)).toMatchObject({ code: "0A000", message: "cached plan must not change result type" });
        expect(stale.at(-1)!.type).toBe("Z");
      }
      const fresh = await prepare(c, "s1", "SELECT v FROM ddl_a");
      expect(fresh).toEqual([{ name: "v", type: INT8 }]);
      const rows = await execute(c, "s1");
      expect(rows.filter((m) => m.type === "D").map((m) => mismatch(fresh, m.body))).toEqual([null]);
    } finally {
      c.close();
    }
  });

  test("inside a transaction the substituted 0A000 aborts it on the server too: COMMIT answers ROLLBACK and nothing was written", async () => {
    const cl = cluster();
    await table("ddl_b", "CREATE TABLE ddl_b (v int); INSERT INTO ddl_b VALUES (1)");
    const c = await rawMd5Login(gw.port, "app");
    try {
      const cols = await prepare(c, "w1", "UPDATE ddl_b SET v = v + 1 RETURNING v");
      expect(cols).toEqual([{ name: "v", type: INT4 }]);
      await behindPgGate("ALTER TABLE ddl_b ALTER COLUMN v TYPE text");
      await cl.psql(cl.primary, "ALTER TABLE ddl_b ALTER COLUMN v TYPE int USING v::int; ALTER TABLE ddl_b ALTER COLUMN v TYPE bigint", "app");
      const begin = await roundTrip(c, typed("Q", cstr("BEGIN")));
      expect(begin.at(-1)!.type).toBe("Z");
      const stale = await execute(c, "w1");
      expect(stale.some((m) => m.type === "D")).toBe(false);
      expect(errorOf(stale.find((m) => m.type === "E")!.body).code).toBe("0A000");
      // ReadyForQuery says the transaction failed, as the server's own state says.
      expect(new TextDecoder().decode(stale.at(-1)!.body)).toBe("E");
      const commit = await roundTrip(c, typed("Q", cstr("COMMIT")));
      const tag = commit.find((m) => m.type === "C")!;
      expect(new TextDecoder().decode(tag.body.subarray(0, tag.body.length - 1))).toBe("ROLLBACK");
      expect((await cl.psql(cl.primary, "SELECT v FROM ddl_b", "app")).trim()).toBe("1");
    } finally {
      c.close();
    }
  });
});

describe("a batch waiting for a statement's shape", () => {
  test("holds back the pipelined batches after it: a write behind a replica read still goes to the primary", async () => {
    const cl = cluster();
    await table("ddl_p", "CREATE TABLE ddl_p (v int); INSERT INTO ddl_p VALUES (1)");
    await cl.waitForReplay();
    const split = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
    const c = await rawMd5Login(split.port, "app");
    try {
      const cols = await prepare(c, "r1", "SELECT v FROM ddl_p");
      expect(cols).toEqual([{ name: "v", type: INT4 }]);
      expect((await execute(c, "r1")).some((m) => m.type === "D")).toBe(true);
      // The replicas' connections go away: the next use of r1 re-prepares it and checks its shape.
      for (const r of cl.replicas) {
        await cl.psql(r, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${cl.users.md5.user}' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`);
      }
      await Bun.sleep(300);
      c.received.length = 0;
      // A long read first, so the batch using r1 follows on a replica connection still busy with it
      // (not a batch held for replay, which nothing overtakes anyway).
      await c.write(cat(typed("Q", cstr("SELECT repeat($$x$$, 200) FROM generate_series(1, 20000)")), bindBinary("r1"), Execute(""), Sync(), typed("Q", cstr("INSERT INTO ddl_p VALUES (2) RETURNING inet_server_port() AS port"))));
      expect(await c.waitFor((b) => messages(b).filter((m) => m.type === "Z").length >= 3)).toBe(true);
      const all = messages(c.bytes);
      const errors = all.filter((m) => m.type === "E").map((m) => errorOf(m.body));
      expect(errors).toEqual([]);
      const rows = all.filter((m) => m.type === "D");
      expect(rows.length).toBe(20002);
      const port = new TextDecoder().decode(valuesOf(rows[rows.length - 1].body)[0]!);
      expect(Number(port)).toBe(cl.primary.port);
    } finally {
      c.close();
      await split.stop();
    }
  });
});

describe("a statement parsed after DDL that went through PgGate", () => {
  test("gets a fresh server copy: no 0A000 and no old parameter types on a statement the client just sent", async () => {
    await table("ddl_c", "CREATE TABLE ddl_c (v int, name text); INSERT INTO ddl_c VALUES (1, 'a')");
    const connect = async () => {
      const u = cluster().users.scram;
      const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "app" });
      await c.connect();
      return c;
    };
    const before = await connect();
    const ddl = await connect();
    const after = await connect();
    try {
      expect((await before.query({ name: "read", text: "SELECT v FROM ddl_c" })).rows).toEqual([{ v: 1 }]);
      await before.query({ name: "ins", text: "INSERT INTO ddl_c (name) VALUES ($1)", values: ["b"] });
      await ddl.query("ALTER TABLE ddl_c ALTER COLUMN v TYPE text USING 'x' || v");
      await ddl.query("ALTER TABLE ddl_c ALTER COLUMN name TYPE int USING 0");
      // The same texts, prepared afresh by a client that never saw the old schema.
      expect((await after.query({ name: "read", text: "SELECT v FROM ddl_c" })).rows[0]).toEqual({ v: "x1" });
      await after.query({ name: "ins", text: "INSERT INTO ddl_c (name) VALUES ($1)", values: [5] });
      // The client that prepared before the change gets what a dedicated connection gives it.
      const stale = await before.query({ name: "read", text: "SELECT v FROM ddl_c" }).catch((e: Error & { code?: string }) => e);
      expect((stale as { code?: string }).code).toBe("0A000");
    } finally {
      await before.end();
      await ddl.end();
      await after.end();
    }
  });

  test("postgres.js, which re-prepares on RevalidateCachedQuery, keeps working across column type changes", async () => {
    await table("ddl_d", "CREATE TABLE ddl_d (v int); INSERT INTO ddl_d VALUES (3)");
    const u = cluster().users.scram;
    // Three server connections: statements are re-prepared on connections that lack them.
    const three = startGateway({ auth: { mode: "auth_query" }, pool: { size: 3 }, routing: { read_write_split: false } });
    const sql = postgres({ host: "127.0.0.1", port: three.port, user: u.user, password: u.password, database: "app", max: 3, prepare: true, onnotice: () => {} });
    try {
      const seen: unknown[] = [];
      for (const type of ["bigint", "text", "int"]) {
        for (let i = 0; i < 6; i++) seen.push(...(await Promise.all([1, 2, 3].map(() => sql`SELECT v FROM ddl_d`))).map((r) => r[0].v));
        await sql.unsafe(`ALTER TABLE ddl_d ALTER COLUMN v TYPE ${type} USING v::${type}`);
      }
      seen.push((await sql`SELECT v FROM ddl_d`)[0].v);
      // int → bigint (postgres.js gives bigint as a string) → text → int: each value decoded by its own type.
      expect(new Set(seen.map((v) => `${typeof v}:${v}`))).toEqual(new Set(["number:3", "string:3"]));
      expect(seen.at(-1)).toBe(3);
    } finally {
      await sql.end();
      await three.stop();
    }
  });
});

describe("DDL churn", () => {
  test("20 clients with named statements through a pool of 4 while another alters the table every 100 ms: every row matches the client's RowDescription; the only error is 0A000", async () => {
    const cl = cluster();
    await table("ddl_churn", "CREATE TABLE ddl_churn (id int, v int); INSERT INTO ddl_churn SELECT g, g * 10 FROM generate_series(1, 3) g");
    await cl.waitForReplay();
    const churnGw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 4 } });
    const sqlText = "SELECT * FROM ddl_churn ORDER BY id";
    const u = cl.users.scram;
    const alterer = new pg.Client({ host: "127.0.0.1", port: churnGw.port, user: u.user, password: u.password, database: "app" });
    const alters = [
      "ALTER TABLE ddl_churn ALTER COLUMN v TYPE bigint",
      "ALTER TABLE ddl_churn ALTER COLUMN v TYPE text USING v::text",
      "ALTER TABLE ddl_churn ADD COLUMN extra text DEFAULT 'e'",
      "ALTER TABLE ddl_churn ALTER COLUMN v TYPE int USING v::int",
      "ALTER TABLE ddl_churn DROP COLUMN extra",
    ];
    const problems: string[] = [];
    let rowsChecked = 0;
    let stale = 0;
    let altered = 0;
    try {
      await alterer.connect();
      const clients = await Promise.all(Array.from({ length: 20 }, () => rawMd5Login(churnGw.port, "app")));
      const until = Date.now() + 3000;
      const alterLoop = (async () => {
        while (Date.now() < until) {
          await alterer.query(alters[altered++ % alters.length]);
          await Bun.sleep(100);
        }
      })();
      const work = clients.map(async (c) => {
        let cols = await prepare(c, "churn", sqlText);
        while (Date.now() < until) {
          const out = await execute(c, "churn");
          for (const m of out) {
            if (m.type === "D") {
              rowsChecked++;
              const why = mismatch(cols, m.body);
              if (why) problems.push(why);
            } else if (m.type === "E") {
              const e = errorOf(m.body);
              if (e.code !== "0A000") problems.push(`${e.code} ${e.message}`);
              stale++;
              cols = await prepare(c, "churn", sqlText);
            }
          }
        }
      });
      await Promise.all([alterLoop, ...work]);
      for (const c of clients) c.close();
    } finally {
      await alterer.end().catch(() => {});
      await churnGw.stop();
    }
    console.log(`ddl churn: ${altered} alters, ${rowsChecked} rows checked, ${stale} 0A000 answers`);
    expect(problems).toEqual([]);
    expect(altered).toBeGreaterThanOrEqual(10);
    expect(rowsChecked).toBeGreaterThan(100);
  });
});

