// Issue 2 acceptance: every auth mode × every password method, through psql and pgbench.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import pg from "pg";
import { cluster, clusterHba, connString, psql, run, scratchPath, startGateway, type RunningGateway } from "./harness.ts";

type Method = "scram" | "md5" | "plain";
const METHODS: Method[] = ["scram", "md5", "plain"];

beforeAll(async () => {
  const c = cluster();
  // pgbench tables owned by the superuser, usable by every test role.
  await c.psql(c.primary, "SELECT 1", "app");
  const init = await run(["pgbench", "-i", "-s", "1", "-q", `host=127.0.0.1 port=${c.primary.port} user=postgres dbname=app`]);
  expect(init.code).toBe(0);
  await c.psql(
    c.primary,
    "GRANT ALL ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO pggate_scram, pggate_md5, pggate_plain",
    "app",
  );
});

async function userlistConfig(): Promise<string> {
  const c = cluster();
  const path = scratchPath("users.txt");
  const scramSecret = await c.psql(c.primary, "SELECT passwd FROM pg_shadow WHERE usename = 'pggate_scram'");
  const md5Secret = await c.psql(c.primary, "SELECT passwd FROM pg_shadow WHERE usename = 'pggate_md5'");
  writeFileSync(
    path,
    [
      `; PgBouncer-style auth file`,
      `"${c.users.scram.user}" "${scramSecret}"`,
      `"${c.users.md5.user}" "${md5Secret}"`,
      `"${c.users.plain.user}" "${c.users.plain.password}"`,
    ].join("\n") + "\n",
  );
  return path;
}

for (const mode of ["passthrough", "auth_query", "userlist"] as const) {
  describe(`auth.mode ${mode}`, () => {
    let gw: RunningGateway;
    beforeAll(async () => {
      const auth: Record<string, unknown> = { mode };
      if (mode === "userlist") auth.userlist = await userlistConfig();
      // The cluster's pg_hba asks pggate_plain for a cleartext password although its stored secret
      // is SCRAM; PgGate, which never asks the server before the client proved itself, learns
      // that at the first login — unless auth.hba says so, as the README advises.
      if (mode === "auth_query") auth.hba = clusterHba();
      gw = startGateway({ auth });
    });
    afterAll(async () => {
      await gw.stop();
    });

    for (const method of METHODS) {
      test(`${method} user: psql reaches the primary, and reads reach a replica when PgGate can log in there`, async () => {
        const u = cluster().users[method];
        const forced = await psql(gw.port, u, "/* pggate:primary */ SELECT current_user, inet_server_port(), pg_is_in_recovery()");
        expect(forced).toBe(`${u.user}|${cluster().primary.port}|f`);
        // passthrough with the harness's auth_user recovers what the primary accepted (issue 14):
        // every method reaches replicas.
        const canReachReplicas = true;
        // inet_server_port(), not pg_is_in_recovery(): that one is node-local, always the primary's answer.
        const read = Number(await psql(gw.port, u, "SELECT inet_server_port()"));
        expect(canReachReplicas ? cluster().replicas.map((r) => r.port) : [cluster().primary.port]).toContain(read);
      });

      test(`${method} user: pgbench simple/extended/prepared TPC-B, 8 clients, no failures`, async () => {
        const u = cluster().users[method];
        for (const protocol of ["simple", "extended", "prepared"]) {
          const r = await run(["pgbench", "-n", "-c", "8", "-t", "40", "-M", protocol, connString(gw.port, u.user)], { PGPASSWORD: u.password });
          expect(r.stderr).not.toContain("error");
          expect(r.code).toBe(0);
          expect(r.stdout).toContain("number of transactions actually processed: 320/320");
          expect(r.stdout).toMatch(/number of failed transactions: 0 \(/);
        }
      }, 60_000);

      test(`${method} user: wrong password is 28P01`, async () => {
        const u = cluster().users[method];
        const client = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: "wrong", database: "app" });
        const err = await client.connect().then(
          () => null,
          (e: pg.DatabaseError) => e,
        );
        expect(err?.code).toBe("28P01");
        expect(err?.message).toContain(`password authentication failed for user "${u.user}"`);
      });
    }

    test("unknown user gets what PostgreSQL answers: 28P01", async () => {
      const client = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "nobody_here", password: "x", database: "app" });
      const err = await client.connect().then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
      expect(err?.code).toBe("28P01");
      expect(err?.message).toContain('password authentication failed for user "nobody_here"');
    });

    test("unknown database gets 3D000 from the primary", async () => {
      const u = cluster().users.scram;
      const client = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "no_such_db" });
      const err = await client.connect().then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
      expect(err?.code).toBe("3D000");
      expect(err?.message).toContain('database "no_such_db" does not exist');
    });
  });
}
