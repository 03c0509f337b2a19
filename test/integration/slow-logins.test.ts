// Issue 23 item 3: unauthenticated slow logins must not deny passthrough logins. Startups that
// never answer the password challenge — with the victim's own user and database, and with junk
// names — from one address; real clients from another address log in within a second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import pg from "pg";
import { startupMessage } from "../frames.ts";
import { cluster, startGateway, waitUntil, type RunningGateway } from "./harness.ts";

/** Pure passthrough: no auth_user, so every login is relayed to the primary. */
let g: RunningGateway;
const sockets: net.Socket[] = [];

beforeAll(() => {
  g = startGateway({ auth: { mode: "passthrough", auth_user: "", auth_password: "" }, listen: { handshake_timeout_ms: 30_000 }, pool: { size: 20 } });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await g.stop();
});

/** A login that sends its StartupMessage from 127.0.0.2 and never answers what it is asked. */
function slowLogin(user: string, database: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port: g.port, localAddress: "127.0.0.2" });
    s.on("error", () => {});
    s.on("connect", () => {
      s.write(startupMessage({ user, database }));
      resolve();
    });
    s.setTimeout(5000, () => reject(new Error("slow login could not connect")));
    sockets.push(s);
  });
}

async function timedLogin(): Promise<number> {
  const u = cluster().users.scram;
  const t0 = performance.now();
  const c = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app", connectionTimeoutMillis: 15_000 });
  await c.connect();
  const r = await c.query("SELECT 1 AS one");
  await c.end();
  expect(r.rows[0].one).toBe(1);
  return performance.now() - t0;
}

describe("slow logins from one address", () => {
  test("1,000 startups that never answer (the victim's user and database, and junk names): real logins from another address take < 1 s", async () => {
    const victim = cluster().users.scram.user;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      starts.push(i % 2 === 0 ? slowLogin(victim, "app") : slowLogin(`junk_${i}`, `junkdb_${i}`));
      if (i % 100 === 99) await Promise.all(starts.splice(0));
    }
    await Promise.all(starts);
    const ctx = g.gateway.ctx;
    // Every slow login reached PgGate and is held: the relays of that address are in progress or queued.
    await waitUntil("the slow logins are held", () => ctx.sourceGate.inUse("127.0.0.2") + ctx.sourceGate.waiting("127.0.0.2") >= 900, 15_000);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await timedLogin());
    console.log(`real logins under 1,000 slow ones: ${times.map((t) => t.toFixed(0)).join(", ")} ms; relays held for the slow address: ${ctx.sourceGate.inUse("127.0.0.2")}, queued: ${ctx.sourceGate.waiting("127.0.0.2")}`);
    for (const t of times) expect(t).toBeLessThan(1000);
    // The slow address holds no more primary connections than its cap.
    expect(ctx.loginGate.inUse(ctx.databases.firstCluster.primary)).toBeLessThanOrEqual(4 + 1);
  }, 60_000);

  test("a slow login loses its relay after listen.auth_step_timeout_ms; one that leaves gives up its queue place at once", async () => {
    const ctx = g.gateway.ctx;
    for (const s of sockets.splice(0)) s.destroy();
    await waitUntil("the address's queue emptied as its clients left", () => ctx.sourceGate.waiting("127.0.0.2") === 0 && ctx.sourceGate.inUse("127.0.0.2") === 0, 10_000);
    const before = performance.now();
    const s = net.connect({ host: "127.0.0.1", port: g.port, localAddress: "127.0.0.2" });
    const closed = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", () => {});
    });
    s.on("connect", () => s.write(startupMessage({ user: cluster().users.scram.user, database: "app" })));
    const bytes = await closed;
    const took = performance.now() - before;
    expect(bytes.toString("latin1")).toContain("listen.auth_step_timeout_ms");
    // Default 5 s: well before the 30 s handshake timeout this gateway has.
    expect(took).toBeLessThan(15_000);
    expect(took).toBeGreaterThan(4000);
  }, 30_000);
});
