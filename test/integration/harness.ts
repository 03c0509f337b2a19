// Starts PgGate for integration tests — in-process (fast, default) or as the built binary — on a
// free port, in front of the shared test cluster; and runs psql/pgbench against it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { configFromObject, loadConfig } from "../../src/config/index.ts";
import { Gateway } from "../../src/gateway.ts";
import { testCluster, type TestCluster } from "../../scripts/cluster.ts";

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
    auth: { mode: "passthrough", auth_user: c.authUser.user, auth_password: c.authUser.password, auth_query: c.authQuery },
    log: { level: "warn" },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const cur = base[k];
    base[k] = cur && typeof cur === "object" && v && typeof v === "object" && !Array.isArray(v) ? { ...cur, ...(v as YamlObject) } : v;
  }
  return base;
}

export interface RunningGateway {
  port: number;
  gateway: Gateway;
  stop(): Promise<void>;
}

export function startGateway(overrides: YamlObject = {}): RunningGateway {
  const config = configFromObject(baseConfig(overrides), { source: join(mkdtempSync(join(tmpdir(), "pggate-cfg-")), "pggate.yaml"), env: {} });
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
  const dir = mkdtempSync(join(tmpdir(), "pggate-cfg-"));
  const path = join(dir, "pggate.yaml");
  writeFileSync(path, stringify(baseConfig(overrides)));
  return path;
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
