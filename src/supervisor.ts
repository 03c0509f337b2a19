// `workers: N`: a small supervisor runs N PgGate processes sharing listen.port (SO_REUSEPORT),
// forwards SIGHUP/SIGTERM/SIGINT to them, restarts a crashed one, and tells every worker where
// the others take CancelRequests (a cancel lands on whichever worker the kernel picks).
import type { Subprocess } from "bun";
import type { Config } from "./config/types.ts";
import { log } from "./log/index.ts";

export interface WorkerMessage {
  cancelPort?: number;
}

export interface SupervisorMessage {
  cancelPorts?: number[];
}

/** How to start this same program again (source checkout or compiled binary). */
function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  const compiled = script.startsWith("/$bunfs") || script === "" || script === process.execPath;
  return compiled ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, script, ...process.argv.slice(2)];
}

export async function runSupervisor(config: Config): Promise<number> {
  const n = config.workers;
  const cancelPorts: number[] = new Array(n).fill(0);
  const children: (Subprocess | null)[] = new Array(n).fill(null);
  let stopping = false;
  let exitCode = 0;

  const broadcast = (): void => {
    if (cancelPorts.some((p) => p === 0)) return;
    for (const c of children) c?.send({ cancelPorts } satisfies SupervisorMessage);
  };

  const start = (i: number): void => {
    const child = Bun.spawn(selfCommand(), {
      env: { ...process.env, PGGATE_WORKER: String(i), PGGATE_WORKERS: String(n) },
      stdio: ["ignore", "inherit", "inherit"],
      ipc(message: WorkerMessage) {
        if (typeof message?.cancelPort === "number") {
          cancelPorts[i] = message.cancelPort;
          broadcast();
        }
      },
      onExit(_proc, code, signal) {
        children[i] = null;
        if (stopping) {
          if (code !== 0) exitCode = code ?? 1;
          return;
        }
        log.error("worker_exited", { worker: i, code: code ?? undefined, signal: signal ?? undefined });
        cancelPorts[i] = 0;
        setTimeout(() => start(i), 1000);
      },
    });
    children[i] = child;
  };

  for (let i = 0; i < n; i++) start(i);
  log.info("supervisor_started", { workers: n, port: config.listen.port });

  process.on("SIGHUP", () => {
    for (const c of children) c?.kill("SIGHUP");
  });
  let signals = 0;
  const stop = (signal: "SIGTERM" | "SIGINT"): void => {
    stopping = true;
    signals++;
    for (const c of children) c?.kill(signals > 1 ? "SIGKILL" : signal);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  for (;;) {
    await Bun.sleep(100);
    if (stopping && children.every((c) => c === null)) return exitCode;
  }
}
