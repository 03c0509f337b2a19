// A real PgBouncer (Debian's 1.18) in front of the test cluster's primary, and Debian's
// prometheus-pgbouncer-exporter, for the compatibility test. Both optional: callers skip, saying
// so, when they are not installed (`.ci/run` installs them). No test logic here.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { cluster, freePort, run, waitForPort, type CmdResult } from "./harness.ts";

export const PGBOUNCER_BIN = Bun.which("pgbouncer") ?? Bun.which("pgbouncer", { PATH: "/usr/sbin:/usr/bin" });
export const EXPORTER_BIN = Bun.which("prometheus-pgbouncer-exporter");
/** The exporter's own interpreter (its modules live in Debian's dist-packages). */
const SYSTEM_PYTHON = "/usr/bin/python3";

export interface RunningPgBouncer {
  port: number;
  /** trust: any name in the userlist logs in without a password. */
  adminUser: string;
  statsUser: string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer with auth_type trust in its own temp dir, serving `app` from the primary (where
 * `postgres` is trusted from 127.0.0.1). PgBouncer refuses to run as root: as root it runs as the
 * `postgres` OS user, which is why its directory is world-writable.
 */
export async function startPgBouncer(): Promise<RunningPgBouncer> {
  if (PGBOUNCER_BIN === null) throw new Error("pgbouncer is not installed");
  const dir = mkdtempSync(join(tmpdir(), "pggate-pgbouncer-"));
  chmodSync(dir, 0o777);
  const port = freePort();
  const { primary } = cluster();
  const adminUser = "postgres";
  const statsUser = "pgb_stats";
  writeFileSync(join(dir, "users.txt"), `"${adminUser}" ""\n"${statsUser}" ""\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `app = host=${primary.host} port=${primary.port} dbname=app`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      `admin_users = ${adminUser}`,
      `stats_users = ${statsUser}`,
      "pool_mode = transaction",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  const asPostgres = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const proc: Subprocess = Bun.spawn([...asPostgres, PGBOUNCER_BIN, join(dir, "pgbouncer.ini")], { stdout: "ignore", stderr: "pipe" });
  try {
    await waitForPort(port, 15_000);
  } catch (e) {
    proc.kill();
    throw new Error(`pgbouncer did not listen on ${port}: ${(e as Error).message}`);
  }
  return {
    port,
    adminUser,
    statsUser,
    stop: async () => {
      // SIGTERM: PgBouncer's immediate shutdown (SIGINT would wait for its clients to leave).
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5_000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The shipped exporter as its service runs it; it exits at once if a collector fails to register. */
export function runExporterCli(port: number, user: string, password: string): Promise<CmdResult> {
  if (EXPORTER_BIN === null) throw new Error("prometheus-pgbouncer-exporter is not installed");
  const args = [EXPORTER_BIN, "--pgbouncer-host", "127.0.0.1", "--pgbouncer-port", String(port), "--pgbouncer-user", user, "--host", "127.0.0.1", "--port", String(freePort())];
  return run(args, { PGPASSWORD: password }, 20_000);
}

/**
 * The exporter's own POOLS, DATABASES and LISTS collectors (its code, unchanged) in a fresh
 * registry: the series it would serve if its STATS collector, written for PgBouncer < 1.8 (it
 * reads `total_requests`), did not stop it from starting.
 */
export async function exporterSeries(port: number, user: string, password: string): Promise<CmdResult> {
  const script = `
import sys
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_pgbouncer_exporter.utils import get_connection
from prometheus_pgbouncer_exporter.collectors import PoolsCollector, DatabasesCollector, ListsCollector
conn = get_connection(sys.argv[2], sys.argv[1], "127.0.0.1")
registry = CollectorRegistry()
registry.register(PoolsCollector(connection=conn, databases=None))
registry.register(DatabasesCollector(connection=conn, databases=None))
registry.register(ListsCollector(connection=conn))
sys.stdout.write(generate_latest(registry).decode())
`;
  return run([SYSTEM_PYTHON, "-c", script, String(port), user], { PGPASSWORD: password }, 20_000);
}

/** Sample lines of Prometheus text as [`name{labels}`, value], in order (duplicates kept). */
export function parseSeries(text: string): [string, number][] {
  const out: [string, number][] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.push([line.slice(0, i), Number(line.slice(i + 1))]);
  }
  return out;
}
