// Entry point, wiring only: parse arguments, load the config, start the gateway, install signals.
import { ConfigError, loadConfig } from "./config/index.ts";
import { Gateway } from "./gateway.ts";
import { runSupervisor } from "./supervisor.ts";
import { log } from "./log/index.ts";
import { VERSION } from "./version.ts";

const USAGE = `usage: pggate [--config FILE | -c FILE]      run the proxy (or env PGGATE_CONFIG)
       pggate check --config FILE            validate a config file and exit
       pggate --version`;

function parseArgs(argv: string[]): { command: "run" | "check" | "version" | "help"; config: string } {
  let command: "run" | "check" | "version" | "help" = "run";
  let config = process.env.PGGATE_CONFIG ?? "";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--version" || a === "-V") command = "version";
    else if (a === "--help" || a === "-h") command = "help";
    else if (a === "check") command = "check";
    else if (a === "--config" || a === "-c") config = argv[++i] ?? "";
    else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    else {
      process.stderr.write(`pggate: unknown argument ${JSON.stringify(a)}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  return { command, config };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.command === "version") {
    process.stdout.write(`pggate ${VERSION}\n`);
    return;
  }
  if (args.command === "help") {
    process.stdout.write(USAGE + "\n");
    return;
  }
  if (!args.config) {
    process.stderr.write(`pggate: no config file given (use --config FILE or PGGATE_CONFIG)\n${USAGE}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig(args.config);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : `${args.config}: ${(e as Error).message}`;
    process.stderr.write(`pggate: invalid config\n${msg}\n`);
    process.exit(1);
  }
  if (args.command === "check") {
    process.stdout.write(`${args.config}: OK\n`);
    return;
  }
  const workerIndex = process.env.PGGATE_WORKER;
  if (config.workers > 1 && workerIndex === undefined) {
    void runSupervisor(config).then((code) => process.exit(code));
    return;
  }
  const gateway = new Gateway(config);
  if (workerIndex !== undefined) gateway.asWorker(Number(workerIndex), Number(process.env.PGGATE_WORKERS ?? config.workers));
  try {
    gateway.start();
  } catch (e) {
    log.error("start_failed", { error: (e as Error).message });
    process.exit(1);
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
