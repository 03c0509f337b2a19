// Issue 25 item 8: in passthrough, logins should not cost a backend each. With auth.auth_user,
// PgGate checks the password of a pair the primary already authenticated (as auth_query does);
// without it, each login is still relayed, but its connection is closed unless the pool needs it.
import { describe, expect, test } from "bun:test";
import { log } from "../../src/log/index.ts";
import { writeFileSync } from "node:fs";
import { cluster, psql, run, scratchPath, startGateway } from "./harness.ts";

/** Sessions the primary has established for database app (a backend fork each). */
async function sessions(): Promise<number> {
  const c = cluster();
  return Number(await c.psql(c.primary, "SELECT sessions FROM pg_stat_database WHERE datname = 'app'"));
}

async function idleOnPrimary(user: string): Promise<number> {
  const c = cluster();
  return Number(await c.psql(c.primary, `SELECT count(*) FROM pg_stat_activity WHERE usename = '${user}' AND datname = 'app' AND state = 'idle'`));
}

describe("passthrough logins and backends", () => {
  for (const which of ["scram", "md5"] as const) {
    test(`with auth.auth_user (${which}): 40 one-query logins fork at most a couple of backends; a wrong password is still refused`, async () => {
      const g = startGateway({ auth: { mode: "passthrough" }, routing: { read_write_split: false } });
      const u = cluster().users[which];
      try {
        expect(await psql(g.port, u, "SELECT 1")).toBe("1"); // the first login is relayed
        const before = await sessions();
        const t0 = performance.now();
        for (let i = 0; i < 40; i++) expect(await psql(g.port, u, "SELECT 1")).toBe("1");
        const perLogin = (performance.now() - t0) / 40;
        const forked = (await sessions()) - before;
        console.log(`passthrough + auth_user (${which}): 40 logins forked ${forked} backends (${perLogin.toFixed(1)} ms per psql login+query)`);
        expect(forked).toBeLessThanOrEqual(2);
        const bad = await run(["psql", `host=127.0.0.1 port=${g.port} user=${u.user} dbname=app sslmode=disable`, "-Atc", "SELECT 1"], { PGPASSWORD: "wrong" });
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toContain(`password authentication failed for user "${u.user}"`);
      } finally {
        await g.stop();
      }
    }, 60_000);
  }

  test("without auth.auth_user, a cleartext login (PgGate learns the password): its relay connection is closed when the pool has an idle one (sv_idle stays ~1)", async () => {
    const g = startGateway({ auth: { mode: "passthrough", auth_user: "", auth_password: "" }, routing: { read_write_split: false } });
    const u = cluster().users.plain;
    try {
      for (let i = 0; i < 40; i++) expect(await psql(g.port, u, "SELECT 1")).toBe("1");
      await Bun.sleep(300);
      const idle = await idleOnPrimary(u.user);
      console.log(`passthrough without auth_user: ${idle} idle backends of ${u.user} after 40 logins`);
      expect(idle).toBeLessThanOrEqual(2);
    } finally {
      await g.stop();
    }
  }, 60_000);

  test("a role the primary trusts (no password): its reads stay on the primary, and the log says why once", async () => {
    const g = startGateway({ auth: { mode: "passthrough" } });
    const original = log.warn;
    const said: string[] = [];
    log.warn = (e: string, fields = {}) => {
      if (e === "passthrough_reads_on_primary") said.push(JSON.stringify(fields));
      original(e, fields);
    };
    try {
      const trusted = { user: "postgres", password: "" };
      for (let i = 0; i < 3; i++) expect(await psql(g.port, trusted, "SELECT inet_server_port()")).toBe(String(cluster().primary.port));
      expect(said.length).toBe(1);
      expect(said[0]).toContain("pg_hba trust");
    } finally {
      log.warn = original;
      await g.stop();
    }
  });

  test("without auth.auth_user, SCRAM logins: their relay connections stay in the pool (PgGate could not open another), and pgbench never waits on a connect it cannot make", async () => {
    const g = startGateway({ auth: { mode: "passthrough", auth_user: "", auth_password: "" }, routing: { read_write_split: false } });
    const u = cluster().users.scram;
    try {
      for (let i = 0; i < 6; i++) expect(await psql(g.port, u, "SELECT 1")).toBe("1");
      await Bun.sleep(300);
      // Each login's relay connection was kept: the pool can serve 4 concurrent clients without
      // opening a connection (which it has no credentials for).
      expect(await idleOnPrimary(u.user)).toBeGreaterThanOrEqual(4);
      const script = scratchPath("select1.sql");
      writeFileSync(script, "SELECT 1;\n");
      const bench = await run(["pgbench", "-n", "-f", script, "-c", "4", "-T", "2", `host=127.0.0.1 port=${g.port} user=${u.user} dbname=app sslmode=disable`], { PGPASSWORD: u.password }, 60_000);
      expect(bench.stdout).toMatch(/number of failed transactions: 0 \(/);
      expect(bench.code).toBe(0);
    } finally {
      await g.stop();
    }
  }, 60_000);
});
