// Proves the shared test cluster from scripts/cluster.ts is what the other integration tests assume:
// roles of each node, streaming replication, each auth method, TLS, and the auth_query function.
// Read-only towards the cluster except for one scratch table it drops again.

import { describe, expect, test } from "bun:test";
import { testCluster, type NodeInfo } from "../../scripts/cluster.ts";

const cluster = testCluster();

interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** psql as an arbitrary role over TCP, the way a client would log in (password via PGPASSWORD). */
async function psqlAs(conninfo: string, password: string, sql: string): Promise<PsqlResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" };
  const proc = Bun.spawn(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout: stdout.trim(), stderr: stderr.trim() };
}

const conn = (node: NodeInfo, user: string, extra = "sslmode=disable", db = "app") =>
  `host=${node.host} port=${node.port} user=${user} dbname=${db} ${extra}`;

describe("topology", () => {
  test("primary is not in recovery and listens on its port", async () => {
    expect(await cluster.psql(cluster.primary, "SELECT pg_is_in_recovery(), inet_server_port()")).toBe(
      `f|${cluster.primary.port}`,
    );
  });

  test("every replica is in recovery on its own port", async () => {
    expect(cluster.replicas.length).toBe(2);
    for (const replica of cluster.replicas) {
      expect(await cluster.psql(replica, "SELECT pg_is_in_recovery(), inet_server_port()")).toBe(`t|${replica.port}`);
    }
  });

  test("databases exist on every node", async () => {
    expect(cluster.databases).toContain("app");
    for (const node of [cluster.primary, ...cluster.replicas]) {
      expect(await cluster.psql(node, "SELECT current_database()", "app")).toBe("app");
    }
  });
});

describe("replication", () => {
  test("a row inserted on the primary is visible on replicas after waitForReplay()", async () => {
    const table = `cluster_test_${process.pid}_${Date.now()}`;
    const marker = crypto.randomUUID();
    await cluster.psql(cluster.primary, `CREATE TABLE ${table} (v text); INSERT INTO ${table} VALUES ('${marker}')`, "app");
    try {
      await cluster.waitForReplay();
      for (const replica of cluster.replicas) {
        expect(await cluster.psql(replica, `SELECT v FROM ${table}`, "app")).toBe(marker);
      }
    } finally {
      await cluster.psql(cluster.primary, `DROP TABLE ${table}`, "app");
    }
  });

  test("replicas refuse writes", async () => {
    await expect(cluster.psql(cluster.replicas[0], "CREATE TABLE must_fail (x int)", "app")).rejects.toThrow(
      /read-only transaction/,
    );
  });
});

describe("authentication", () => {
  const cases = [
    { name: "scram", creds: cluster.users.scram, method: "scram-sha-256", verifier: /^SCRAM-SHA-256\$/ },
    { name: "md5", creds: cluster.users.md5, method: "md5", verifier: /^md5[0-9a-f]{32}$/ },
    // Stored as SCRAM; pg_hba forces cleartext, so a proxy sees the password itself.
    { name: "plain", creds: cluster.users.plain, method: "password", verifier: /^SCRAM-SHA-256\$/ },
  ] as const;

  for (const { name, creds, method, verifier } of cases) {
    test(`${name}: pg_hba method is ${method} and the stored verifier matches`, async () => {
      // pg_hba is first-match: the first TCP rule for all databases naming this user or `all`.
      const rule = await cluster.psql(
        cluster.primary,
        `SELECT auth_method FROM pg_hba_file_rules
          WHERE type = 'host' AND database = '{all}' AND (user_name = '{all}' OR '${creds.user}' = ANY(user_name))
          ORDER BY line_number LIMIT 1`,
      );
      expect(rule).toBe(method);
      const stored = await cluster.psql(cluster.primary, `SELECT rolpassword FROM pg_authid WHERE rolname = '${creds.user}'`);
      expect(stored).toMatch(verifier);
    });

    test(`${name}: logs in with the right password on primary and replica, not with a wrong one`, async () => {
      for (const node of [cluster.primary, cluster.replicas[0]]) {
        const ok = await psqlAs(conn(node, creds.user), creds.password, "SELECT current_user");
        expect(ok.stderr).toBe("");
        expect(ok.stdout).toBe(creds.user);
      }
      const bad = await psqlAs(conn(cluster.primary, creds.user), "wrong_pw", "SELECT 1");
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`password authentication failed for user "${creds.user}"`);
    });
  }

  test("test users can create tables in app", async () => {
    const { user, password } = cluster.users.scram;
    const table = `owned_${process.pid}_${Date.now()}`;
    const r = await psqlAs(conn(cluster.primary, user), password, `CREATE TABLE ${table} (x int); DROP TABLE ${table}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("TLS", () => {
  test("sslmode=require to the primary uses TLS", async () => {
    const { user, password } = cluster.users.scram;
    const r = await psqlAs(
      conn(cluster.primary, user, "sslmode=require"),
      password,
      "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("t");
  });

  test("the server certificate verifies against the CA for localhost and 127.0.0.1", async () => {
    const { user, password } = cluster.users.scram;
    const { port } = cluster.replicas[1];
    for (const host of ["host=localhost hostaddr=127.0.0.1", "host=127.0.0.1"]) {
      const r = await psqlAs(
        `${host} port=${port} user=${user} dbname=app sslmode=verify-full sslrootcert=${cluster.tls.ca}`,
        password,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      );
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("t");
    }
  });
});

describe("auth_query", () => {
  const lookup = (user: string) => cluster.authQuery.replace("$1", `'${user}'`);

  for (const db of ["postgres", "app"]) {
    test(`auth user reads verifiers through pggate_lookup in ${db}`, async () => {
      const { user, password } = cluster.authUser;
      const scram = await psqlAs(conn(cluster.primary, user, "sslmode=disable", db), password, lookup("pggate_scram"));
      expect(scram.stderr).toBe("");
      expect(scram.stdout).toMatch(/^pggate_scram\|SCRAM-SHA-256\$4096:/);
      const md5 = await psqlAs(conn(cluster.primary, user, "sslmode=disable", db), password, lookup("pggate_md5"));
      expect(md5.stdout).toMatch(/^pggate_md5\|md5[0-9a-f]{32}$/);
    });
  }

  test("other users may not call pggate_lookup", async () => {
    const { user, password } = cluster.users.scram;
    const r = await psqlAs(conn(cluster.primary, user), password, lookup("pggate_md5"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("permission denied for function pggate_lookup");
  });
});
