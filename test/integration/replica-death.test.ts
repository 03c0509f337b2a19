// Issue 25 item 10: a replica that dies in the middle of a small result (it sends some rows, then
// FATAL 57P01, as an immediate shutdown does) must cost the client nothing: the rows are held until
// the command completes, and the read runs elsewhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";

let g: RunningGateway;

beforeAll(async () => {
  const c = cluster();
  // Rows 1-4 go out, then the backend serving it on `port` terminates itself (57P01).
  await c.psql(
    c.primary,
    `CREATE OR REPLACE FUNCTION die_on(port int, x int) RETURNS int LANGUAGE plpgsql AS $$
     BEGIN
       IF inet_server_port() = port AND x = 5 THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(2); END IF;
       RETURN x;
     END $$; GRANT EXECUTE ON FUNCTION die_on(int, int) TO PUBLIC`,
    "app",
  );
  await c.waitForReplay();
  g = startGateway({ nodes: { replicas: [{ host: c.replicas[0].host, port: c.replicas[0].port }] }, routing: { read_functions: ["die_on"] } });
});

afterAll(async () => {
  await g?.stop();
});

describe("a replica dying mid-result", () => {
  test("rows already sent, then FATAL 57P01: the client gets the whole result from another node, no error", async () => {
    const c = cluster();
    const u = c.users.scram;
    const cl = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app" });
    cl.on("error", () => {});
    await cl.connect();
    try {
      const r = await cl.query(`SELECT die_on(${c.replicas[0].port}, x) AS x, inet_server_port() AS port FROM generate_series(1, 10) x`);
      expect(r.rows.map((row) => row.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(r.rows[0].port).not.toBe(c.replicas[0].port);
      // The session goes on.
      expect((await cl.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    } finally {
      await cl.end().catch(() => {});
    }
  });
});
