// Attack soak (issue 23 acceptance; not part of `npm test`):
//   npx bun scripts/attack-soak.ts [SECONDS=300]
// Two PgGates in front of one cluster, each beside pgbench -S: A in passthrough, B in auth_query,
// both with limits.max_buffered_bytes 128 MiB. At the same time, for SECONDS:
//   1. a logged-in user sends named Parses of 4 MB of SQL the server rejects (to A and B);
//   3. 1,000 startups from 127.0.0.2 that never answer the password request (to A; re-opened as
//      PgGate drops them), half with the pgbench user's own user and database;
//   4. 300 startups/s with random database names from 127.0.0.3 (to B).
// Every second a real client logs in (from 127.0.0.1) to each and runs SELECT 1. Prints each
// PgGate's peak RSS, the slowest real login, and pgbench's failed transactions.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { startCluster, type Cluster } from "./cluster.ts";

const seconds = Number(process.argv[2] ?? 300);
const BUDGET = 128 * 1024 * 1024;

function rssMb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = l.port;
  l.stop(true);
  return p;
}

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]), Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

interface Gate {
  name: string;
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
  pid: () => number;
}

async function startGate(name: string, c: Cluster, auth: Record<string, unknown>): Promise<Gate> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `pggate-attack-${name}-`));
  const path = join(dir, "pggate.yaml");
  writeFileSync(
    path,
    stringify({
      listen: { host: "127.0.0.1", port, max_client_connections: 100_000 },
      metrics: { enabled: false },
      nodes: { primary: { host: c.primary.host, port: c.primary.port }, replicas: c.replicas.map((r) => ({ host: r.host, port: r.port })), tls: { mode: "disable" } },
      auth,
      limits: { max_buffered_bytes: BUDGET },
      log: { level: "error" },
    }),
  );
  const proc = Bun.spawn(["bash", "-c", `ulimit -n $(ulimit -Hn); exec ${process.execPath} run src/main.ts --config ${path}`], { stdout: "inherit", stderr: "inherit" });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) break;
    await Bun.sleep(100);
  }
  return { name, port, proc, pid: () => proc.pid };
}

const cluster = await startCluster({ replicas: 1 });
const stopAt = Date.now() + seconds * 1000;
const running = () => Date.now() < stopAt;
try {
  const { user, password } = cluster.users.scram;
  const lookup = { auth_user: cluster.authUser.user, auth_password: cluster.authUser.password, auth_query: cluster.authQuery };
  const A = await startGate("passthrough", cluster, { mode: "passthrough" });
  const B = await startGate("auth_query", cluster, { mode: "auth_query", ...lookup });
  const gates = [A, B];
  const init = Bun.spawnSync(["pgbench", "-i", "-q", "-s", "1", `host=127.0.0.1 port=${cluster.primary.port} user=postgres dbname=app`]);
  if (init.exitCode !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  Bun.spawnSync(["psql", `host=127.0.0.1 port=${cluster.primary.port} user=postgres dbname=app`, "-c", `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${user}`]);
  await Bun.sleep(1000);
  const base = gates.map((g) => rssMb(g.pid()));
  const peak = [...base];
  const sampler = setInterval(() => gates.forEach((g, i) => (peak[i] = Math.max(peak[i], rssMb(g.pid())))), 250);

  const benches = gates.map((g) =>
    Bun.spawn(["pgbench", "-n", "-S", "-c", "4", "-T", String(seconds), `host=127.0.0.1 port=${g.port} user=${user} dbname=app`], { env: { ...process.env, PGPASSWORD: password }, stdout: "pipe", stderr: "pipe" }),
  );

  // Attack 1: 4 MB named Parses the server rejects, one attacker per PgGate.
  const filler = "x".repeat(4 * 1024 * 1024);
  let parses = 0;
  const statementAttack = async (g: Gate): Promise<void> => {
    let n = 0;
    while (running()) {
      const cl = new pg.Client({ host: "127.0.0.1", port: g.port, user, password, database: "app" });
      cl.on("error", () => {});
      try {
        await cl.connect();
        for (let i = 0; i < 50 && running(); i++) {
          await cl.query({ name: `s${n++}`, text: `SELECT no_such_column /* ${filler} */` }).catch(() => {});
          parses++;
        }
      } catch {
        await Bun.sleep(100);
      } finally {
        await cl.end().catch(() => {});
      }
    }
  };

  // Attack 3: 1,000 silent startups from 127.0.0.2 to A, re-opened as they are dropped.
  const silent = new Set<net.Socket>();
  const openSilent = (i: number): void => {
    if (!running()) return;
    const s = net.connect({ host: "127.0.0.1", port: A.port, localAddress: "127.0.0.2" });
    silent.add(s);
    s.on("error", () => {});
    s.on("connect", () => s.write(startupMessage(i % 2 === 0 ? { user, database: "app" } : { user: `junk_${i}`, database: `junkdb_${i}` })));
    s.on("close", () => {
      silent.delete(s);
      setTimeout(() => openSilent(i), 50);
    });
  };
  for (let i = 0; i < 1000; i++) openSilent(i);

  // Attack 4: 300 startups/s with random databases from 127.0.0.3 to B; each leaves after 2 s.
  let junk = 0;
  const junkTimer = setInterval(() => {
    for (let i = 0; i < 30; i++) {
      const s = net.connect({ host: "127.0.0.1", port: B.port, localAddress: "127.0.0.3" });
      s.on("error", () => {});
      s.on("connect", () => s.write(startupMessage({ user, database: `nodb_${Math.random().toString(36).slice(2)}` })));
      setTimeout(() => s.destroy(), 2000);
      junk++;
    }
  }, 100);

  // Real logins, once a second to each: psql in its own process (this one's event loop is busy
  // driving the attacks), a SCRAM login and SELECT 1, timed from spawn to exit.
  const logins: number[][] = gates.map(() => []);
  let loginFailures = 0;
  const realLogins = async (g: Gate, i: number): Promise<void> => {
    while (running()) {
      const t0 = performance.now();
      const p = Bun.spawn(["psql", `host=127.0.0.1 port=${g.port} user=${user} dbname=app connect_timeout=10`, "-Atc", "SELECT 1"], { env: { ...process.env, PGPASSWORD: password }, stdout: "pipe", stderr: "pipe" });
      const out = await new Response(p.stdout as ReadableStream).text();
      const code = await p.exited;
      if (code === 0 && out.trim() === "1") logins[i].push(performance.now() - t0);
      else {
        loginFailures++;
        console.error(`real login to ${g.name} failed: ${await new Response(p.stderr as ReadableStream).text()}`);
      }
      await Bun.sleep(1000);
    }
  };

  // The same probe straight to the primary: what a login costs on this machine under this load
  // without any proxy (the cores are shared by everything here).
  const directLogins: number[] = [];
  const directProbe = async (): Promise<void> => {
    while (running()) {
      const t0 = performance.now();
      const p = Bun.spawn(["psql", `host=127.0.0.1 port=${cluster.primary.port} user=${user} dbname=app connect_timeout=10`, "-Atc", "SELECT 1"], { env: { ...process.env, PGPASSWORD: password }, stdout: "pipe", stderr: "pipe" });
      await new Response(p.stdout as ReadableStream).text();
      if ((await p.exited) === 0) directLogins.push(performance.now() - t0);
      await Bun.sleep(1000);
    }
  };

  const progress = setInterval(() => {
    console.log(`  t+${Math.round(seconds - (stopAt - Date.now()) / 1000)} s: RSS ${gates.map((g) => `${g.name} ${rssMb(g.pid()).toFixed(0)} MB`).join(", ")}; parses ${parses}, silent held ${silent.size}, junk startups ${junk}`);
  }, 30_000);
  await Promise.all([...gates.map((g) => statementAttack(g)), ...gates.map((g, i) => realLogins(g, i)), directProbe()]);
  clearInterval(junkTimer);
  clearInterval(progress);
  for (const s of silent) s.destroy();
  const results = await Promise.all(
    benches.map(async (b) => ({ out: await new Response(b.stdout as ReadableStream).text(), err: await new Response(b.stderr as ReadableStream).text(), code: await b.exited })),
  );
  results.forEach((r, i) => {
    if (r.code !== 0) console.log(`pgbench through ${gates[i].name} exited ${r.code}: ${r.err.trim().split("\n").slice(-5).join(" | ")}`);
  });
  clearInterval(sampler);

  console.log(`\nattack soak, ${seconds} s, limits.max_buffered_bytes ${BUDGET / 2 ** 20} MiB`);
  gates.forEach((g, i) => {
    const l = logins[i].sort((a, b) => a - b);
    const failed = results[i].out.match(/number of failed transactions: (\d+)/)?.[1] ?? "?";
    const tps = results[i].out.match(/tps = ([\d.]+)/)?.[1] ?? "?";
    console.log(
      `${g.name}: RSS ${base[i].toFixed(0)} -> peak ${peak[i].toFixed(0)} MB (+${(peak[i] - base[i]).toFixed(0)} MB); real logins ${l.length}, median ${l[l.length >> 1]?.toFixed(0)} ms, max ${l[l.length - 1]?.toFixed(0)} ms; pgbench ${tps} TPS, failed transactions ${failed} (exit ${results[i].code})`,
    );
  });
  const d = directLogins.sort((x, y) => x - y);
  console.log(`direct to the primary (same probe, no proxy): logins ${d.length}, median ${d[d.length >> 1]?.toFixed(0)} ms, max ${d[d.length - 1]?.toFixed(0)} ms`);
  console.log(`attacks: ${parses} rejected 4 MB Parses, ${junk} junk-database startups, 1,000 silent startups held throughout; real login failures: ${loginFailures}`);
  for (const g of gates) g.proc.kill("SIGKILL");
} finally {
  await cluster.stop();
}
