// The systems under test: direct primary, PgBouncer, Pgpool-II and PgGate (without / with
// read-write splitting). Each start function writes its config into its own directory, launches
// the process (PgBouncer and Pgpool-II as the `postgres` OS user when we are root), waits until a
// real login works, and returns how to measure and stop it.

import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { stringify } from "yaml";
import type { Cluster } from "../cluster.ts";
import { cleanEnv } from "./pgbench.ts";
import { freePorts, sleep, stopTree, track, treePids, waitForPort } from "./procs.ts";

export type SystemId = "A" | "F" | "B" | "C" | "D" | "E" | "E0";

export const SYSTEM_NAMES: Record<SystemId, string> = {
  A: "direct primary",
  F: "Bun forwarder (floor)",
  B: "PgBouncer",
  C: "Pgpool-II",
  D: "PgGate (no split)",
  E: "PgGate (split)",
  E0: "PgGate (split, metrics off)",
};

export interface RunningSystem {
  id: SystemId;
  port: number;
  /** Pids of the proxy's own processes (not runuser/bash); empty for the direct primary. */
  pids(): number[];
  stop(): Promise<void>;
  /** Human-readable facts for the report (version, key settings, checks done at start). */
  notes: string[];
  /** PgGate's metrics endpoint (http://host:port), when it serves one. */
  metricsUrl?: string;
  logFile: string | null;
}

export interface StartContext {
  cluster: Cluster;
  /** Scratch directory readable by the postgres OS user. */
  workDir: string;
  pggateBinary: string;
  /** Database pgbench uses. */
  database: string;
}

const IS_ROOT = process.getuid?.() === 0;
const AS_POSTGRES = IS_ROOT ? ["runuser", "-u", "postgres", "--"] : [];

function postgresIds(): { uid: number; gid: number } | null {
  if (!IS_ROOT) return null;
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

/** A directory (and files written through `write`) the postgres OS user owns. */
function ownedDir(path: string): { dir: string; write(name: string, text: string, mode?: number): string } {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const ids = postgresIds();
  if (ids) chownSync(path, ids.uid, ids.gid);
  return {
    dir: path,
    write(name, text, mode = 0o600) {
      const file = join(path, name);
      writeFileSync(file, text, { mode });
      if (ids) chownSync(file, ids.uid, ids.gid);
      return file;
    },
  };
}

export function which(cmd: string): string | null {
  const r = Bun.spawnSync(["bash", "-c", `command -v ${cmd}`]);
  const path = r.stdout.toString().trim();
  return r.exitCode === 0 && path ? path : null;
}

function tail(file: string | null, lines = 15): string {
  if (!file || !existsSync(file)) return "";
  const text = readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  return text ? `\n--- ${file} ---\n${text}` : "";
}

/** One psql query as the benchmark user; returns stdout or throws with stderr. */
export async function psqlVia(port: number, user: { user: string; password: string }, database: string, sql: string): Promise<string> {
  const proc = Bun.spawn(
    ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
      `host=127.0.0.1 port=${port} user=${user.user} dbname=${database} sslmode=disable connect_timeout=10`, "-c", sql],
    { env: cleanEnv({ PGPASSWORD: user.password }), stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(err.trim() || `psql exited ${code}`);
  return out.trim();
}

function versionOf(argv: string[]): string {
  const r = Bun.spawnSync(argv);
  return (r.stdout.toString() + r.stderr.toString()).split("\n")[0].trim();
}

/** Waits for a port, then for a real login; kills the process and throws (with its log) on failure. */
async function becomeReady(
  proc: Subprocess,
  port: number,
  ctx: StartContext,
  logFile: string | null,
  stop: () => Promise<void>,
): Promise<void> {
  try {
    await waitForPort(port, 20_000, () => proc.exitCode === null);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await psqlVia(port, ctx.cluster.users.scram, ctx.database, "SELECT 1");
        return;
      } catch (e) {
        if (Date.now() > deadline || proc.exitCode !== null) throw e;
        await sleep(200);
      }
    }
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}${tail(logFile)}`);
  }
}

/** Polls `SELECT inet_server_port()` through the proxy: proves reads reach a replica. */
async function readsReachReplica(port: number, ctx: StartContext, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // Not pg_is_in_recovery(): PgGate answers node-local state from the primary.
      const served = Number(await psqlVia(port, ctx.cluster.users.scram, ctx.database, "SELECT inet_server_port()"));
      if (ctx.cluster.replicas.some((r) => r.port === served)) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// A: the primary itself

export function directSystem(ctx: StartContext): RunningSystem {
  return {
    id: "A",
    port: ctx.cluster.primary.port,
    pids: () => [],
    stop: async () => {},
    notes: [`PostgreSQL primary on port ${ctx.cluster.primary.port} (max_connections 200)`],
    logFile: null,
  };
}

// ---------------------------------------------------------------------------------------------
// B: PgBouncer 1.18, transaction pooling, SCRAM with the users' pg_shadow verifiers

export interface PgbouncerOptions {
  poolSize: number;
  maxClientConn: number;
  /** Directory name under workDir (so a second instance does not clash). */
  name?: string;
}

export async function startPgbouncer(ctx: StartContext, opts: PgbouncerOptions): Promise<RunningSystem> {
  const binary = which("pgbouncer");
  if (!binary) throw new Error("pgbouncer is not installed (apt-get install pgbouncer)");
  const { primary } = ctx.cluster;
  const [port] = freePorts(1);
  const d = ownedDir(join(ctx.workDir, opts.name ?? "pgbouncer"));
  // PgBouncer 1.18 accepts the pg_shadow verifiers in auth_file. With auth_type md5 a user with a
  // SCRAM secret is authenticated with SCRAM (PgBouncer reuses the ClientKey recovered from the
  // proof to log into the server), a user with an MD5 hash with MD5: no plaintext password needed.
  const shadow = await ctx.cluster.psql(primary, "SELECT usename, passwd FROM pg_shadow WHERE usename LIKE 'pggate_%' ORDER BY 1");
  const userlist = shadow
    .split("\n")
    .filter((l) => l.includes("|"))
    .map((l) => {
      const [user, secret] = l.split("|");
      return `"${user}" "${secret}"`;
    })
    .join("\n");
  const authFile = d.write("userlist.txt", `${userlist}\n`);
  const logFile = join(d.dir, "pgbouncer.log");
  const ini = d.write(
    "pgbouncer.ini",
    `[databases]
${ctx.database} = host=${primary.host} port=${primary.port} dbname=${ctx.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = ${authFile}
pool_mode = transaction
default_pool_size = ${opts.poolSize}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = ${opts.maxClientConn}
max_db_connections = 0
server_tls_sslmode = disable
client_tls_sslmode = disable
logfile = ${logFile}
pidfile = ${join(d.dir, "pgbouncer.pid")}
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 60
`,
    0o600,
  );
  const fdLimit = opts.maxClientConn + opts.poolSize + 100;
  const proc = track(
    Bun.spawn([...AS_POSTGRES, "bash", "-c", `ulimit -n ${fdLimit} || exit 1; exec "$0" "$1"`, binary, ini], {
      cwd: d.dir,
      env: cleanEnv(),
      stdin: "ignore",
      stdout: Bun.file(join(d.dir, "stdout.log")),
      stderr: Bun.file(join(d.dir, "stderr.log")),
    }),
  );
  const pids = () => treePids(proc.pid, ["pgbouncer"]);
  const stop = () => stopTree(proc, pids()[0] ?? null, "SIGINT");
  await becomeReady(proc, port, ctx, logFile, stop);
  return {
    id: "B",
    port,
    pids,
    stop,
    logFile,
    notes: [
      versionOf([binary, "--version"]),
      `pool_mode transaction, default_pool_size ${opts.poolSize}, max_client_conn ${opts.maxClientConn}, auth_type md5 (auth_file = pg_shadow verifiers: SCRAM for pggate_scram, MD5 for pggate_md5), ulimit -n ${fdLimit}`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// F: a minimal Bun byte-forwarder (scripts/bench/forwarder.ts): one server connection per client,
// no parsing. Its row is the floor of any proxy on Bun: PgGate's own cost is what it adds above.

export async function startForwarder(ctx: StartContext): Promise<RunningSystem> {
  const { primary } = ctx.cluster;
  const [port] = freePorts(1);
  const d = ownedDir(join(ctx.workDir, "forwarder"));
  const logFile = join(d.dir, "forwarder.log");
  const script = join(import.meta.dir, "forwarder.ts");
  const proc = track(
    Bun.spawn(["bash", "-c", 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"', "fwd", process.execPath, "run", script, String(port), primary.host, String(primary.port)], {
      cwd: d.dir,
      env: cleanEnv(),
      stdin: "ignore",
      stdout: "ignore",
      stderr: Bun.file(logFile),
    }),
  );
  const pids = () => (proc.exitCode === null ? [proc.pid] : []);
  const stop = () => stopTree(proc, proc.pid, "SIGTERM");
  await becomeReady(proc, port, ctx, logFile, stop);
  return { id: "F", port, pids, stop, logFile, notes: [`Bun ${Bun.version}, one connection to the primary per client, bytes copied both ways (binaryType uint8array)`] };
}

// ---------------------------------------------------------------------------------------------
// C: Pgpool-II 4.3, streaming-replication mode with load balancing

export interface PgpoolOptions {
  numInitChildren: number;
  /** How many of the cluster's replicas it balances over (default all). */
  replicas?: number;
  /** backend_weight of the primary: 0 (default) keeps reads off it, as PgGate does. */
  primaryWeight?: number;
  /** Directory name under workDir (so a second instance does not clash). */
  name?: string;
}

export async function startPgpool(ctx: StartContext, opts: PgpoolOptions): Promise<RunningSystem> {
  const binary = which("pgpool");
  if (!binary) throw new Error("pgpool is not installed (apt-get install pgpool2)");
  const { primary, users, superuser } = ctx.cluster;
  const replicas = ctx.cluster.replicas.slice(0, opts.replicas ?? ctx.cluster.replicas.length);
  const primaryWeight = opts.primaryWeight ?? 0;
  const [port, pcpPort] = freePorts(2);
  const d = ownedDir(join(ctx.workDir, opts.name ?? "pgpool"));
  const nodes = [primary, ...replicas];
  const backends = nodes
    .map(
      (n, i) => `backend_hostname${i} = '${n.host}'
backend_port${i} = ${n.port}
# Primary weight 0 (the default here): reads go to the replicas only, as with PgGate.
backend_weight${i} = ${i === 0 ? primaryWeight : 1}
backend_data_directory${i} = '${n.dataDir}'
backend_flag${i} = 'ALLOW_TO_FAILOVER'`,
    )
    .join("\n");
  // pool_passwd "TEXT" entries: Pgpool needs the plaintext to run SCRAM toward the backends.
  d.write("pool_passwd", Object.values(users).map((u) => `${u.user}:TEXT${u.password}`).join("\n") + "\n");
  const hba = d.write(
    "pool_hba.conf",
    `local all all trust
host all ${superuser} 127.0.0.1/32 trust
host all ${users.md5.user} 127.0.0.1/32 md5
host all all 127.0.0.1/32 scram-sha-256
`,
  );
  const pcp = d.write("pcp.conf", "");
  const conf = d.write(
    "pgpool.conf",
    `backend_clustering_mode = 'streaming_replication'
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${d.dir}'
pcp_listen_addresses = ''
pcp_port = ${pcpPort}
pcp_socket_dir = '${d.dir}'
wd_ipc_socket_dir = '${d.dir}'
${backends}
enable_pool_hba = on
pool_passwd = 'pool_passwd'
allow_clear_text_frontend_auth = off
num_init_children = ${opts.numInitChildren}
# With reserved_connections, clients beyond the children get "sorry, too many clients already"
# instead of waiting forever in the listen queue.
reserved_connections = 1
max_pool = 1
child_life_time = 0
child_max_connections = 0
connection_life_time = 0
client_idle_limit = 0
connection_cache = on
load_balance_mode = on
statement_level_load_balance = off
sr_check_period = 10
sr_check_user = '${superuser}'
sr_check_password = ''
sr_check_database = 'postgres'
delay_threshold = 0
health_check_period = 10
health_check_timeout = 5
health_check_user = '${superuser}'
health_check_password = ''
health_check_database = 'postgres'
health_check_max_retries = 0
failover_command = ''
failover_on_backend_error = off
use_watchdog = off
memory_cache_enabled = off
ssl = off
log_destination = 'stderr'
logging_collector = off
log_connections = off
log_min_messages = warning
pid_file_name = '${join(d.dir, "pgpool.pid")}'
logdir = '${d.dir}'
`,
  );
  const logFile = join(d.dir, "pgpool.log");
  const fdLimit = 4096;
  const proc = track(
    Bun.spawn([...AS_POSTGRES, "bash", "-c", `ulimit -n ${fdLimit}; exec "$0" -n -D -f "$1" -F "$2" -a "$3"`, binary, conf, pcp, hba], {
      cwd: d.dir,
      env: cleanEnv(),
      stdin: "ignore",
      stdout: Bun.file(join(d.dir, "stdout.log")),
      stderr: Bun.file(logFile),
    }),
  );
  const pids = () => treePids(proc.pid, ["pgpool"]);
  // The main process is the pgpool whose parent is not a pgpool; SIGINT = fast shutdown.
  const mainPid = () => treePids(proc.pid, ["pgpool"])[0] ?? null;
  const stop = () => stopTree(proc, mainPid(), "SIGINT");
  await becomeReady(proc, port, ctx, logFile, stop);
  const lb = replicas.length > 0 ? await pgpoolReadsReachReplica(port, ctx) : "no replicas: every read on the primary";
  return {
    id: "C",
    port,
    pids,
    stop,
    logFile,
    notes: [
      versionOf([binary, "--version"]),
      `streaming_replication mode over the primary and ${replicas.length} replica(s), load_balance_mode on (session level, primary weight ${primaryWeight}), num_init_children ${opts.numInitChildren} (reserved_connections 1), max_pool 1, pool_hba scram-sha-256 (md5 for pggate_md5) with TEXT pool_passwd`,
      lb,
    ],
  };
}

/**
 * Pgpool-II sends calls of volatile functions such as pg_is_in_recovery() to the primary, so the
 * check reads a pgbench table and compares the standbys' select_cnt in SHOW pool_nodes.
 */
async function pgpoolReadsReachReplica(port: number, ctx: StartContext): Promise<string> {
  const standbySelects = async () => {
    const rows = (await psqlVia(port, ctx.cluster.users.scram, ctx.database, "SHOW pool_nodes")).split("\n").map((l) => l.split("|"));
    // Columns: node_id|hostname|port|status|pg_status|lb_weight|role|pg_role|select_cnt|...
    return rows.filter((r) => r[6] === "standby").reduce((sum, r) => sum + Number(r[8]), 0);
  };
  try {
    const before = await standbySelects();
    for (let i = 0; i < 3; i++) await psqlVia(port, ctx.cluster.users.scram, ctx.database, "SELECT abalance FROM pgbench_accounts WHERE aid = 1");
    const after = await standbySelects();
    return after - before >= 3
      ? "checked: pgbench_accounts reads through Pgpool-II are counted on the standbys (SHOW pool_nodes select_cnt)"
      : `WARNING: only ${after - before} of 3 reads reached a standby`;
  } catch (e) {
    return `WARNING: could not check load balancing: ${(e as Error).message}`;
  }
}

// ---------------------------------------------------------------------------------------------
// D / E: PgGate

export interface PggateOptions {
  id: SystemId;
  split: boolean;
  metrics: boolean;
  poolSize: number;
  name?: string;
  /** How many of the cluster's replicas go into nodes.replicas (default all). */
  replicas?: number;
  /** routing.read_your_writes (default: PgGate's own default, session). */
  readYourWrites?: "off" | "session" | "user" | "global";
  /** routing.primary_read_weight (default 0: reads on replicas only). */
  primaryReadWeight?: number;
}

export async function startPggate(ctx: StartContext, opts: PggateOptions): Promise<RunningSystem> {
  if (!existsSync(ctx.pggateBinary)) throw new Error(`${ctx.pggateBinary} is missing (bun run build)`);
  const { primary, authUser, authQuery } = ctx.cluster;
  const replicas = ctx.cluster.replicas.slice(0, opts.replicas ?? ctx.cluster.replicas.length);
  const [port, metricsPort] = freePorts(2);
  const d = ownedDir(join(ctx.workDir, opts.name ?? `pggate-${opts.id}`));
  const config = {
    listen: { host: "127.0.0.1", port, max_client_connections: 20000 },
    metrics: { enabled: opts.metrics, host: "127.0.0.1", port: metricsPort },
    nodes: {
      primary: { host: primary.host, port: primary.port },
      replicas: replicas.map((r) => ({ host: r.host, port: r.port, weight: 1 })),
      tls: { mode: "disable" },
    },
    pool: { mode: "transaction", size: opts.poolSize },
    auth: { mode: "auth_query", auth_user: authUser.user, auth_password: authUser.password, auth_query: authQuery },
    routing: {
      read_write_split: opts.split,
      ...(opts.readYourWrites ? { read_your_writes: opts.readYourWrites } : {}),
      ...(opts.primaryReadWeight ? { primary_read_weight: opts.primaryReadWeight } : {}),
    },
    log: { level: "warn" },
    shutdown_timeout_ms: 2000,
  };
  const file = d.write("pggate.yaml", stringify(config));
  const logFile = join(d.dir, "pggate.log");
  const proc = track(
    Bun.spawn(
      ["bash", "-c", 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" --config "$1"', ctx.pggateBinary, file],
      { cwd: d.dir, env: cleanEnv(), stdin: "ignore", stdout: Bun.file(join(d.dir, "stdout.log")), stderr: Bun.file(logFile) },
    ),
  );
  // bash execs the binary: the spawned pid is PgGate itself.
  const pids = () => (proc.exitCode === null ? [proc.pid] : []);
  const stop = () => stopTree(proc, proc.pid, "SIGTERM");
  await becomeReady(proc, port, ctx, logFile, stop);
  const notes = [
    `pool.size ${opts.poolSize}, auth.mode auth_query, routing.read_write_split ${opts.split}, metrics.enabled ${opts.metrics}, nodes.tls.mode disable` +
      (opts.replicas !== undefined ? `, ${replicas.length} replica(s)` : "") +
      (opts.readYourWrites ? `, routing.read_your_writes ${opts.readYourWrites}` : ""),
  ];
  if (opts.split && replicas.length > 0) {
    notes.push(
      (await readsReachReplica(port, ctx, 15_000))
        ? "checked: SELECT inet_server_port() through PgGate names a replica (reads reach a replica)"
        : "WARNING: reads did not reach a replica within 15 s",
    );
  }
  if (opts.metrics) {
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      notes.push(`/metrics answers ${res.status}`);
    } catch (e) {
      notes.push(`WARNING: /metrics unreachable: ${(e as Error).message}`);
    }
  }
  return { id: opts.id, port, pids, stop, notes, logFile, metricsUrl: opts.metrics ? `http://127.0.0.1:${metricsPort}` : undefined };
}
