// Issue 26 item 3: LISTEN / NOTIFY without pinning. A client's LISTEN is answered by PgGate and
// held by one listening connection per (cluster, database, user); notifications reach exactly the
// subscribed clients, in commit order, between their transactions; transactions decide whether a
// LISTEN happened; the queue-library pattern (LISTEN + FOR UPDATE SKIP LOCKED) works pooled.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { Bind, cat, Describe, Execute, messages, Parse, Query, Sync, type Message } from "../frames.ts";
import { cluster, startGateway, waitUntil, type RunningGateway } from "./harness.ts";
import type { RawClient } from "./raw-client.ts";
import { rawMd5Login, roundTrip } from "./raw-login.ts";

const scram = () => cluster().users.scram;
const md5 = () => cluster().users.md5;

function pgClient(port: number): pg.Client {
  const u = scram();
  return new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
}

/** Runs SQL on the primary directly (as the superuser): what PgGate cannot make up. */
async function onPrimary(sql: string): Promise<string> {
  const c = cluster();
  return (await c.psql(c.primary, sql, "app")).trim();
}

/** Client backends of `user` on database app, as the primary counts them. */
async function backendsOf(user: string): Promise<number> {
  return Number(await onPrimary(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${user}' AND datname = 'app' AND backend_type = 'client backend'`));
}

/** The listening connection's last statement, for the user's hub ("<none>" when there is none). */
async function hubLastQuery(user: string): Promise<string> {
  return onPrimary(`SELECT coalesce(string_agg(query, ','), '<none>') FROM pg_stat_activity WHERE usename = '${user}' AND application_name = 'pggate_listen'`);
}

interface Note {
  pid: number;
  channel: string;
  payload: string;
}

function notificationsIn(ms: readonly Message[]): Note[] {
  const out: Note[] = [];
  const dec = new TextDecoder();
  for (const m of ms) {
    if (m.type !== "A") continue;
    const b = m.body;
    const pid = new DataView(b.buffer, b.byteOffset, 4).getInt32(0);
    const z1 = b.indexOf(0, 4);
    const z2 = b.indexOf(0, z1 + 1);
    out.push({ pid, channel: dec.decode(b.subarray(4, z1)), payload: dec.decode(b.subarray(z1 + 1, z2)) });
  }
  return out;
}

function collect(c: pg.Client): Note[] {
  const got: Note[] = [];
  c.on("notification", (n) => got.push({ pid: n.processId, channel: n.channel, payload: n.payload ?? "" }));
  return got;
}

let g: RunningGateway;

beforeAll(() => {
  g = startGateway({ pool: { size: 5 } });
});

afterAll(async () => {
  await g.stop();
});

describe("LISTEN through the hub", () => {
  test("500 raw listeners on pool.size 5 use 5 + 1 server connections; each NOTIFY reaches exactly its channel, in commit order", async () => {
    const CHANNELS = 10;
    const N = 500;
    const clients: RawClient[] = [];
    for (let i = 0; i < N; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => rawMd5Login(g.port, "app")));
      clients.push(...batch);
    }
    // Each LISTENs to its channel (the first quoted, mixed case kept) and runs a query, pooled.
    const chan = (i: number) => (i % CHANNELS === 0 ? "Big Ch" : `ch_${i % CHANNELS}`);
    // The most server connections of the user at any moment while they LISTEN and query.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await backendsOf(md5().user));
        await Bun.sleep(20);
      }
    })();
    await Promise.all(
      clients.map(async (c, i) => {
        const sql = i % CHANNELS === 0 ? `LISTEN "Big Ch"` : `listen CH_${i % CHANNELS}`;
        const r = await roundTrip(c, Query(sql));
        expect(r.map((m) => m.type).join("")).toBe("CZ");
        const q = await roundTrip(c, Query("SELECT 1 /* pggate:primary */"));
        expect(q.at(-1)!.type).toBe("Z");
      }),
    );
    // Then 50 of them at once with queries long enough that all 5 pooled connections are busy.
    await Promise.all(clients.slice(0, 50).map(async (c) => expect((await roundTrip(c, Query("SELECT pg_sleep(0.1) /* pggate:primary */"))).at(-1)!.type).toBe("Z")));
    sampling = false;
    await sampler;
    peak = Math.max(peak, await backendsOf(md5().user));
    console.log(`server connections on the primary for ${N} listeners (pool.size 5): at most ${peak}`);
    expect(peak).toBeLessThanOrEqual(6);
    expect(peak).toBeGreaterThan(1);
    expect(await hubLastQuery(md5().user)).not.toBe("<none>");

    // NOTIFYs from a pg client: autocommit, with payload, in transactions, and rolled back.
    const producer = pgClient(g.port);
    await producer.connect();
    const sent: Note[] = [];
    try {
      for (let k = 0; k < 30; k++) {
        const channel = chan(k);
        const payload = `p${k}`;
        if (k % 3 === 0) {
          await producer.query("SELECT pg_notify($1, $2)", [channel, payload]);
          sent.push({ pid: 0, channel, payload });
        } else if (k % 3 === 1) {
          await producer.query("BEGIN");
          await producer.query(`NOTIFY "${channel}", '${payload}'`);
          await producer.query(`NOTIFY "${channel}", '${payload}-2'`);
          await producer.query("COMMIT");
          sent.push({ pid: 0, channel, payload }, { pid: 0, channel, payload: `${payload}-2` });
        } else {
          await producer.query("BEGIN");
          await producer.query(`NOTIFY "${channel}", 'rolled back'`);
          await producer.query("ROLLBACK");
        }
      }
      const expected = (i: number) => sent.filter((n) => n.channel === chan(i)).map((n) => n.payload);
      await waitUntil("every listener got its notifications", () => clients.every((c, i) => notificationsIn(messages(c.bytes)).length >= expected(i).length), 15_000);
      await Bun.sleep(200);
      let total = 0;
      for (let i = 0; i < N; i++) {
        const got = notificationsIn(messages(clients[i].bytes));
        expect(got.every((n) => n.channel === chan(i))).toBe(true);
        expect(got.map((n) => n.payload)).toEqual(expected(i));
        total += got.length;
      }
      console.log(`notifications sent: ${sent.length} (+10 rolled back); delivered: ${total}`);
    } finally {
      await producer.end();
      for (const c of clients) c.close();
    }
    // Every listener left: the hub UNLISTENs (and later closes).
    await waitUntil("the hub unlistened", async () => /UNLISTEN|<none>/.test(await hubLastQuery(md5().user)), 10_000);
  }, 30_000);

  test("a driver's client.on('notification') works pooled, not pinned; own NOTIFY carries its BackendKeyData pid", async () => {
    const a = pgClient(g.port);
    const b = pgClient(g.port);
    await a.connect();
    await b.connect();
    try {
      const got = collect(a);
      await a.query("LISTEN drv");
      await a.query("NOTIFY drv, 'own'");
      await b.query("NOTIFY drv, 'other'");
      await waitUntil("both arrived", () => got.length >= 2);
      const own = (a as unknown as { processID: number }).processID;
      expect(got.map((n) => n.payload)).toEqual(["own", "other"]);
      expect(got[0].pid).toBe(own);
      expect(got[1].pid).not.toBe(own);
      // Pooled: no pin, no server connection held while idle.
      const me = [...g.gateway.ctx.clients].find((c) => (c as unknown as { processId: number }).processId === own);
      expect(me).toBeDefined();
      expect(me?.pinReason ?? null).toBeNull();
      expect(me?.serverId ?? null).toBeNull();
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("transactions: a rolled-back LISTEN does not subscribe, a committed one does; notifications wait for the transaction's end", async () => {
    const a = pgClient(g.port);
    const b = pgClient(g.port);
    await a.connect();
    await b.connect();
    try {
      const got = collect(a);
      await a.query("BEGIN");
      await a.query("LISTEN tx_rolled");
      await a.query("ROLLBACK");
      await a.query("BEGIN");
      await a.query("LISTEN tx_committed");
      await a.query("SELECT 1");
      await a.query("COMMIT");
      // A LISTEN in a transaction that then fails is not subscribed either.
      await a.query("BEGIN");
      await a.query("LISTEN tx_failed");
      await a.query("SELECT 1/0").catch(() => null);
      const aborted = await a.query("LISTEN tx_failed2").catch((e: pg.DatabaseError) => e);
      expect((aborted as pg.DatabaseError).code).toBe("25P02");
      await a.query("COMMIT");
      // UNLISTEN rolled back keeps the subscription.
      await a.query("BEGIN");
      await a.query("UNLISTEN tx_committed");
      await a.query("ROLLBACK");

      await b.query("NOTIFY tx_rolled, 'no'");
      await b.query("NOTIFY tx_failed, 'no'");
      await b.query("NOTIFY tx_committed, 'yes'");
      await waitUntil("committed LISTEN delivers", () => got.length >= 1);

      // Inside a transaction nothing is delivered; right after COMMIT it is.
      await a.query("BEGIN");
      await a.query("SELECT 1");
      await b.query("NOTIFY tx_committed, 'after commit'");
      await Bun.sleep(300);
      await a.query("SELECT 2");
      expect(got.map((n) => n.payload)).toEqual(["yes"]);
      await a.query("COMMIT");
      await waitUntil("delivered after COMMIT", () => got.length >= 2);
      await Bun.sleep(100);
      expect(got.map((n) => `${n.channel}:${n.payload}`)).toEqual(["tx_committed:yes", "tx_committed:after commit"]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("UNLISTEN, UNLISTEN * and disconnect unsubscribe; the hub UNLISTENs when the last client leaves", async () => {
    const a = pgClient(g.port);
    const b = pgClient(g.port);
    const n = pgClient(g.port);
    await Promise.all([a.connect(), b.connect(), n.connect()]);
    const gotA = collect(a);
    const gotB = collect(b);
    try {
      await a.query("LISTEN u1; LISTEN u2");
      await b.query("LISTEN u1");
      await a.query("UNLISTEN u1");
      await n.query("NOTIFY u1, 'one'; NOTIFY u2, 'two'");
      await waitUntil("delivered", () => gotA.length >= 1 && gotB.length >= 1);
      await a.query("UNLISTEN *");
      await n.query("NOTIFY u2, 'gone'");
      await b.end();
      await waitUntil("the hub UNLISTENed u1 after the last listener left", async () => (await hubLastQuery(scram().user)).includes('UNLISTEN "u1"'), 10_000);
      await n.query("NOTIFY u1, 'nobody'");
      await a.query("SELECT 1");
      await Bun.sleep(200);
      expect(gotA.map((x) => `${x.channel}:${x.payload}`)).toEqual(["u2:two"]);
      expect(gotB.map((x) => `${x.channel}:${x.payload}`)).toEqual(["u1:one"]);
    } finally {
      await a.end();
      await n.end();
    }
  });

  test("extended protocol LISTEN, channel names as PostgreSQL reads them, and LISTEN among other statements", async () => {
    const c = await rawMd5Login(g.port, "app");
    const p = pgClient(g.port);
    await p.connect();
    try {
      const ext = await roundTrip(c, cat(Parse("", "LISTEN ext_ch"), Bind("", ""), Describe("P", ""), Execute(""), Sync()));
      expect(ext.map((m) => m.type).join("")).toBe("12nCZ");
      // The replies PostgreSQL gives (checked against the primary directly when this was written).
      const extS = await roundTrip(c, cat(Parse("", "LISTEN ext_ch"), Describe("S", ""), Bind("", ""), Describe("P", ""), Execute(""), Sync()));
      expect(extS.map((m) => m.type).join("")).toBe("1tn2nCZ");
      await roundTrip(c, Query("BEGIN"));
      await roundTrip(c, Query("SELECT 1/0"));
      const failed = await roundTrip(c, Query(`LISTEN ${"y".repeat(70)}`));
      expect(failed.map((m) => m.type).join("")).toBe("NEZ");
      expect(failed.at(-1)!.body[0]).toBe("E".charCodeAt(0));
      await roundTrip(c, Query("ROLLBACK"));
      const long = "x".repeat(70);
      const t = await roundTrip(c, Query(`LISTEN "MiXed"; LISTEN ${long}`));
      // PostgreSQL parses the whole string first: the truncation NOTICE comes before both results.
      expect(t.map((m) => m.type).join("")).toBe("NCCZ");
      await p.query(`NOTIFY ext_ch, 'e'; NOTIFY mixed, 'folded: not this one'; NOTIFY "MiXed", 'm'; NOTIFY ${"x".repeat(63)}, 't'`);
      expect(await c.waitFor((b) => notificationsIn(messages(b)).length >= 3)).toBe(true);
      await Bun.sleep(100);
      expect(notificationsIn(messages(c.bytes)).map((n) => `${n.channel}:${n.payload}`)).toEqual(["ext_ch:e", "MiXed:m", `${"x".repeat(63)}:t`]);

      // Among other statements the LISTEN runs on the server too (the client is pinned as
      // before) and still counts once: the hub delivers, the backend's copy is dropped.
      const got = collect(p);
      await p.query("LISTEN mixed_ch; SELECT 1");
      await p.query("NOTIFY mixed_ch, 'once'");
      await waitUntil("delivered", () => got.length >= 1);
      await p.query("SELECT 1");
      await Bun.sleep(200);
      expect(got.map((n) => n.payload)).toEqual(["once"]);
      await p.query("UNLISTEN mixed_ch");
      await p.query("NOTIFY mixed_ch, 'not any more'");
      await Bun.sleep(200);
      await p.query("SELECT 1");
      expect(got.map((n) => n.payload)).toEqual(["once"]);
    } finally {
      c.close();
      await p.end();
    }
  });

  test("the listening connection lost: its listeners get FATAL 08006 and are closed; others carry on; the next LISTEN opens a new one", async () => {
    const a = pgClient(g.port);
    const bystander = pgClient(g.port);
    const n = pgClient(g.port);
    await Promise.all([a.connect(), bystander.connect(), n.connect()]);
    try {
      const errors: pg.DatabaseError[] = [];
      a.on("error", (e) => errors.push(e as pg.DatabaseError));
      await a.query("LISTEN lost_ch");
      const killed = await onPrimary(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '${scram().user}' AND application_name = 'pggate_listen'`);
      expect(killed).toBe("1");
      await waitUntil("the listener was told", () => errors.length > 0);
      expect(errors[0].code).toBe("08006");
      expect(errors[0].message).toContain("listening connection");
      expect((await bystander.query("SELECT 1 AS one")).rows[0].one).toBe(1);

      const b = pgClient(g.port);
      await b.connect();
      try {
        const got = collect(b);
        await b.query("LISTEN lost_ch");
        await n.query("NOTIFY lost_ch, 'after'");
        await waitUntil("a new hub delivers", () => got.length >= 1);
        expect(got[0].payload).toBe("after");
      } finally {
        await b.end();
      }
    } finally {
      await a.end().catch(() => null);
      await bystander.end();
      await n.end();
    }
  });

  test("queue pattern in transaction pooling: LISTEN + FOR UPDATE SKIP LOCKED workers process every job exactly once", async () => {
    await onPrimary("DROP TABLE IF EXISTS listen_jobs; CREATE TABLE listen_jobs (id serial PRIMARY KEY, done_by int, claims int NOT NULL DEFAULT 0); GRANT ALL ON listen_jobs TO PUBLIC; GRANT ALL ON SEQUENCE listen_jobs_id_seq TO PUBLIC");
    const JOBS = 200;
    const workers = await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const c = pgClient(g.port);
        await c.connect();
        return { c, w, done: 0, running: false, again: false };
      }),
    );
    const drain = async (wk: (typeof workers)[number]): Promise<void> => {
      if (wk.running) {
        wk.again = true;
        return;
      }
      wk.running = true;
      try {
        do {
          wk.again = false;
          for (;;) {
            await wk.c.query("BEGIN");
            const r = await wk.c.query("SELECT id FROM listen_jobs WHERE done_by IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1");
            if (r.rows.length === 0) {
              await wk.c.query("COMMIT");
              break;
            }
            await wk.c.query("UPDATE listen_jobs SET done_by = $1, claims = claims + 1 WHERE id = $2", [wk.w, r.rows[0].id]);
            await wk.c.query("COMMIT");
            wk.done++;
          }
        } while (wk.again);
      } finally {
        wk.running = false;
      }
    };
    const producer = pgClient(g.port);
    await producer.connect();
    try {
      for (const wk of workers) {
        wk.c.on("notification", () => void drain(wk));
        await wk.c.query("LISTEN jobs");
      }
      for (let i = 0; i < JOBS; i += 10) {
        await producer.query("BEGIN");
        await producer.query("INSERT INTO listen_jobs (claims) SELECT 0 FROM generate_series(1, 10)");
        await producer.query("NOTIFY jobs");
        await producer.query("COMMIT");
      }
      await waitUntil("all jobs done", async () => Number(await onPrimary("SELECT count(*) FROM listen_jobs WHERE done_by IS NOT NULL")) === JOBS, 20_000);
      await waitUntil("workers idle", () => workers.every((w) => !w.running));
      expect(await onPrimary("SELECT count(*) FILTER (WHERE claims <> 1) FROM listen_jobs")).toBe("0");
      expect(workers.reduce((n, w) => n + w.done, 0)).toBe(JOBS);
      // More than one worker took part (they were woken by the same notifications).
      expect(workers.filter((w) => w.done > 0).length).toBeGreaterThan(1);
    } finally {
      await producer.end();
      for (const w of workers) await w.c.end();
    }
  }, 30_000);
});
