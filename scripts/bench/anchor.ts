// Is the bench's PgBouncer as fast as a stock one? Starts the bench's PgBouncer (scripts/bench/
// systems.ts) and a stock-configured one (auth_type scram-sha-256, Debian's defaults otherwise,
// started directly as postgres) on one throwaway cluster, and runs scenario 1 against both in 5
// interleaved rounds, printing TPS and CPU per transaction: `bun run scripts/bench/anchor.ts`.
import { mkdtempSync, chmodSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster } from "../cluster.ts";
import { runPgbench } from "./pgbench.ts";
import { CLK_TCK, cpuTicks, freePorts, sleep, stopAllTracked, track, treePids } from "./procs.ts";
import { startPgbouncer, type StartContext } from "./systems.ts";
const cluster = await startCluster({ replicas: 2, synchronousCommit: "on" });
const workDir = mkdtempSync(join(tmpdir(), "anchor-")); chmodSync(workDir, 0o755);
Bun.spawnSync(["pgbench", "-i", "-s", "10", "-q", `host=127.0.0.1 port=${cluster.primary.port} user=postgres dbname=app`]);
await cluster.psql(cluster.primary, "GRANT SELECT, UPDATE, INSERT ON ALL TABLES IN SCHEMA public TO pggate_scram", "app");
const ctx: StartContext = { cluster, workDir, pggateBinary: "", database: "app" };
const bench = await startPgbouncer(ctx, { poolSize: 20, maxClientConn: 1100 });
// stock: auth_type scram-sha-256, default logging to a file as Debian ships, started directly as postgres
const shadow = await cluster.psql(cluster.primary, "SELECT usename, passwd FROM pg_shadow WHERE usename LIKE 'pggate_%'");
const d = join(workDir, "stock"); Bun.spawnSync(["mkdir", "-p", d]); Bun.spawnSync(["chown", "postgres", d]);
writeFileSync(join(d, "users.txt"), shadow.split("\n").filter(Boolean).map((l) => { const [u, s] = l.split("|"); return `"${u}" "${s}"`; }).join("\n") + "\n");
const [port] = freePorts(1);
writeFileSync(join(d, "pgbouncer.ini"), `[databases]\napp = host=127.0.0.1 port=${cluster.primary.port} dbname=app\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = ${join(d, "users.txt")}\npool_mode = transaction\ndefault_pool_size = 20\nmax_client_conn = 1100\nlogfile = ${join(d, "log")}\npidfile = ${join(d, "pid")}\n`);
Bun.spawnSync(["chown", "-R", "postgres", d]);
const stock = track(Bun.spawn(["runuser", "-u", "postgres", "--", "pgbouncer", join(d, "pgbouncer.ini")], { stdout: "ignore", stderr: "ignore" }));
await sleep(1000);
const stockPids = () => treePids(stock.pid, ["pgbouncer"]);
const u = cluster.users.scram;
const systems = [{ label: "bench PgBouncer", port: bench.port, pids: bench.pids }, { label: "stock PgBouncer", port, pids: stockPids }];
for (const s of systems) await runPgbench({ port: s.port, user: u.user, password: u.password, database: "app" }, { args: ["-S", "-c", "20", "-j", "2"], durationS: 3, logPrefix: null });
for (let r = 1; r <= 5; r++) for (const s of r % 2 ? systems : [...systems].reverse()) {
  const t0 = cpuTicks(s.pids());
  const res = await runPgbench({ port: s.port, user: u.user, password: u.password, database: "app" }, { args: ["-S", "-M", "simple", "-c", "20", "-j", "2"], durationS: 5, logPrefix: null });
  const us = ((cpuTicks(s.pids()) - t0) * 1e6 / CLK_TCK) / (res.transactions ?? 1);
  console.log(r, s.label.padEnd(18), Math.round(res.tps ?? 0), "tps", us.toFixed(1), "µs/txn", "pids", s.pids().join(","));
}
await bench.stop(); stock.kill(); await stopAllTracked(); await cluster.stop(); process.exit(0);
