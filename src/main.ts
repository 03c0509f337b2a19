// Entry point, wiring only: parse arguments, load the config, start the gateway, install signals.
import { existsSync } from "node:fs";
import { ConfigError, ENV_KEY_PREFIX, ENVIRONMENT_SOURCE, loadConfig, parseConfig } from "./config/index.ts";

/** Read when neither --config nor PGGATE_CONFIG names a file and it exists (the container's mount point). */
const DEFAULT_CONFIG = "/etc/pggate/pggate.yaml";
import { Gateway } from "./gateway.ts";
import { loadHbaFile } from "./auth/hba.ts";
import { loadUserlist } from "./auth/userlist.ts";
import { runSupervisor } from "./supervisor.ts";
import { log } from "./log/index.ts";
import { COMMIT, VERSION } from "./version.ts";
import { runConvert } from "./convert/cli.ts";

const USAGE = `usage: pggate [--config FILE | -c FILE]      run the proxy (or env PGGATE_CONFIG)
       pggate check [--config] FILE          validate a config file and exit
       pggate convert PGBOUNCER_INI [USERLIST] > pggate.yaml
       pggate --version | --help`;

const HELP = `PgGate: a PostgreSQL proxy that pools connections, sends writes to the primary and reads to
replicas, and keeps every client's view what it would be on the primary alone.

${USAGE}

Commands
  (none)             run the proxy with the config file
  check FILE         validate FILE (keys, types, files it names) and exit: 0 valid, 1 invalid
  convert INI [USERLIST]
                     write a PgGate config (YAML, to stdout) made from a pgbouncer.ini; USERLIST
                     (PgBouncer's auth_file format, which PgGate reads as is) replaces auth_file.
                     Every setting left behind is named on stderr with why; exit 0 when converted

Flags
  -c, --config FILE  config file (YAML); also --config=FILE; env PGGATE_CONFIG
  -V, --version      print version, commit and Bun version
  -h, --help         this text

Environment
  PGGATE_CONFIG            config file when --config is not given; with neither,
                           /etc/pggate/pggate.yaml if it exists, else the
                           PGGATE_<SECTION>__<KEY> variables alone make the config
                           (SIGHUP, RELOAD and admin SET then re-read the variables)
  PGGATE_<SECTION>__<KEY>  sets a config key over the file, value read as YAML, e.g.
                           PGGATE_LISTEN__PORT=6432  PGGATE_AUTH__MODE=auth_query
                           PGGATE_NODES__PRIMARY='{host: db, port: 5432}'
  PGGATE_AUTH_PASSWORD     auth.auth_password (keeps the secret out of the file)
  PGGATE_ADMIN_PASSWORD    admin.password

Signals
  SIGHUP             reload the config file (keys marked "reload" apply; a broken file is refused)
  SIGTERM, SIGINT    shut down: stop accepting, let transactions finish (shutdown_timeout_ms); twice = now

Exit codes
  0  clean shutdown, or a valid config (check)
  1  invalid config, or failed to start (port in use, unreadable file)
  2  bad command line`;

type Command = "run" | "check" | "version" | "help";

function parseArgs(argv: string[]): { command: Command; config: string } {
  let command: Command = "run";
  let config = process.env.PGGATE_CONFIG ?? "";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--version" || a === "-V") command = "version";
    else if (a === "--help" || a === "-h") command = "help";
    else if (a === "check" && command === "run") command = "check";
    else if (a === "--config" || a === "-c") config = argv[++i] ?? "";
    else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    // `pggate check pgbouncer-style.yaml`: the file may come positionally after check.
    else if (command === "check" && !a.startsWith("-")) config = a;
    else {
      process.stderr.write(`pggate: unknown argument ${JSON.stringify(a)}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  return { command, config };
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv[0] === "convert") {
    process.exitCode = runConvert(argv.slice(1), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
    return;
  }
  const args = parseArgs(argv);
  if (args.command === "version") {
    process.stdout.write(`pggate ${VERSION} (commit ${COMMIT}, bun ${Bun.version})\n`);
    return;
  }
  if (args.command === "help") {
    process.stdout.write(HELP + "\n");
    return;
  }
  // The container image's path, used when present and nothing else names a file: the same image
  // runs with a mounted config or with variables alone.
  if (!args.config && existsSync(DEFAULT_CONFIG)) args.config = DEFAULT_CONFIG;
  // In a container the whole config may come from PGGATE_<SECTION>__<KEY> variables.
  const envOnly = !args.config && Object.keys(process.env).some((k) => k.startsWith(ENV_KEY_PREFIX) && k.includes("__"));
  if (!args.config && !envOnly) {
    process.stderr.write(`pggate: no config file given (use --config FILE, PGGATE_CONFIG, or PGGATE_<SECTION>__<KEY> variables)\n${USAGE}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = envOnly ? parseConfig("", { source: ENVIRONMENT_SOURCE, env: process.env }) : loadConfig(args.config);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : `${args.config}: ${(e as Error).message}`;
    process.stderr.write(`pggate: invalid config\n${msg}\n`);
    process.exit(1);
  }
  if (args.command === "check") {
    // The files the config names are read as the gateway would read them at start.
    try {
      if (config.auth.hba) loadHbaFile(config.auth.hba);
      if (config.auth.mode === "userlist") loadUserlist(config.auth.userlist, config.auth.maxScramIterations);
    } catch (e) {
      process.stderr.write(`pggate: invalid config\n${(e as Error).message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${args.config || ENVIRONMENT_SOURCE}: OK\n`);
    return;
  }
  const workerIndex = process.env.PGGATE_WORKER;
  if (config.workers > 1 && workerIndex === undefined) {
    void runSupervisor(config).then((code) => process.exit(code));
    return;
  }
  const gateway = new Gateway(config);
  if (workerIndex !== undefined) gateway.asWorker(Number(workerIndex), Number(process.env.PGGATE_WORKERS ?? config.workers));
  const startFailed = (e: unknown): never => {
    log.error("start_failed", { error: (e as Error).message });
    process.exit(1);
  };
  try {
    // The Unix socket (listen.unix_socket_dir) may come up a moment later, or fail the start then.
    gateway.start().catch(startFailed);
  } catch (e) {
    startFailed(e);
  }
  gateway.onShutdownComplete = () => process.exit(0);
  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) {
      log.warn("shutdown_forced", { signal });
      process.exit(1);
    }
    log.info("signal", { signal });
    void gateway.shutdown().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    gateway.reload();
  });
}

main();
