// Issue 12 regressions: nothing one client does may reach another, and each client sees what a
// dedicated primary connection would show. Real clients against the shared test cluster.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { cat, errorOf, messages, Parse, Sync } from "../frames.ts";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";
import { rawMd5Login, roundTrip } from "./raw-login.ts";

const users = () => cluster().users;

function client(port: number, who: "scram" | "md5" = "scram", database = "app", extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const u = users()[who];
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database, ...extra });
  c.on("error", () => {});
  return c;
}

let gw: RunningGateway;

beforeAll(async () => {
  const c = cluster();
  await c.psql(c.primary, "DROP TABLE IF EXISTS iso_secret; CREATE TABLE iso_secret (ssn text); INSERT INTO iso_secret VALUES ('123-45-6789'); GRANT SELECT ON iso_secret TO PUBLIC;", "app");
  await c.waitForReplay();
  gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 4 } });
});

afterAll(async () => {
  await gw.stop();
});

describe("prepared statement texts do not cross users and databases", () => {
  test("a Parse that failed in one database fails again after another user prepared the same text elsewhere", async () => {
    const text = `SELECT ssn FROM iso_secret /* ${Math.random()} */`;
    const probe = await rawMd5Login(gw.port, "postgres");
    try {
      const first = await roundTrip(probe, Parse("s1", text), Sync());
      expect(first.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(errorOf(first[0].body).code).toBe("42P01");
      // Another user, in the database where the table exists, prepares the very same text.
      const app = client(gw.port, "scram", "app");
      await app.connect();
      try {
        expect((await app.query({ name: "s1", text })).rows).toEqual([{ ssn: "123-45-6789" }]);
      } finally {
        await app.end();
      }
      // PostgreSQL still rejects it in "postgres"; PgGate must not answer ParseComplete for it.
      const again = await roundTrip(probe, Parse("s1", text), Sync());
      expect(again.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(errorOf(again[0].body).code).toBe("42P01");
    } finally {
      probe.close();
    }
  });

  test("the same client re-preparing a text it had accepted is still answered (pgbench -M prepared relies on it)", async () => {
    const text = `SELECT 1 AS one /* ${Math.random()} */`;
    const c = await rawMd5Login(gw.port, "app");
    try {
      expect((await roundTrip(c, Parse("a", text), Sync())).map((m) => m.type)).toEqual(["1", "Z"]);
      expect((await roundTrip(c, Parse("b", text), Sync())).map((m) => m.type)).toEqual(["1", "Z"]);
    } finally {
      c.close();
    }
  });
});



describe("session state set inside a transaction pins, as it would on a dedicated connection", () => {
  let one: RunningGateway;
  beforeAll(() => {
    one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
  });
  afterAll(() => one.stop());

  test("a WITH HOLD cursor and a SET inside BEGIN…COMMIT stay with the client, and the next client sees neither", async () => {
    const a = client(one.port);
    await a.connect();
    try {
      await a.query("BEGIN");
      await a.query("DECLARE iso_c1 CURSOR WITH HOLD FOR SELECT 1");
      await a.query("SET work_mem = '7MB'");
      await a.query("COMMIT");
      // A plain read after the transaction: it must run where the cursor and the setting live.
      expect((await a.query("SELECT count(*)::int AS n FROM pg_cursors WHERE name = 'iso_c1'")).rows[0].n).toBe(1);
      expect((await a.query("SHOW work_mem")).rows[0].work_mem).toBe("7MB");
    } finally {
      await a.end();
    }
    const b = client(one.port);
    await b.connect();
    try {
      const r = await b.query("/* pggate:primary */ SELECT current_setting('work_mem') AS wm, (SELECT count(*)::int FROM pg_cursors) AS cursors");
      expect(r.rows[0]).toEqual({ wm: "4MB", cursors: 0 });
    } finally {
      await b.end();
    }
  });

  test("a pool library's SET default_transaction_read_only inside a transaction does not make others' writes fail", async () => {
    const a = client(one.port);
    await a.connect();
    try {
      await a.query("BEGIN");
      await a.query("SET default_transaction_read_only TO on");
      await a.query("COMMIT");
    } finally {
      await a.end();
    }
    const b = client(one.port);
    await b.connect();
    try {
      await b.query("CREATE TEMP TABLE IF NOT EXISTS iso_w (x int)");
      await b.query("INSERT INTO iso_w VALUES (1)");
    } finally {
      await b.end();
    }
  });

  for (const [what, sql, check] of [
    ["SQL PREPARE", "PREPARE iso_p AS SELECT 1", "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'iso_p'"],
    ["CREATE TEMP TABLE", "CREATE TEMP TABLE iso_t (x int)", "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'iso_t' AND relpersistence = 't'"],
    ["a session advisory lock", "SELECT pg_advisory_lock(4242)", "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND pid = pg_backend_pid()"],
  ] as const) {
    test(`${what} inside a transaction stays visible to its client and never to the next one`, async () => {
      const a = client(one.port);
      await a.connect();
      try {
        await a.query("BEGIN");
        await a.query(sql);
        await a.query("COMMIT");
        expect((await a.query(check)).rows[0].n).toBe(1);
      } finally {
        await a.end();
      }
      const b = client(one.port);
      await b.connect();
      try {
        expect((await b.query(`/* pggate:primary */ ${check}`)).rows[0].n).toBe(0);
      } finally {
        await b.end();
      }
    });
  }
});

describe("LISTEN inside a transaction (issue 26 item 3: held by the listening connection, not pinned)", () => {
  let one: RunningGateway;
  beforeAll(() => {
    one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
  });
  afterAll(() => one.stop());

  test("the client gets the channel's notifications; the pooled backend and the next client show and get none of it", async () => {
    const a = client(one.port);
    const other = client(one.port);
    await a.connect();
    await other.connect();
    const gotA: string[] = [];
    a.on("notification", (n) => gotA.push(n.payload ?? ""));
    try {
      await a.query("BEGIN");
      await a.query("LISTEN iso_chan");
      await a.query("COMMIT");
      const check = "/* pggate:primary */ SELECT count(*)::int AS n FROM pg_listening_channels() c WHERE c = 'iso_chan'";
      // The channel is the listening connection's, not the pooled backend's (README: What a client can observe).
      expect((await a.query(check)).rows[0].n).toBe(0);
      await other.query("NOTIFY iso_chan, 'for a'");
      for (let i = 0; i < 100 && gotA.length === 0; i++) await Bun.sleep(20);
      expect(gotA).toEqual(["for a"]);
    } finally {
      await a.end();
    }
    const b = client(one.port);
    await b.connect();
    const gotB: string[] = [];
    b.on("notification", (n) => gotB.push(n.payload ?? ""));
    try {
      expect((await b.query("/* pggate:primary */ SELECT count(*)::int AS n FROM pg_listening_channels() c WHERE c = 'iso_chan'")).rows[0].n).toBe(0);
      await other.query("NOTIFY iso_chan, 'for nobody'");
      await Bun.sleep(200);
      await b.query("SELECT 1");
      expect(gotB).toEqual([]);
    } finally {
      await b.end();
      await other.end();
    }
  });
});

describe("state the router cannot see", () => {
  let one: RunningGateway;
  beforeAll(() => {
    one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
  });
  afterAll(() => one.stop());

  test("a setting changed inside a DO block stays with its client; the next client of the same user has the default", async () => {
    const a = client(one.port);
    await a.connect();
    try {
      await a.query("DO $$ BEGIN PERFORM set_config('DateStyle', 'SQL, DMY', false); END $$");
      expect((await a.query("SHOW DateStyle")).rows[0].DateStyle).toBe("SQL, DMY");
    } finally {
      await a.end();
    }
    const b = client(one.port);
    await b.connect();
    try {
      expect((await b.query("/* pggate:primary */ SHOW DateStyle")).rows[0].DateStyle).toBe("ISO, MDY");
    } finally {
      await b.end();
    }
  });
});

describe("pool.mode session with read/write splitting", () => {
  let sess: RunningGateway;
  beforeAll(() => {
    sess = startGateway({ auth: { mode: "auth_query" }, pool: { mode: "session", size: 4 } });
  });
  afterAll(() => sess.stop());

  test("a session whose first statement is a read can still write: it lives on the primary", async () => {
    const c = client(sess.port);
    await c.connect();
    try {
      const first = await c.query("SELECT inet_server_port() AS port");
      expect(first.rows[0].port).toBe(cluster().primary.port);
      await c.query("CREATE TEMP TABLE iso_sess (x int)");
      await c.query("INSERT INTO iso_sess VALUES (1)");
      expect((await c.query("SELECT count(*)::int AS n FROM iso_sess")).rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
  });
});

describe("RESET returns to the client's startup values, as on a dedicated connection", () => {
  const startup = { options: "-c DateStyle=Postgres,MDY -c TimeZone=PST8PDT" };
  for (const [what, sql] of [
    ["RESET datestyle", "SET datestyle = ISO; RESET datestyle"],
    ["RESET ALL", "SET datestyle = ISO; SET timezone = UTC; RESET ALL"],
    ["DISCARD ALL", "SET datestyle = ISO; SET timezone = UTC"],
  ] as const) {
    test(`${what}`, async () => {
      const c = client(gw.port, "scram", "app", startup);
      await c.connect();
      try {
        expect((await c.query("SHOW datestyle")).rows[0].DateStyle).toBe("Postgres, MDY");
        for (const stmt of sql.split("; ")) await c.query(stmt);
        if (what === "DISCARD ALL") await c.query("DISCARD ALL");
        expect((await c.query("SHOW datestyle")).rows[0].DateStyle).toBe("Postgres, MDY");
        expect((await c.query("SHOW timezone")).rows[0].TimeZone).toBe("PST8PDT");
      } finally {
        await c.end();
      }
    });
  }

  test("RESET ALL keeps the client's prepared statements working (RESET ALL does not drop them)", async () => {
    // No replicas: the statement is prepared on the very connection the RESET ALL then runs on.
    const one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 }, nodes: { replicas: [] } });
    const c = client(one.port, "scram", "app", startup);
    await c.connect();
    try {
      expect((await c.query({ name: "iso_keep", text: "SELECT 6 AS v" })).rows[0].v).toBe(6);
      await c.query("RESET ALL");
      expect((await c.query({ name: "iso_keep", text: "SELECT 6 AS v" })).rows[0].v).toBe(6);
      expect((await c.query("SHOW datestyle")).rows[0].DateStyle).toBe("Postgres, MDY");
    } finally {
      await c.end();
      await one.stop();
    }
  });

  test("DISCARD ALL by an unpinned client does not break prepared statements for the next client on that connection", async () => {
    const one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
    try {
      const a = client(one.port);
      await a.connect();
      await a.query({ name: "iso_q", text: "SELECT 41 + 1 AS v" });
      await a.query("DISCARD ALL");
      expect((await a.query({ name: "iso_q", text: "SELECT 41 + 1 AS v" })).rows[0].v).toBe(42);
      await a.end();
      const b = client(one.port);
      await b.connect();
      try {
        expect((await b.query({ name: "iso_q2", text: "SELECT 41 + 1 AS v" })).rows[0].v).toBe(42);
      } finally {
        await b.end();
      }
    } finally {
      await one.stop();
    }
  });
});

describe("one death, one FATAL", () => {
  test("a terminated backend's 57P01 reaches the client, and nothing after it", async () => {
    const c = client(gw.port);
    const errors: { code?: string; message: string }[] = [];
    c.on("error", (e: Error & { code?: string }) => errors.push({ code: e.code, message: e.message }));
    await c.connect();
    // Pinned (SET), so the backend is this client's for the test's duration.
    await c.query("SET application_name = 'iso_victim'");
    const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    const cl = cluster();
    await cl.psql(cl.primary, `SELECT pg_terminate_backend(${pid})`);
    await Bun.sleep(300);
    await c.query("SELECT 1").catch((e: Error & { code?: string }) => errors.push({ code: e.code, message: e.message }));
    await Bun.sleep(200);
    expect(errors.map((e) => e.code)).toEqual(["57P01"]);
    await c.end().catch(() => {});
  });
});

describe("SQL DEALLOCATE acts on the client's own protocol-level statements", () => {
  test("DEALLOCATE name and DEALLOCATE ALL (psycopg sends it after a ROLLBACK) answer as PostgreSQL does, and nobody else's statements break", async () => {
    const one = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 } });
    try {
      const a = client(one.port);
      const b = client(one.port);
      await a.connect();
      await b.connect();
      try {
        await a.query({ name: "iso_d1", text: "SELECT 1 AS v" });
        await b.query({ name: "iso_b1", text: "SELECT 2 AS v" });
        const r = await a.query("DEALLOCATE iso_d1");
        expect(r.command).toBe("DEALLOCATE");
        const unknown = await a.query("DEALLOCATE no_such_stmt").catch((e: Error & { code?: string }) => e);
        expect((unknown as { code?: string }).code).toBe("26000");
        await a.query("BEGIN");
        await a.query("ROLLBACK");
        expect((await a.query("DEALLOCATE ALL")).command).toBe("DEALLOCATE");
        // b's statement, prepared on the same (only) server connection, still works.
        expect((await b.query({ name: "iso_b1", text: "SELECT 2 AS v" })).rows[0].v).toBe(2);
        // a can prepare again.
        expect((await a.query({ name: "iso_d2", text: "SELECT 3 AS v" })).rows[0].v).toBe(3);
      } finally {
        await a.end();
        await b.end();
      }
    } finally {
      await one.stop();
    }
  });
});

describe("SQL DEALLOCATE ALL in a pinned session", () => {
  test("drops SQL-prepared statements on the server, and the client's protocol-level ones are prepared again on use", async () => {
    const c = client(gw.port);
    await c.connect();
    try {
      await c.query("PREPARE iso_sql AS SELECT 7 AS v"); // pins
      await c.query({ name: "iso_proto", text: "SELECT 8 AS v" });
      await c.query("DEALLOCATE ALL");
      const gone = await c.query("EXECUTE iso_sql").catch((e: Error & { code?: string }) => e);
      expect((gone as { code?: string }).code).toBe("26000");
      // A statement prepared after DEALLOCATE ALL works (PgGate prepares its copy again).
      expect((await c.query({ name: "iso_proto2", text: "SELECT 8 AS v" })).rows[0].v).toBe(8);
    } finally {
      await c.end();
    }
  });
});

describe("pool.mode session after a schema change under a prepared statement", () => {
  test("after 'cached plan must not change result type' the client can prepare the text again (no 42P05)", async () => {
    const cl = cluster();
    await cl.psql(cl.primary, "DROP TABLE IF EXISTS iso_ddl; CREATE TABLE iso_ddl (x int); INSERT INTO iso_ddl VALUES (1); GRANT ALL ON iso_ddl TO PUBLIC;", "app");
    const sess = startGateway({ auth: { mode: "auth_query" }, pool: { mode: "session", size: 2 } });
    try {
      const c = client(sess.port);
      await c.connect();
      try {
        const text = "SELECT * FROM iso_ddl";
        expect((await c.query({ name: "ddl1", text })).rows).toEqual([{ x: 1 }]);
        await cl.psql(cl.primary, "ALTER TABLE iso_ddl ALTER COLUMN x TYPE text", "app");
        const stale = await c.query({ name: "ddl1", text }).catch((e: Error & { code?: string }) => e);
        expect((stale as { code?: string }).code).toBe("0A000");
        expect((await c.query({ name: "ddl2", text })).rows).toEqual([{ x: "1" }]);
      } finally {
        await c.end();
      }
    } finally {
      await sess.stop();
    }
  });
});

describe("errors inside pipelines are the client's, not unsolicited", () => {
  test("an error in every position of a pipelined extended batch, with Sync or with Flush: replies stay in step and nothing is logged as unsolicited", async () => {
    const { log } = await import("../../src/log/index.ts");
    const warned: string[] = [];
    const original = log.warn;
    log.warn = (event: string, fields = {}) => {
      if (event === "server_error_unsolicited") warned.push(JSON.stringify(fields));
      original(event, fields);
    };
    const { Bind, Execute, Flush } = await import("../frames.ts");
    const c = await rawMd5Login(gw.port, "app");
    try {
      const good = (n: number) => [Parse("", `SELECT ${n}`), Bind("", ""), Execute("")];
      const bad = () => [Parse("", "SELEC oops"), Bind("", ""), Execute("")];
      const div0 = () => [Parse("", "SELECT 1/0"), Bind("", ""), Execute("")];
      for (let pos = 0; pos < 3; pos++) {
        const batches = [0, 1, 2].map((i) => (i === pos ? (pos === 1 ? div0() : bad()) : good(i)));
        const frames = batches.flatMap((b) => [...b, Sync()]);
        await c.write(cat(...frames));
        expect(await c.waitFor((b) => messages(b).filter((m) => m.type === "Z").length === 3)).toBe(true);
        const ms = messages(c.bytes);
        expect(ms.filter((m) => m.type === "E").length).toBe(1);
        c.received.length = 0;
      }
      // Flush instead of Sync: the error arrives before any Sync was sent, then Sync ends it.
      await c.write(cat(...bad(), Flush()));
      expect(await c.waitFor((b) => messages(b).some((m) => m.type === "E"))).toBe(true);
      await c.write(Sync());
      expect(await c.waitFor((b) => messages(b).some((m) => m.type === "Z"))).toBe(true);
      c.received.length = 0;
      const after = await roundTrip(c, ...good(5), Sync());
      expect(after.map((m) => m.type)).toEqual(["1", "2", "D", "C", "Z"]);
    } finally {
      c.close();
      log.warn = original;
    }
    expect(warned).toEqual([]);
  });
});

describe("PgGate's own queries between pipelined batches", () => {
  test("RESET ALL pipelined with the next query: the startup values PgGate applies again never take the client's replies", async () => {
    const { Query } = await import("../frames.ts");
    const c = await rawMd5Login(gw.port, "app", { application_name: "iso_pipelined_reset" });
    try {
      await c.write(cat(Query("RESET ALL"), Query("SELECT current_setting('application_name') AS a"), Query("SELECT 2 AS b")));
      expect(await c.waitFor((b) => messages(b).filter((m) => m.type === "Z").length === 3)).toBe(true);
      const ms = messages(c.bytes);
      const tags = ms.filter((m) => m.type === "C").map((m) => new TextDecoder().decode(m.body.subarray(0, -1)));
      expect(tags).toEqual(["RESET", "SELECT 1", "SELECT 1"]);
      const values = ms.filter((m) => m.type === "D").map((m) => new TextDecoder().decode(m.body.subarray(6)));
      expect(values).toEqual(["iso_pipelined_reset", "2"]);
    } finally {
      c.close();
    }
  });
});
