// Throwaway local PostgreSQL cluster (one primary + N streaming replicas) for tests, benchmarks and
// dev, plus the CLI `bun scripts/cluster.ts start`. Owns only the processes and files it creates
// under its own temp dir; never touches a system cluster and never leaks a running postmaster.

import { appendFile, chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync, rmSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

// ---------------------------------------------------------------------------------------------
// Public types

export interface NodeInfo {
  host: string;
  port: number;
  dataDir: string;
}

export interface Credentials {
  user: string;
  password: string;
}

export interface ClusterOptions {
  /** Number of streaming replicas; default 2. */
  replicas?: number;
  /** Replica index -> recovery_min_apply_delay in ms: replication lag on demand. */
  delayMs?: Record<number, number>;
  /**
   * synchronous_commit on every node; default "off" (fast tests). The bench uses "on",
   * PostgreSQL's default, so read-your-writes is measured as production clusters run.
   */
  synchronousCommit?: "on" | "off";
  /** ssl=on on every node; default true. Certificates are generated either way. */
  tls?: boolean;
  /** Parent of the temp dir; default os.tmpdir(). Must be traversable by the postgres OS user. */
  baseDir?: string;
  /** Progress lines (timings per step). */
  log?: (line: string) => void;
}

/** Everything about a cluster that survives JSON (what PGGATE_TEST_CLUSTER carries). */
export interface ClusterInfo {
  dir: string;
  primary: NodeInfo;
  replicas: NodeInfo[];
  /** "postgres": trust from 127.0.0.1 for this role only. */
  superuser: string;
  users: { scram: Credentials; md5: Credentials; plain: Credentials };
  /** Role allowed to run authQuery (PgGate's auth_query mode). */
  authUser: Credentials;
  authQuery: string;
  /** PEM file paths; server cert is for localhost and 127.0.0.1, signed by `ca`. */
  tls: { cert: string; key: string; ca: string };
  /** Whether the nodes run with ssl=on. */
  tlsEnabled: boolean;
  databases: string[];
  delayMs: Record<number, number>;
}

/** Operations that need only ClusterInfo, so test processes get them back from JSON too. */
export interface ClusterControl {
  /** Default mode "fast". No-op if the node is already stopped. */
  stopNode(i: "primary" | number, mode?: "fast" | "immediate"): Promise<void>;
  /** No-op if the node is already running. */
  startNode(i: "primary" | number): Promise<void>;
  /** Promotes a replica and waits until it accepts writes. `primary` is NOT reassigned. */
  promote(replicaIndex: number): Promise<void>;
  /** Runs `sql` (one or more statements) as the superuser; stdout of psql -Atq, final newline removed. */
  psql(node: NodeInfo, sql: string, db?: string): Promise<string>;
  /** Resolves when every running, non-delayed, still-in-recovery replica replayed the primary's LSN. */
  waitForReplay(timeoutMs?: number): Promise<void>;
}

export interface Cluster extends ClusterInfo, ClusterControl {
  /** pg_ctl stop -m immediate on all nodes, then removes dir. Idempotent; never throws. */
  stop(): Promise<void>;
}

export type TestCluster = ClusterInfo & ClusterControl;

// ---------------------------------------------------------------------------------------------
// Constants

const PG_BIN = process.env.PGGATE_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const HOST = "127.0.0.1";
const SUPERUSER = "postgres";
// The postmaster refuses to run as root, so as root every server-side binary runs as `postgres`.
const IS_ROOT = process.getuid?.() === 0;
const AS_POSTGRES = IS_ROOT ? ["runuser", "-u", "postgres", "--"] : [];
const PG_CTL_TIMEOUT_S = "30";
const LOG_FILE = "postgres.log";

const USERS = {
  scram: { user: "pggate_scram", password: "scram_pw" },
  md5: { user: "pggate_md5", password: "md5_pw" },
  plain: { user: "pggate_plain", password: "plain_pw" },
} as const;
const AUTH_USER = { user: "pggate_auth", password: "auth_pw" } as const;
const AUTH_QUERY = "SELECT usename, passwd FROM pggate_lookup($1)";
const DATABASES = ["postgres", "app"];

// Order matters: first match wins, so the superuser/replication trust lines come before the
// catch-all scram line. Plain `host` lines match both SSL and non-SSL TCP connections.
const PG_HBA = `# written by scripts/cluster.ts
local   all          all                         trust
host    all          postgres      127.0.0.1/32  trust
host    replication  all           127.0.0.1/32  trust
host    all          pggate_md5    127.0.0.1/32  md5
host    all          pggate_plain  127.0.0.1/32  password
host    all          all           127.0.0.1/32  scram-sha-256
`;

// Runs once on the primary (postgres db, then app db via \connect); replicas get it by streaming.
const SETUP_SQL = (() => {
  const testUsers = Object.values(USERS).map((u) => u.user).join(", ");
  const perDatabase = `
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT CREATE ON SCHEMA public TO ${testUsers};
CREATE FUNCTION pggate_lookup(i_username text, OUT usename name, OUT passwd text)
  RETURNS record LANGUAGE sql SECURITY DEFINER
  -- No secret for a role past its VALID UNTIL: PostgreSQL refuses its password too.
  AS $$ SELECT usename, CASE WHEN valuntil IS NULL OR valuntil >= now() THEN passwd END
        FROM pg_catalog.pg_shadow WHERE usename = i_username $$;
REVOKE ALL ON FUNCTION pggate_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pggate_lookup(text) TO ${AUTH_USER.user};
`;
  return `
CREATE ROLE ${USERS.scram.user} LOGIN PASSWORD '${USERS.scram.password}';
-- md5 auth only happens when the stored verifier is md5 (a SCRAM verifier upgrades md5 to SCRAM).
SET password_encryption = 'md5';
CREATE ROLE ${USERS.md5.user} LOGIN PASSWORD '${USERS.md5.password}';
RESET password_encryption;
-- SCRAM verifier on purpose: pg_hba forces cleartext for this role regardless.
CREATE ROLE ${USERS.plain.user} LOGIN PASSWORD '${USERS.plain.password}';
CREATE ROLE ${AUTH_USER.user} LOGIN PASSWORD '${AUTH_USER.password}';
CREATE DATABASE app;
GRANT CREATE ON DATABASE app TO ${testUsers};
${perDatabase}
\\connect app
${perDatabase}
`;
})();

// ---------------------------------------------------------------------------------------------
// Process helpers

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** libpq reads PG* variables; a developer's PGSSLMODE or PGPASSWORD must not change our runs. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PG")) env[k] = v;
  }
  return { ...env, ...extra };
}

// Children still running: the sync exit path must end them before it stops nodes and removes files,
// or an initdb / pg_basebackup / pg_ctl start racing with the cleanup could leave a server behind.
const inFlight = new Set<Subprocess>();

async function run(
  argv: string[],
  opts: { asPostgres?: boolean; stdin?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const cmd = opts.asPostgres ? [...AS_POSTGRES, ...argv] : argv;
  // cwd = tmpdir: the postgres user may not be allowed into the caller's cwd (e.g. /root).
  const proc = Bun.spawn(cmd, {
    cwd: tmpdir(),
    env: cleanEnv(opts.env),
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  inFlight.add(proc);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  } finally {
    inFlight.delete(proc);
  }
}

async function runOrThrow(label: string, argv: string[], opts: Parameters<typeof run>[1] = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${label} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

function logTail(dataDir: string, lines = 25): string {
  const path = join(dataDir, LOG_FILE);
  try {
    const text = readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    return `\n--- last lines of ${path} ---\n${text}`;
  } catch {
    return `\n(no log at ${path})`;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Like Promise.all, but rejects only after every branch settled: cleanup must not race a branch. */
async function allSettledOrThrow(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Binds port 0 n times at once (so the ports are distinct), then releases them all. */
function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () =>
    Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } }),
  );
  const ports = listeners.map((l) => l.port);
  for (const l of listeners) l.stop(true);
  return ports;
}

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("no `postgres` OS user to run the server as");
  return { uid, gid };
}

// ---------------------------------------------------------------------------------------------
// Leak protection: every data dir is registered before its postmaster can exist.

const liveClusters = new Map<string, Set<string>>(); // temp dir -> data dirs
let exitHooksInstalled = false;

/** Linux: a process is gone once /proc has no entry or only a zombie (we cannot reap synchronously). */
function hasExited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

function stopAllSync(): void {
  if (liveClusters.size === 0) return;
  // SIGTERM, not SIGKILL: runuser forwards it to its child and waits, initdb removes its half-made dir.
  for (const proc of inFlight) proc.kill("SIGTERM");
  const deadline = Date.now() + 5_000;
  while ([...inFlight].some((p) => !hasExited(p.pid)) && Date.now() < deadline) Bun.sleepSync(20);
  for (const [dir, dataDirs] of liveClusters) {
    for (const dataDir of dataDirs) {
      Bun.spawnSync([...AS_POSTGRES, `${PG_BIN}/pg_ctl`, "stop", "-m", "immediate", "-w", "-t", "10", "-D", dataDir], {
        cwd: tmpdir(),
        stdout: "ignore",
        stderr: "ignore",
      });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  liveClusters.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", stopAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // If someone else also listens (the CLI, scripts/test.ts), they own the exit and the `exit`
    // hook above still cleans up; if we are alone, behave like the default action would.
    process.on(sig, () => {
      if (process.listenerCount(sig) === 1) process.exit(128 + osConstants.signals[sig]);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Node operations (stateless: need only NodeInfo, so they work from JSON in test processes)

function pgCtl(args: string[], node: NodeInfo): Promise<RunResult> {
  return run([`${PG_BIN}/pg_ctl`, ...args, "-D", node.dataDir], { asPostgres: true });
}

async function isRunning(node: NodeInfo): Promise<boolean> {
  // pg_ctl status: 0 = running, 3 = not running, 4 = no data dir.
  return (await pgCtl(["status"], node)).code === 0;
}

async function startNodeAt(node: NodeInfo, label: string): Promise<void> {
  const r = await pgCtl(["start", "-w", "-t", PG_CTL_TIMEOUT_S, "-l", join(node.dataDir, LOG_FILE)], node);
  if (r.code !== 0) {
    throw new Error(`starting ${label} on port ${node.port} failed: ${r.stderr.trim()}${logTail(node.dataDir)}`);
  }
}

async function stopNodeAt(node: NodeInfo, label: string, mode: "fast" | "immediate"): Promise<void> {
  if (!(await isRunning(node))) return;
  const r = await pgCtl(["stop", "-m", mode, "-w", "-t", PG_CTL_TIMEOUT_S], node);
  if (r.code !== 0) throw new Error(`stopping ${label} failed: ${r.stderr.trim()}${logTail(node.dataDir)}`);
}

async function psqlAt(node: NodeInfo, sql: string, db: string, user: string): Promise<string> {
  const conninfo = `host=${node.host} port=${node.port} user=${user} dbname=${db} sslmode=disable connect_timeout=10`;
  // SQL on stdin (not -c) so several statements run one by one, like a script, with \connect allowed.
  const r = await run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", "-"], {
    stdin: sql,
    env: { PGAPPNAME: "pggate-cluster" },
  });
  if (r.code !== 0) {
    throw new Error(`psql on ${node.host}:${node.port}/${db} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout.replace(/\n$/, "");
}

function controlFor(info: ClusterInfo): ClusterControl {
  const nodeOf = (i: "primary" | number): [NodeInfo, string] => {
    if (i === "primary") return [info.primary, "primary"];
    const node = info.replicas[i];
    if (!node) throw new Error(`no replica ${i} (cluster has ${info.replicas.length})`);
    return [node, `replica ${i}`];
  };
  const psql = (node: NodeInfo, sql: string, db = "postgres") => psqlAt(node, sql, db, info.superuser);

  return {
    psql,
    async stopNode(i, mode = "fast") {
      const [node, label] = nodeOf(i);
      await stopNodeAt(node, label, mode);
    },
    async startNode(i) {
      const [node, label] = nodeOf(i);
      if (!(await isRunning(node))) await startNodeAt(node, label);
    },
    async promote(replicaIndex) {
      const [node, label] = nodeOf(replicaIndex);
      const r = await pgCtl(["promote", "-w", "-t", PG_CTL_TIMEOUT_S], node);
      if (r.code !== 0) throw new Error(`promoting ${label} failed: ${r.stderr.trim()}${logTail(node.dataDir)}`);
    },
    async waitForReplay(timeoutMs = 30_000) {
      const target = await psql(info.primary, "SELECT pg_current_wal_lsn()");
      const deadline = Date.now() + timeoutMs;
      await Promise.all(
        info.replicas.map(async (node, i) => {
          if ((info.delayMs[i] ?? 0) > 0 || !(await isRunning(node))) return;
          for (;;) {
            // Promoted replicas left recovery: nothing to wait for.
            const row = await psql(
              node,
              `SELECT pg_is_in_recovery() AND coalesce(pg_last_wal_replay_lsn() < '${target}'::pg_lsn, true)`,
            );
            if (row === "f") return;
            if (Date.now() > deadline) {
              throw new Error(`replica ${i} (port ${node.port}) did not replay ${target} within ${timeoutMs} ms`);
            }
            await sleep(10);
          }
        }),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Startup

/** CA + server cert (EC P-256: key generation takes milliseconds, unlike RSA). */
async function makeCerts(dir: string): Promise<ClusterInfo["tls"]> {
  await mkdir(dir);
  const cnf = join(dir, "openssl.cnf");
  // Own config so the result does not depend on the distribution's openssl.cnf defaults.
  await writeFile(
    cnf,
    `[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`,
  );
  const ca = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-config", cnf];
  await allSettledOrThrow([
    runOrThrow("openssl (CA)", ["openssl", "req", "-x509", "-new", ...newKey, "-extensions", "v3_ca",
      "-subj", "/CN=PgGate test CA", "-days", "30", "-keyout", caKey, "-out", ca]),
    runOrThrow("openssl (server key)", ["openssl", "req", "-new", ...newKey,
      "-subj", "/CN=localhost", "-keyout", key, "-out", csr]),
  ]);
  const serial = `0x${Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  await runOrThrow("openssl (sign)", ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey,
    "-set_serial", serial, "-days", "30", "-extfile", cnf, "-extensions", "v3_server", "-out", cert]);
  // The server refuses a key readable by others; when root, it must also be owned by postgres.
  await chmod(key, 0o600);
  if (IS_ROOT) {
    const { uid, gid } = postgresIds();
    await chown(dir, uid, gid);
    await chown(key, uid, gid);
  }
  return { cert, key, ca };
}

function serverConf(port: number, socketDir: string, tls: ClusterInfo["tls"], tlsEnabled: boolean, replicas: number, synchronousCommit: "on" | "off"): string {
  return `
# ---- scripts/cluster.ts (later settings override earlier ones) ----
listen_addresses = '${HOST}'
port = ${port}
unix_socket_directories = '${socketDir}'
cluster_name = 'primary'
max_connections = 200
shared_buffers = '32MB'
fsync = off
synchronous_commit = ${synchronousCommit}
full_page_writes = off
wal_level = replica
# Each parallel pg_basebackup -X stream holds two walsenders, each streaming replica one.
max_wal_senders = ${Math.max(10, 3 * replicas + 2)}
# Lets a replica stopped by a test catch up without replication slots.
wal_keep_size = '256MB'
# Faster WAL flush with synchronous_commit=off, so replicas see commits within milliseconds.
wal_writer_delay = '10ms'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = '1s'
ssl = ${tlsEnabled ? "on" : "off"}
ssl_cert_file = '${tls.cert}'
ssl_key_file = '${tls.key}'
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
`;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const replicaCount = opts.replicas ?? 2;
  const tlsEnabled = opts.tls ?? true;
  const delayMs = opts.delayMs ?? {};
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const step = (what: string) => log(`cluster: ${what} (${Math.round(performance.now() - t0)} ms)`);

  installExitHooks();
  const dir = await mkdtemp(join(opts.baseDir ?? tmpdir(), "pggate-cluster-"));
  const dataDirs = new Set<string>();
  liveClusters.set(dir, dataDirs);

  try {
    if (IS_ROOT) {
      const { uid, gid } = postgresIds();
      await chown(dir, uid, gid);
    }
    const [primaryPort, ...replicaPorts] = freePorts(1 + replicaCount);
    const primary: NodeInfo = { host: HOST, port: primaryPort, dataDir: join(dir, "primary") };
    const replicas: NodeInfo[] = replicaPorts.map((port, i) => ({ host: HOST, port, dataDir: join(dir, `replica${i}`) }));
    for (const n of [primary, ...replicas]) dataDirs.add(n.dataDir);

    const certs = makeCerts(join(dir, "tls"));
    const initdb = runOrThrow("initdb", [`${PG_BIN}/initdb`, "-D", primary.dataDir, "-U", SUPERUSER, "-A", "trust",
      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], { asPostgres: true });
    await allSettledOrThrow([certs, initdb]);
    const tls = await certs;
    step("initdb + certificates done");

    await writeFile(join(primary.dataDir, "pg_hba.conf"), PG_HBA);
    await appendFile(join(primary.dataDir, "postgresql.conf"), serverConf(primary.port, dir, tls, tlsEnabled, replicaCount, opts.synchronousCommit ?? "off"));
    await startNodeAt(primary, "primary");
    step(`primary up on port ${primary.port}`);

    await psqlAt(primary, SETUP_SQL, "postgres", SUPERUSER);
    step("roles, databases, functions created");

    await allSettledOrThrow(
      replicas.map(async (node, i) => {
        await runOrThrow(`pg_basebackup for replica ${i}`, [`${PG_BIN}/pg_basebackup`, "-h", HOST, "-p", String(primary.port),
          "-U", SUPERUSER, "-D", node.dataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync"], { asPostgres: true });
        // The primary's log came along with the copy; each node keeps its own.
        await rm(join(node.dataDir, LOG_FILE), { force: true });
        const delay = delayMs[i] ?? 0;
        await appendFile(
          join(node.dataDir, "postgresql.conf"),
          `port = ${node.port}\n` +
            // The walreceiver uses cluster_name as application_name: how pg_stat_replication names us.
            `cluster_name = 'replica${i}'\n` +
            (delay > 0 ? `recovery_min_apply_delay = '${delay}ms'\n` : ""),
        );
        await startNodeAt(node, `replica ${i}`);
      }),
    );
    step(`${replicaCount} replicas up`);

    await waitForStreaming(primary, replicas);
    step("all replicas streaming");

    const info: ClusterInfo = {
      dir,
      primary,
      replicas,
      superuser: SUPERUSER,
      users: { scram: { ...USERS.scram }, md5: { ...USERS.md5 }, plain: { ...USERS.plain } },
      authUser: { ...AUTH_USER },
      authQuery: AUTH_QUERY,
      tls,
      tlsEnabled,
      databases: [...DATABASES],
      delayMs: { ...delayMs },
    };
    return { ...info, ...controlFor(info), stop: () => stopCluster(dir) };
  } catch (err) {
    await stopCluster(dir);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`startCluster failed: ${message}`, { cause: err });
  }
}

async function waitForStreaming(primary: NodeInfo, replicas: NodeInfo[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await psqlAt(primary, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'", "postgres", SUPERUSER);
    const streaming = new Set(rows.split("\n"));
    const missing = replicas.findIndex((_, i) => !streaming.has(`replica${i}`));
    if (missing === -1) return;
    if (Date.now() > deadline) {
      throw new Error(`replica ${missing} is not streaming after ${timeoutMs} ms${logTail(replicas[missing].dataDir)}`);
    }
    await sleep(20);
  }
}

async function stopCluster(dir: string): Promise<void> {
  const dataDirs = liveClusters.get(dir);
  if (!dataDirs) return;
  liveClusters.delete(dir);
  try {
    await Promise.all(
      [...dataDirs].map((dataDir) =>
        run([`${PG_BIN}/pg_ctl`, "stop", "-m", "immediate", "-w", "-t", PG_CTL_TIMEOUT_S, "-D", dataDir], { asPostgres: true }),
      ),
    );
  } catch {
    // Best effort by contract: a node that never started has nothing to stop.
  }
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// JSON hand-over to test processes

export function clusterInfo(c: ClusterInfo): ClusterInfo {
  const { dir, primary, replicas, superuser, users, authUser, authQuery, tls, tlsEnabled, databases, delayMs } = c;
  return { dir, primary, replicas, superuser, users, authUser, authQuery, tls, tlsEnabled, databases, delayMs };
}

function isNodeInfo(v: unknown): v is NodeInfo {
  if (typeof v !== "object" || v === null) return false;
  const n = v as Record<string, unknown>;
  return typeof n.host === "string" && typeof n.port === "number" && typeof n.dataDir === "string";
}

/** The shared cluster started by `npm test` (scripts/test.ts), with its operations restored. */
export function testCluster(): TestCluster {
  const raw = process.env.PGGATE_TEST_CLUSTER;
  if (!raw) {
    throw new Error(
      "PGGATE_TEST_CLUSTER is not set: integration tests need the cluster that `npm test` starts. " +
        "Run `npm test -- test/integration/<file>` instead of `bun test`.",
    );
  }
  const parsed: unknown = JSON.parse(raw);
  const c = parsed as Partial<Record<keyof ClusterInfo, unknown>>;
  if (!isNodeInfo(c.primary) || !Array.isArray(c.replicas) || !c.replicas.every(isNodeInfo) || typeof c.superuser !== "string") {
    throw new Error("PGGATE_TEST_CLUSTER does not describe a cluster (stale or hand-written?)");
  }
  const info = parsed as ClusterInfo;
  return { ...info, ...controlFor(info) };
}

// ---------------------------------------------------------------------------------------------
// CLI: bun scripts/cluster.ts start [--replicas N] [--no-tls] [--delay INDEX=MS]...

async function main(args: string[]): Promise<void> {
  if (args[0] !== "start") {
    console.error("usage: bun scripts/cluster.ts start [--replicas N] [--no-tls] [--delay INDEX=MS]...");
    process.exit(2);
  }
  const delayMs: Record<number, number> = {};
  const opts: ClusterOptions = { delayMs, log: (line) => console.error(line) };
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--replicas") opts.replicas = Number(args[++i]);
    else if (arg === "--no-tls") opts.tls = false;
    else if (arg === "--delay") {
      const [index, ms] = (args[++i] ?? "").split("=").map(Number);
      delayMs[index] = ms;
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.replicas ?? 0) || (opts.replicas ?? 0) < 0) {
    console.error("--replicas needs a non-negative integer");
    process.exit(2);
  }

  let cluster: Cluster;
  try {
    cluster = await startCluster(opts);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
  console.log(JSON.stringify(clusterInfo(cluster), null, 2));
  const keepAlive = setInterval(() => {}, 1 << 30);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, async () => {
      clearInterval(keepAlive);
      await cluster.stop();
      process.exit(0);
    });
  }
}

if (import.meta.main) await main(process.argv.slice(2));
