// Starts PgGate for integration tests — in-process (fast, default) or as the built binary — on a
// free port, in front of the shared test cluster; and runs psql/pgbench against it.
import { readFileSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { configFromObject, loadConfig } from "../../src/config/index.ts";
import { Gateway } from "../../src/gateway.ts";
import { testCluster, type TestCluster } from "../../scripts/cluster.ts";
import { scratchPath } from "../scratch.ts";

export { scratchPath };

export type YamlObject = Record<string, unknown>;

let cached: TestCluster | null = null;
export function cluster(): TestCluster {
  cached ??= testCluster();
  return cached;
}

/** The YAML-shaped config for the shared cluster, with `overrides` merged section by section. */
export function baseConfig(overrides: YamlObject = {}): YamlObject {
  const c = cluster();
  const base: YamlObject = {
    listen: { host: "127.0.0.1", port: 0 },
    metrics: { enabled: false },
    nodes: {
      primary: { host: c.primary.host, port: c.primary.port },
      replicas: c.replicas.map((r) => ({ host: r.host, port: r.port })),
      tls: { mode: "disable" },
    },
    // auth_query runs in postgres: tests create databases without the cluster's lookup function.
    auth: { mode: "passthrough", auth_user: c.authUser.user, auth_password: c.authUser.password, auth_query: c.authQuery, auth_database: "postgres" },
    log: { level: "warn" },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const cur = base[k];
    base[k] = cur && typeof cur === "object" && v && typeof v === "object" && !Array.isArray(v) ? { ...cur, ...(v as YamlObject) } : v;
  }
  return base;
}

/**
 * An auth.hba file saying what the cluster's pg_hba says about cleartext: pggate_plain is asked
 * for a password although its stored secret is SCRAM. auth_query mode needs it to challenge that
 * role for cleartext from its first login (see the README's Authentication section).
 */
export function clusterHba(): string {
  const path = scratchPath("hba.conf");
  writeFileSync(path, `host all ${cluster().users.plain.user} 127.0.0.1/32 password\nhost all all 127.0.0.1/32 scram-sha-256\n`);
  return path;
}

export interface RunningGateway {
  port: number;
  gateway: Gateway;
  stop(): Promise<void>;
}

export function startGateway(overrides: YamlObject = {}): RunningGateway {
  const config = configFromObject(baseConfig(overrides), { source: scratchPath("pggate.yaml"), env: {} });
  const gateway = new Gateway(config);
  gateway.start();
  return {
    port: gateway.port,
    gateway,
    stop: () => gateway.shutdown(),
  };
}

/** Writes a config file (for the binary, SIGHUP tests, `pggate check`). */
export function writeConfig(overrides: YamlObject = {}): string {
  const path = scratchPath("pggate.yaml");
  writeFileSync(path, stringify(baseConfig(overrides)));
  return path;
}

/**
 * Polls `probe` every `intervalMs` until it returns something truthy, which is returned. A probe
 * that throws counts as "not yet" (a port not listening yet). After `timeoutMs` it throws, naming
 * `what` and the probe's last error. Wait on the real condition this way, never on a fixed sleep:
 * under load everything takes longer, so deadlines are generous and cost nothing when things work.
 */
export async function waitUntil<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = `: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError}`);
    await Bun.sleep(intervalMs);
  }
}

/** Whether `port` can be listened on right now. */
function canListen(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** Start of the kernel's ephemeral port range (what port 0 and outgoing connections use). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * The first of `count` consecutive ports nothing listens on, for processes that need their ports
 * up front (workers serve metrics on metrics.port + i). Taken below the ephemeral range: a port
 * from it can be grabbed by any outgoing connection or port-0 listener before the process meant
 * to listen there starts, which made worker 1's metrics port fail now and then.
 */
export function freePort(count = 1): number {
  const high = ephemeralLow() - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if (Array.from({ length: count }, (_, i) => base + i).every(canListen)) return base;
  }
  throw new Error(`no ${count} consecutive free ports below ${high + count}`);
}

/** Waits until something accepts TCP connections on `port`. */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  await waitUntil(`a listener on port ${port}`, async () => {
    const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    s.end();
    return true;
  }, timeoutMs);
}

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(cmd: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CmdResult> {
  const proc = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), timeoutMs);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export function connString(port: number, user: string, db = "app", extra = "sslmode=disable"): string {
  return `host=127.0.0.1 port=${port} user=${user} dbname=${db} ${extra}`;
}

/** psql -Atq through PgGate as `user`; returns trimmed stdout, or throws with stderr. */
export async function psql(port: number, user: { user: string; password: string }, sql: string, opts: { db?: string; extra?: string } = {}): Promise<string> {
  const r = await run(["psql", connString(port, user.user, opts.db, opts.extra), "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql], { PGPASSWORD: user.password });
  if (r.code !== 0) throw new Error(r.stderr.trim() || `psql exited ${r.code}`);
  return r.stdout.trim();
}

/** A gateway started from a real file (so RELOAD / SIGHUP can re-read it); returns the path too. */
export function startGatewayFromFile(overrides: YamlObject = {}): RunningGateway & { path: string } {
  const path = writeConfig(overrides);
  const gateway = new Gateway(loadConfig(path, { env: {} }));
  gateway.start();
  return { port: gateway.port, gateway, path, stop: () => gateway.shutdown() };
}
