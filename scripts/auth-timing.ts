// Login-failure timing in auth_query mode: an unknown user vs a known user with a wrong password
// (issue 14: they must be indistinguishable). Starts a throwaway cluster and PgGate in process,
// then interleaves attempts and prints the medians. Run: npx bun scripts/auth-timing.ts [rounds]
import pg from "pg";
import { configFromObject } from "../src/config/index.ts";
import { Gateway } from "../src/gateway.ts";
import { startCluster } from "./cluster.ts";

const rounds = Number(process.argv[2] ?? 300);
const cluster = await startCluster({ replicas: 0, log: () => {} });
const gateway = new Gateway(
  configFromObject(
    {
      listen: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      nodes: { primary: { host: cluster.primary.host, port: cluster.primary.port }, tls: { mode: "disable" } },
      auth: { mode: "auth_query", auth_user: cluster.authUser.user, auth_password: cluster.authUser.password, auth_query: cluster.authQuery },
      log: { level: "error" },
    },
    { source: "", env: {} },
  ),
);
gateway.start();

/** Milliseconds from connect() to the refusal. */
async function attempt(user: string, password: string): Promise<number> {
  const c = new pg.Client({ host: "127.0.0.1", port: gateway.port, user, password, database: "app" });
  c.on("error", () => {});
  const t0 = performance.now();
  try {
    await c.connect();
    await c.end();
    throw new Error(`${user} logged in`);
  } catch (e) {
    if ((e as { code?: string }).code !== "28P01") throw e;
  }
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

try {
  const known = cluster.users.scram.user;
  // Warm-up: the verifier census, kept lookup connections, JIT.
  for (let i = 0; i < 20; i++) {
    await attempt(known, "wrong");
    await attempt("nobody", "wrong");
  }
  const wrong: number[] = [];
  const unknown: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < rounds; i++) {
    wrong.push(await attempt(known, `wrong${i}`));
    unknown.push(await attempt("nobody", `wrong${i}`));
    fresh.push(await attempt(`nobody_${i}`, "x"));
  }
  const row = (name: string, xs: number[]) => console.log(`${name.padEnd(34)} median ${median(xs).toFixed(2)} ms   p90 ${p90(xs).toFixed(2)} ms`);
  console.log(`auth_query login failures, ${rounds} interleaved rounds (client: node-postgres SCRAM, same machine)`);
  row("known user, wrong password", wrong);
  row("unknown user (same name)", unknown);
  row("unknown user (new name each time)", fresh);
  console.log(`unknown / known median ratio: ${(median(unknown) / median(wrong)).toFixed(2)} (same name), ${(median(fresh) / median(wrong)).toFixed(2)} (new names)`);
} finally {
  await gateway.shutdown();
  await cluster.stop();
}
process.exit(0);
