// Issue 14: replicas by default, and no one in who doesn't belong. passthrough with an auth_user
// reaches replicas for SCRAM, MD5 and cleartext users while the primary stays the authority;
// auth.hba rules (a longer name is the 63-byte role it is cut to); the admin console's own
// password; auth_query in the client's database; and pool.size bounding every connection a login
// storm makes. Real servers, real clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { cluster, clusterHba, startGateway, startGatewayFromFile } from "./harness.ts";
import { log } from "../../src/log/index.ts";

type Who = "scram" | "md5" | "plain";

function client(port: number, who: Who, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const u = cluster().users[who];
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", ...extra });
  c.on("error", () => {});
  return c;
}

async function failureOf(c: pg.Client): Promise<{ code?: string; message: string }> {
  try {
    await c.connect();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  await c.end();
  throw new Error("login unexpectedly succeeded");
}

/** Records the fields of `event` logged at `level` until restore(). */
function captureLog(level: "warn" | "error", event: string): { lines: string[]; restore(): void } {
  const original = log[level];
  const lines: string[] = [];
  log[level] = (e: string, fields = {}) => {
    if (e === event) lines.push(JSON.stringify(fields));
    original(e, fields);
  };
  return { lines, restore: () => (log[level] = original) };
}

const replicaPorts = () => new Set(cluster().replicas.map((r) => r.port));

/** Connections the primary has open for `user` (PgGate's, plus the ones this query needs: none). */
async function primaryConnections(user: string, application = ""): Promise<number> {
  const cl = cluster();
  const app = application ? ` AND application_name = '${application}'` : "";
  const out = await cl.psql(cl.primary, `SELECT count(*) FROM pg_stat_activity WHERE usename = '${user}' AND backend_type = 'client backend'${app}`);
  return Number(out.trim());
}

describe("passthrough with auth.auth_user", () => {
  let gw: ReturnType<typeof startGateway>;
  beforeAll(async () => {
    const cl = cluster();
    await cl.psql(cl.primary, "DROP TABLE IF EXISTS split_w; CREATE TABLE split_w (who text); GRANT ALL ON split_w TO PUBLIC;", "app");
    await cl.waitForReplay();
    // The harness's base config is passthrough with the cluster's auth_user.
    gw = startGateway({});
  });
  afterAll(async () => {
    await gw.stop();
  });

  for (const who of ["scram", "md5", "plain"] as const) {
    test(`${who} user: reads run on a replica, writes on the primary`, async () => {
      const c = client(gw.port, who);
      await c.connect();
      try {
        // (pg_is_in_recovery() is node-local: PgGate sends it to the primary on purpose.)
        const read = await c.query("SELECT inet_server_port() AS port");
        expect(replicaPorts().has(read.rows[0].port)).toBe(true);
        const write = await c.query("INSERT INTO split_w VALUES ($1) RETURNING inet_server_port() AS port", [who]);
        expect(write.rows[0].port).toBe(cluster().primary.port);
      } finally {
        await c.end();
      }
    });
  }

  test("a wrong password gets the server's own 28P01", async () => {
    const e = await failureOf(client(gw.port, "scram", { password: "wrong" }));
    expect(e.code).toBe("28P01");
    expect(e.message).toBe(`password authentication failed for user "${cluster().users.scram.user}"`);
  });

  test("a role whose VALID UNTIL has passed is refused by the primary's verdict", async () => {
    const cl = cluster();
    await cl.psql(
      cl.primary,
      "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pggate_expired') THEN CREATE ROLE pggate_expired LOGIN; END IF; END $$; ALTER ROLE pggate_expired PASSWORD 'exp_pw' VALID UNTIL '2001-01-01';",
    );
    const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "pggate_expired", password: "exp_pw", database: "app" });
    c.on("error", () => {});
    const e = await failureOf(c);
    expect(e.code).toBe("28P01");
    expect(e.message).toBe('password authentication failed for user "pggate_expired"');
  });
});

describe("passthrough without an auth_user", () => {
  test("says so: a warning at start, and a reason in /status and SHOW NODES; SCRAM reads stay on the primary", async () => {
    const warned = captureLog("warn", "replicas_unused");
    const gw = startGateway({ auth: { mode: "passthrough", auth_user: "" } });
    try {
      expect(warned.lines.length).toBe(1);
      expect(warned.lines[0]).toContain("auth.auth_user");
      const { statusSummary } = await import("../../src/endpoints/status.ts");
      const nodes = (statusSummary(gw.gateway.ctx) as { nodes: { name: string; reason: string | null }[] }).nodes;
      expect(nodes.filter((n) => n.reason !== null).length).toBe(cluster().replicas.length);
      const c = client(gw.port, "scram");
      await c.connect();
      try {
        expect((await c.query("SELECT inet_server_port() AS port")).rows[0].port).toBe(cluster().primary.port);
      } finally {
        await c.end();
      }
      const admin = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "postgres", database: "pggate" });
      await admin.connect();
      try {
        const rows = (await admin.query("SHOW NODES")).rows as { configured_role: string; reason: string | null }[];
        expect(rows.filter((r) => r.configured_role === "replica").every((r) => (r.reason ?? "").includes("auth.auth_user"))).toBe(true);
      } finally {
        await admin.end();
      }
    } finally {
      warned.restore();
      await gw.stop();
    }
  });
});

describe("auth.hba", () => {
  const dir = mkdtempSync(join(tmpdir(), "pggate-hba-"));
  const file = join(dir, "hba.conf");
  const write = (text: string) => writeFileSync(file, text);

  for (const mode of ["passthrough", "auth_query"] as const) {
    test(`${mode}: a reject line refuses the user with 28000; a hostssl line refuses plaintext; a reload applies a changed file`, async () => {
      const u = cluster().users;
      write(`host all ${u.md5.user} 127.0.0.1/32 reject\nhostssl all ${u.plain.user} 0.0.0.0/0 scram-sha-256\nhost all ${u.scram.user} 127.0.0.1/32 scram-sha-256\n`);
      const gw = startGatewayFromFile({ auth: { mode, hba: file } });
      try {
        const rejected = await failureOf(client(gw.port, "md5"));
        expect(rejected.code).toBe("28000");
        expect(rejected.message).toBe(`pg_hba.conf rejects connection for host "127.0.0.1", user "${u.md5.user}", database "app", no encryption`);
        const plaintext = await failureOf(client(gw.port, "plain"));
        expect(plaintext.code).toBe("28000");
        expect(plaintext.message).toBe(`no pg_hba.conf entry for host "127.0.0.1", user "${u.plain.user}", database "app", no encryption`);
        const ok = client(gw.port, "scram");
        await ok.connect();
        await ok.end();
        write(`host all all 127.0.0.1/32 scram-sha-256\n`);
        expect(gw.gateway.reload()).toBe(true);
        const now = client(gw.port, "md5");
        await now.connect();
        await now.end();
        // A broken file is refused on reload; the running rules stay.
        write(`host all all 127.0.0.1/32 peer\n`);
        expect(gw.gateway.reload()).toBe(false);
        const still = client(gw.port, "md5");
        await still.connect();
        await still.end();
      } finally {
        await gw.stop();
      }
    });
  }

  test("auth_query: a longer name is the 63-byte role PostgreSQL cuts it to: that role's reject line refuses it, and without the line it logs in as that role", async () => {
    const cl = cluster();
    const role = "pggate_long_" + "x".repeat(51); // 63 bytes: the longest name PostgreSQL keeps
    await cl.psql(cl.primary, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF; END $$; ALTER ROLE ${role} PASSWORD 'long_pw';`);
    const longer = () => {
      const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: `${role}yz`, password: "long_pw", database: "app" });
      c.on("error", () => {});
      return c;
    };
    write(`host all ${role} 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 scram-sha-256\n`);
    const gw = startGatewayFromFile({ auth: { mode: "auth_query", hba: file } });
    try {
      const rejected = await failureOf(longer());
      expect(rejected.code).toBe("28000");
      expect(rejected.message).toBe(`pg_hba.conf rejects connection for host "127.0.0.1", user "${role}", database "app", no encryption`);
      write(`host all all 127.0.0.1/32 scram-sha-256\n`);
      expect(gw.gateway.reload()).toBe(true);
      const c = longer();
      await c.connect();
      try {
        expect((await c.query("SELECT current_user AS u")).rows[0].u).toBe(role);
      } finally {
        await c.end();
      }
    } finally {
      await gw.stop();
    }
  });
});

describe("auth_query in the client's own database", () => {
  test("auth.auth_database unset: the lookup runs in the client's database; one that cannot look up gets a generic refusal and the log names the database", async () => {
    const errors = captureLog("error", "auth_lookup_failed");
    const cl = cluster();
    await cl.psql(cl.primary, "DROP DATABASE IF EXISTS nolookup; CREATE DATABASE nolookup;");
    const gw = startGateway({ auth: { mode: "auth_query", auth_database: "" } });
    try {
      const c = client(gw.port, "scram");
      await c.connect();
      expect((await c.query("SELECT current_database() AS d")).rows[0].d).toBe("app");
      await c.end();
      // Database nolookup has no pggate_lookup(): the lookup fails there.
      const e = await failureOf(client(gw.port, "scram", { database: "nolookup" }));
      expect(e.code).toBe("28000");
      expect(e.message).toBe(`PgGate could not log in user "${cl.users.scram.user}" (the reason is in the PgGate log)`);
      expect(errors.lines.length).toBe(1);
      expect(errors.lines[0]).toContain('auth_query in database \\"nolookup\\" failed');
    } finally {
      errors.restore();
      await gw.stop();
    }
  });
});

describe("the admin console's own password", () => {
  test("admin.password lets an admin user without a password of its own in, in auth_query mode; a wrong one is refused", async () => {
    const gw = startGateway({ auth: { mode: "auth_query" }, admin: { users: ["postgres"], password: "console_pw" } });
    try {
      const admin = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "postgres", password: "console_pw", database: "pggate" });
      await admin.connect();
      expect((await admin.query("SHOW NODES")).rows.length).toBe(1 + cluster().replicas.length);
      await admin.end();
      const wrong = new pg.Client({ host: "127.0.0.1", port: gw.port, user: "postgres", password: "nope", database: "pggate" });
      wrong.on("error", () => {});
      expect((await failureOf(wrong)).code).toBe("28P01");
    } finally {
      await gw.stop();
    }
  });
});

describe("600 simultaneous logins against a cold instance", () => {
  for (const mode of ["auth_query", "passthrough"] as const) {
    test(`${mode}: each succeeds or gets PgGate's 53300, and the primary never sees more than pool.size + lookup connections for the user`, async () => {
      const size = 5;
      const u = cluster().users.md5;
      const gw = startGateway({ auth: { mode, max_concurrent_lookups: 2 }, pool: { size, acquire_timeout_ms: 20_000 }, listen: { max_client_connections: 2000 } });
      let peak = 0;
      let lookupPeak = 0;
      // Lookup connections other gateways of this run still keep are not this one's.
      const lookupBase = await primaryConnections(cluster().authUser.user, "pggate_auth_query");
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await primaryConnections(u.user));
          // (The health checks log in as the auth_user too, under their own application_name.)
          lookupPeak = Math.max(lookupPeak, await primaryConnections(cluster().authUser.user, "pggate_auth_query"));
          await Bun.sleep(20);
        }
      })();
      const outcomes = new Map<string, number>();
      try {
        await Promise.all(
          Array.from({ length: 600 }, async () => {
            const c = client(gw.port, "md5");
            let outcome = "ok";
            try {
              await c.connect();
              await c.query("SELECT 1");
            } catch (e) {
              outcome = (e as { code?: string }).code ?? (e as Error).message;
            } finally {
              await c.end().catch(() => {});
            }
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          }),
        );
      } finally {
        sampling = false;
        await sampler;
        await gw.stop();
      }
      console.log(`${mode} login storm: ${JSON.stringify(Object.fromEntries(outcomes))}, peak primary connections for the user ${peak}, for lookups ${lookupPeak}`);
      expect([...outcomes.keys()].filter((k) => k !== "ok" && k !== "53300")).toEqual([]);
      expect(outcomes.get("ok") ?? 0).toBeGreaterThan(0);
      // The md5 user's own connections: pool.size (lookups run as auth_user, probes are closed at once).
      expect(peak).toBeLessThanOrEqual(size + 1);
      // Lookups share kept connections: at most auth.max_concurrent_lookups.
      expect(lookupPeak - lookupBase).toBeLessThanOrEqual(2);
    }, 120_000);
  }
});


describe("auth_query never learns a weaker method from the server", () => {
  // Issue 23 item 8: the server asking for a cleartext password once used to make PgGate ask the
  // next SCRAM client for its password. Only an auth.hba `password` line does that now.
  test("a role the server asks for a cleartext password (stored SCRAM): every login fails with a generic message and a logged hint, until auth.hba says password", async () => {
    const errors = captureLog("error", "server_login_failed");
    const gw = startGateway({ auth: { mode: "auth_query" } });
    try {
      for (let i = 0; i < 2; i++) {
        const e = await failureOf(client(gw.port, "plain"));
        expect(e.code).toBe("28000");
      }
      expect(errors.lines.length).toBe(2);
      expect(errors.lines[1]).toContain("give the role an auth.hba `password` line");
    } finally {
      errors.restore();
      await gw.stop();
    }
    const withHba = startGateway({ auth: { mode: "auth_query", hba: clusterHba() } });
    try {
      const c = client(withHba.port, "plain");
      await c.connect();
      expect((await c.query("SELECT current_user AS u")).rows[0].u).toBe(cluster().users.plain.user);
      await c.end();
    } finally {
      await withHba.stop();
    }
  });
});
