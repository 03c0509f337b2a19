// Issue 12 item 5: node-local state is read on the primary. Through PgGate, pg_backend_pid(),
// pg_is_in_recovery(), transaction_read_only, the pg_stat_* views, sequences and unlogged tables
// answer what a primary connection answers; ordinary reads and inet_server_port() still reach
// replicas; what the catalog says in one database is not applied in another.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, psql, startGateway, waitUntil, type RunningGateway } from "./harness.ts";

const scram = () => cluster().users.scram;
const primaryPort = () => cluster().primary.port;
const replicaPorts = () => cluster().replicas.map((r) => r.port);

function client(port: number, database = "app"): pg.Client {
  const u = scram();
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database, query_timeout: 20_000 });
  c.on("error", () => {});
  return c;
}

/** The first column of the first row as psql -At prints it (t/f for booleans). */
async function firstValue(c: pg.Client, sql: string, values: unknown[] = []): Promise<string> {
  const r = await c.query({ text: sql, values, rowMode: "array" });
  const v: unknown = r.rows[0]?.[0];
  return v === true ? "t" : v === false ? "f" : String(v);
}

let gw: RunningGateway;

beforeAll(async () => {
  const c = cluster();
  await c.psql(
    c.primary,
    `DROP SEQUENCE IF EXISTS nl_seq;
     DROP TABLE IF EXISTS nl_unlogged, nl_table;
     CREATE SEQUENCE nl_seq;
     CREATE UNLOGGED TABLE nl_unlogged (id int);
     INSERT INTO nl_unlogged VALUES (1), (2);
     CREATE TABLE nl_table (id int);
     INSERT INTO nl_table VALUES (1);
     GRANT ALL ON nl_seq, nl_unlogged, nl_table TO pggate_scram;
     SELECT nextval('nl_seq'), nextval('nl_seq');`,
    "app",
  );
  // Two databases with the same names for different things.
  await c.psql(c.primary, "DROP DATABASE IF EXISTS nl_db_a; DROP DATABASE IF EXISTS nl_db_b; CREATE DATABASE nl_db_a; CREATE DATABASE nl_db_b");
  await c.psql(
    c.primary,
    `CREATE SEQUENCE nl_same;
     CREATE FUNCTION nl_fn() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';
     GRANT ALL ON nl_same TO pggate_scram;`,
    "nl_db_a",
  );
  await c.psql(
    c.primary,
    `CREATE TABLE nl_same (x int);
     INSERT INTO nl_same VALUES (1);
     CREATE FUNCTION nl_fn() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
     GRANT ALL ON nl_same TO pggate_scram;`,
    "nl_db_b",
  );
  await c.waitForReplay();
  gw = startGateway({ auth: { mode: "auth_query" } });
});

afterAll(async () => {
  await gw.stop();
  const c = cluster();
  await c.psql(c.primary, "DROP DATABASE IF EXISTS nl_db_a WITH (FORCE); DROP DATABASE IF EXISTS nl_db_b WITH (FORCE)");
});

describe("node-local state is read on the primary", () => {
  test("pg_backend_pid() names a backend of the primary, which pg_stat_activity through PgGate finds", async () => {
    const c = cluster();
    const db = client(gw.port);
    await db.connect();
    try {
      for (let i = 0; i < 6; i++) {
        const pid = Number(await firstValue(db, "SELECT pg_backend_pid()"));
        // Asked on the primary itself: the PID is one of its backends, logged in as our user (a
        // replica's PID given to pg_terminate_backend() on the primary could kill anyone).
        expect(await c.psql(c.primary, `SELECT usename FROM pg_stat_activity WHERE pid = ${pid}`)).toBe(scram().user);
        expect(await firstValue(db, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [pid])).toBe("1");
      }
      expect(Number(await psql(gw.port, scram(), "SELECT pg_backend_pid()"))).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
  });

  test("recovery state, transaction_read_only, WAL positions and statistics are the primary's", async () => {
    const c = cluster();
    const queries = [
      "SELECT pg_is_in_recovery()",
      "SHOW transaction_read_only",
      "SELECT current_setting('transaction_read_only')",
      "SHOW in_hot_standby",
      "SELECT setting FROM pg_settings WHERE name = 'transaction_read_only'",
      "SELECT pg_last_wal_replay_lsn() IS NULL",
      "SELECT count(*) FROM pg_stat_wal_receiver",
      "SELECT count(*) FROM pg_stat_replication",
      // Raises "recovery is in progress" on a replica.
      "SELECT pg_current_wal_lsn() IS NOT NULL",
    ];
    const db = client(gw.port);
    await db.connect();
    try {
      for (const sql of queries) {
        const onPrimary = await c.psql(c.primary, sql, "app");
        const onReplica = await c.psql(c.replicas[0]!, sql, "app").catch((e: Error) => e.message);
        // Each answer tells the nodes apart, so the checks below can fail.
        expect(onReplica).not.toBe(onPrimary);
        for (let i = 0; i < 4; i++) {
          expect(`${sql}: ${await psql(gw.port, scram(), sql)}`).toBe(`${sql}: ${onPrimary}`);
          expect(`${sql}: ${await firstValue(db, sql)}`).toBe(`${sql}: ${onPrimary}`);
        }
      }
      // Visible as their own reason in pggate_queries_total.
      const counts = gw.gateway.ctx.stats.queries;
      expect(counts.primary.node_local ?? 0).toBeGreaterThanOrEqual(queries.length * 8);
      expect(counts.replica.node_local).toBeUndefined();
    } finally {
      await db.end();
    }
  });

  test("a sequence read with SELECT shows the primary's state, before and after its kind is known", async () => {
    const c = cluster();
    const sql = "SELECT last_value, log_cnt, is_called FROM nl_seq";
    const onPrimary = await c.psql(c.primary, sql, "app");
    // A standby shows the value the primary WAL-logged ahead (32 past last_value).
    expect(await c.psql(c.replicas[0]!, sql, "app")).not.toBe(onPrimary);
    const db = client(gw.port);
    await db.connect();
    const read = async () => {
      const r = await db.query({ text: "SELECT last_value, log_cnt, is_called, inet_server_port() AS port FROM nl_seq", rowMode: "array" });
      const [last, cnt, called, port] = r.rows[0] as [string, string, boolean, number];
      return { state: `${last}|${cnt}|${called ? "t" : "f"}`, port };
    };
    try {
      // The first read waits for the catalog lookup, on the primary.
      expect(await read()).toEqual({ state: onPrimary, port: primaryPort() });
      await waitUntil("the catalog knows nl_seq", () => gw.gateway.ctx.catalog.relationKind("app", "nl_seq") !== undefined);
      expect(gw.gateway.ctx.catalog.relationKind("app", "nl_seq")).toBe("sequence");
      for (let i = 0; i < 6; i++) expect(await read()).toEqual({ state: onPrimary, port: primaryPort() });
      expect(await psql(gw.port, scram(), sql)).toBe(onPrimary);
      expect(await psql(gw.port, scram(), "SELECT last_value FROM pg_sequences WHERE sequencename = 'nl_seq'")).toBe(
        await c.psql(c.primary, "SELECT last_value FROM pg_sequences WHERE sequencename = 'nl_seq'", "app"),
      );
    } finally {
      await db.end();
    }
  });

  test("an unlogged table, whose rows exist only on the primary, is read there", async () => {
    const c = cluster();
    await expect(c.psql(c.replicas[0]!, "SELECT count(*) FROM nl_unlogged", "app")).rejects.toThrow("unlogged");
    for (let i = 0; i < 6; i++) {
      expect(await psql(gw.port, scram(), "SELECT count(*), inet_server_port() FROM nl_unlogged")).toBe(`2|${primaryPort()}`);
    }
    expect(await psql(gw.port, scram(), "COPY nl_unlogged TO STDOUT")).toBe("1\n2");
  });
});

describe("what is not node-local still reaches replicas", () => {
  test("SELECT inet_server_port() and reads of an ordinary table (once its kind is known) run on replicas", async () => {
    const db = client(gw.port);
    await db.connect();
    try {
      for (let i = 0; i < 6; i++) {
        expect(replicaPorts()).toContain(Number(await firstValue(db, "SELECT inet_server_port()")));
        expect(replicaPorts()).toContain(Number(await psql(gw.port, scram(), "SELECT inet_server_port()")));
      }
      await waitUntil("nl_table reads on a replica", async () => replicaPorts().includes(Number(await firstValue(db, "SELECT inet_server_port() FROM nl_table"))));
      for (let i = 0; i < 6; i++) {
        expect(replicaPorts()).toContain(Number(await firstValue(db, "SELECT inet_server_port() FROM nl_table WHERE id = $1", [1])));
      }
    } finally {
      await db.end();
    }
  });
});

describe("catalog facts belong to their database", () => {
  test("a function STABLE in one database and VOLATILE in another is routed by each database's own catalog", async () => {
    const a = client(gw.port, "nl_db_a");
    const b = client(gw.port, "nl_db_b");
    await a.connect();
    await b.connect();
    try {
      // Learnt in nl_db_b first: STABLE there, so its reads reach replicas.
      await waitUntil("nl_fn() in nl_db_b on a replica", async () => replicaPorts().includes(Number(await firstValue(b, "SELECT inet_server_port() WHERE nl_fn() = 1"))));
      // In nl_db_a it is VOLATILE (it could write): always the primary, whatever nl_db_b said.
      for (let i = 0; i < 10; i++) {
        expect(Number(await firstValue(a, "SELECT inet_server_port() WHERE nl_fn() = 1"))).toBe(primaryPort());
        await Bun.sleep(20);
      }
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("a name that is a sequence in one database and a table in another is routed by each database's own catalog", async () => {
    const a = client(gw.port, "nl_db_a");
    const b = client(gw.port, "nl_db_b");
    await a.connect();
    await b.connect();
    try {
      // Learnt in nl_db_a first: a sequence there, read on the primary.
      for (let i = 0; i < 10; i++) {
        expect(Number(await firstValue(a, "SELECT inet_server_port() FROM nl_same"))).toBe(primaryPort());
        await Bun.sleep(20);
      }
      expect(gw.gateway.ctx.catalog.relationKind("nl_db_a", "nl_same")).toBe("sequence");
      // In nl_db_b it is a table: its reads reach replicas.
      await waitUntil("nl_same in nl_db_b on a replica", async () => replicaPorts().includes(Number(await firstValue(b, "SELECT inet_server_port() FROM nl_same"))));
    } finally {
      await a.end();
      await b.end();
    }
  });
});
