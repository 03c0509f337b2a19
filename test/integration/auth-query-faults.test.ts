// auth_query under abuse and at its edges (issue 23 items 4, 5, 10): a flood of startups naming
// made-up databases must not hold up a real login; a role whose VALID UNTIL has passed must not
// log in; a changed password replaces a cached verifier as the README says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import pg from "pg";
import { RawClient } from "./raw-client.ts";
import { startupMessage } from "../frames.ts";
import { defaultConfigFor } from "../../src/config/index.ts";
import { cluster, startGateway, waitUntil, type RunningGateway } from "./harness.ts";

async function loginError(port: number, user: string, password: string, database = "app"): Promise<string | null> {
  const client = new pg.Client({ host: "127.0.0.1", port, user, password, database });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (e) {
    return (e as pg.DatabaseError).code ?? (e as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A login's duration in ms, asserting it worked. */
async function timedLogin(port: number, user: string, password: string): Promise<number> {
  const started = performance.now();
  const client = new pg.Client({ host: "127.0.0.1", port, user, password, database: "app", connectionTimeoutMillis: 10_000 });
  await client.connect();
  const ms = performance.now() - started;
  expect((await client.query("SELECT current_user AS u")).rows[0].u).toBe(user);
  await client.end();
  return ms;
}

/**
 * A TCP relay to `target` that delays every chunk by `delayMs` each way: a primary across a
 * network (5 ms each way: a 10 ms round trip), where a failed lookup connection costs ~7 round trips.
 */
function laggyRelay(target: { host: string; port: number }, delayMs: number): { port: number; stop(): void } {
  type Side = { upstream: Socket<undefined> | null; early: Uint8Array[]; closed: boolean };
  const later = (fn: () => void): void => void setTimeout(fn, delayMs);
  const server = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { upstream: null, early: [], closed: false };
        void Bun.connect({
          hostname: target.host,
          port: target.port,
          socket: {
            data: (_s, d) => {
              const copy = new Uint8Array(d);
              later(() => void client.write(copy));
            },
            close: () => later(() => client.end()),
            error: () => later(() => client.end()),
          },
        }).then((up) => {
          if (client.data.closed) return void up.end();
          client.data.upstream = up;
          for (const d of client.data.early) up.write(d);
          client.data.early = [];
        }, () => client.end());
      },
      data(client, d) {
        const copy = new Uint8Array(d);
        later(() => {
          if (client.data.upstream) client.data.upstream.write(copy);
          else client.data.early.push(copy);
        });
      },
      close(client) {
        client.data.closed = true;
        later(() => client.data.upstream?.end());
      },
    },
  });
  return { port: server.port, stop: () => server.stop(true) };
}

describe("startups naming made-up databases (auth.auth_database empty: the lookup runs in the client's database)", () => {
  let gw: RunningGateway;
  let relay: { port: number; stop(): void };
  const roles = ["pggate_flood_a", "pggate_flood_b"];
  beforeAll(async () => {
    const c = cluster();
    for (const r of roles) await c.psql(c.primary, `DROP ROLE IF EXISTS ${r}; CREATE ROLE ${r} LOGIN PASSWORD 'flood_pw'`);
    // The primary 10 ms away, and nodes.tls prefer (the default): a lookup connection costs a TLS
    // handshake and a SCRAM exchange in round trips, as in production.
    relay = laggyRelay(c.primary, 5);
    gw = startGateway({ auth: { mode: "auth_query", auth_database: "" }, nodes: { primary: { host: "127.0.0.1", port: relay.port }, tls: { mode: "prefer" } } });
  });
  afterAll(async () => {
    await gw.stop();
    relay.stop();
    const c = cluster();
    for (const r of roles) await c.psql(c.primary, `DROP ROLE IF EXISTS ${r}`);
  });

  test("300 junk startups in ~1 s (half leave at once) do not hold up a real, uncached login", async () => {
    const known = cluster().users.scram.user;
    const held: RawClient[] = [];
    const pending: Promise<unknown>[] = [];
    const junk = async (i: number): Promise<void> => {
      const c = await RawClient.connect(gw.port);
      // Half claim a real user, half a made-up one; every database is made up.
      const user = i % 2 === 0 ? known : `nobody_${i}_${Math.random().toString(36).slice(2, 8)}`;
      await c.write(startupMessage({ user, database: `junk_${i}_${Math.random().toString(36).slice(2, 10)}` }));
      if (i % 4 < 2) c.close();
      else {
        held.push(c);
        const t0 = performance.now();
        void c.waitFor((b) => b.length > 0, 12_000).then((answered) => answered && lat.push(performance.now() - t0));
      }
    };
    const during: number[] = [];
    const lat: number[] = [];
    try {
      for (let batch = 0; batch < 30; batch++) {
        for (let i = 0; i < 10; i++) pending.push(junk(batch * 10 + i));
        // Real clients log in while the flood runs, each a (user, database) nothing has looked up yet.
        if (batch === 12) pending.push(timedLogin(gw.port, roles[0], "flood_pw").then((ms) => during.push(ms)));
        await Bun.sleep(33);
      }
      const after = await timedLogin(gw.port, roles[1], "flood_pw");
      await Promise.all(pending);
      // The junk clients that stayed are served too: each got its authentication request.
      await waitUntil("every held junk client answered", () => lat.length === held.length, 5000).catch(() => null);
      lat.sort((a, b) => a - b);
      console.log(`auth_query flood: real login during ${during.map((ms) => ms.toFixed(0))} ms, right after ${after.toFixed(0)} ms; held junk answered: ${lat.length}/${held.length}, median ${lat[lat.length >> 1]?.toFixed(0)} ms, max ${lat.at(-1)?.toFixed(0)} ms`);
      expect(during.length).toBe(1);
      expect(during[0]).toBeLessThan(1000);
      expect(after).toBeLessThan(1000);
      expect(lat.length).toBe(held.length);
      expect(lat.at(-1)!).toBeLessThan(1000);
    } finally {
      for (const c of held) c.close();
    }
  }, 15_000);

  test("a known user with its password, in a made-up database, is authenticated and then hears 3D000", async () => {
    const err = await loginError(gw.port, roles[0], "flood_pw", "no_such_db_at_all");
    expect(err).toBe("3D000");
  });
});

describe("VALID UNTIL in the past", () => {
  const role = "pggate_expired";
  const expire = (until: string): Promise<string> => cluster().psql(cluster().primary, `ALTER ROLE ${role} VALID UNTIL '${until}'`);
  beforeAll(async () => {
    await cluster().psql(cluster().primary, `DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN PASSWORD 'expired_pw'`);
  });
  afterAll(async () => {
    await cluster().psql(cluster().primary, `DROP ROLE IF EXISTS ${role}`);
  });

  test("the primary itself refuses it with 28P01 (the premise)", async () => {
    await expire("2000-01-01");
    expect(await loginError(cluster().primary.port, role, "expired_pw")).toBe("28P01");
  });

  // The cluster's lookup function (the README's) and PgGate's default query on pg_shadow (run as
  // the superuser, whom the cluster trusts) must both refuse it as PostgreSQL does. The role logs
  // in once first, so PgGate's pool knows the server: later logins open no server connection,
  // and only the lookup can refuse them. cache_ttl_ms 0: each login looks the role up.
  for (const [label, auth] of [
    ["the README's lookup function", { mode: "auth_query", cache_ttl_ms: 0 }],
    ["the default auth.auth_query", { mode: "auth_query", cache_ttl_ms: 0, auth_user: "postgres", auth_password: "", auth_query: defaultConfigFor({ host: cluster().primary.host, port: cluster().primary.port }, []).auth.authQuery }],
  ] as const) {
    test(`auth_query with ${label}: 28P01 once VALID UNTIL has passed, a login again once it is lifted`, async () => {
      const gw = startGateway({ auth });
      try {
        await expire("infinity");
        expect(await loginError(gw.port, role, "expired_pw")).toBeNull();
        await expire("2000-01-01");
        expect(await loginError(gw.port, role, "expired_pw")).toBe("28P01");
        await expire("infinity");
        expect(await loginError(gw.port, role, "expired_pw")).toBeNull();
      } finally {
        await gw.stop();
      }
    });
  }
});

// What the README promises about ALTER ROLE … PASSWORD and auth.cache_ttl_ms (shortened to 10 s
// by default; 2 s here): the old password works until the cached verifier expires, a failed login
// drops it, and then the new one works.
describe("a changed password and the verifier cache", () => {
  const role = "pggate_rotated";
  const setPassword = (pw: string): Promise<string> => cluster().psql(cluster().primary, `ALTER ROLE ${role} PASSWORD '${pw}'`);
  let gw: RunningGateway;
  beforeAll(async () => {
    await cluster().psql(cluster().primary, `DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN PASSWORD 'pw_one'`);
    gw = startGateway({ auth: { mode: "auth_query", cache_ttl_ms: 2000 } });
  });
  afterAll(async () => {
    await gw.stop();
    await cluster().psql(cluster().primary, `DROP ROLE IF EXISTS ${role}`);
  });

  test("the old password works up to cache_ttl_ms after ALTER ROLE; a failed login drops the entry", async () => {
    expect(await loginError(gw.port, role, "pw_one")).toBeNull();
    await setPassword("pw_two");
    // Within the TTL the cached verifier still takes the old password (the documented window) ...
    expect(await loginError(gw.port, role, "pw_one")).toBeNull();
    // ... and refuses the new one once, which drops it: the next attempt sees the new password.
    expect(await loginError(gw.port, role, "pw_two")).toBe("28P01");
    expect(await loginError(gw.port, role, "pw_two")).toBeNull();
    expect(await loginError(gw.port, role, "pw_one")).toBe("28P01");
    // Without a failed login the entry lasts until the TTL, no longer.
    expect(await loginError(gw.port, role, "pw_two")).toBeNull();
    await setPassword("pw_three");
    const changedAt = Date.now();
    expect(await loginError(gw.port, role, "pw_two")).toBeNull();
    await Bun.sleep(Math.max(0, 2100 - (Date.now() - changedAt)));
    expect(await loginError(gw.port, role, "pw_two")).toBe("28P01");
    expect(await loginError(gw.port, role, "pw_three")).toBeNull();
  });
});
