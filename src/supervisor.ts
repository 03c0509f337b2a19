// `workers: N`: a small supervisor runs N PgGate processes sharing listen.port (SO_REUSEPORT),
// forwards SIGHUP/SIGTERM/SIGINT to them, restarts a crashed one, tells every worker where the
// others take CancelRequests, serves metrics.port for the whole group (endpoints/group.ts) and
// carries admin console commands to every worker. It runs no client traffic itself.
import type { Subprocess } from "bun";
import type { Config } from "./config/types.ts";
import type { CommandOutcome } from "./admin/index.ts";
import { startGroupServer, type Answer, type WorkerView } from "./endpoints/group.ts";
import type { Report, SupervisorMessage, WorkerMessage } from "./endpoints/group-messages.ts";
import type { MetricsServer } from "./endpoints/metrics.ts";
import { log } from "./log/index.ts";

export type { SupervisorMessage, WorkerMessage } from "./endpoints/group-messages.ts";

/** How long a worker has to answer for /metrics, /status and /readyz before it is left out. */
const REPORT_TIMEOUT_MS = 2000;

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
  const views: WorkerView[] = Array.from({ length: n }, (_, index) => ({ index, pid: null, state: "starting", restarts: 0 }));
  let stopping = false;
  let exitCode = 0;

  // Questions to workers in flight, by number: each resolves with the body, or null on timeout/exit.
  let nextAsk = 1;
  const pending = new Map<number, { worker: number; settle: (body: unknown) => void }>();

  const ask = (i: number, report: Report, timeoutMs: number): Promise<unknown> =>
    new Promise((resolve) => {
      const id = nextAsk++;
      const timer = setTimeout(() => settle(null), timeoutMs);
      const settle = (body: unknown): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(body);
      };
      pending.set(id, { worker: i, settle });
      try {
        children[i]?.send({ ask: id, report } satisfies SupervisorMessage);
      } catch {
        settle(null);
      }
    });

  /** Every running worker's answer (a worker that does not answer in time: null). */
  const askRunning = async <T,>(report: Report): Promise<Answer<T>[]> => {
    const timeoutMs = report.kind === "command" ? config.shutdownTimeoutMs + REPORT_TIMEOUT_MS : REPORT_TIMEOUT_MS;
    const running = views.filter((w) => w.state === "running");
    return Promise.all(running.map(async (w) => ({ index: w.index, body: (await ask(w.index, report, timeoutMs)) as T | null })));
  };

  const broadcast = (): void => {
    if (cancelPorts.some((p) => p === 0)) return;
    for (const c of children) c?.send({ cancelPorts } satisfies SupervisorMessage);
  };

  /** Worker `i`'s admin console runs a command: every running worker runs it, `i` gets all outcomes. */
  const gather = async (i: number, id: number, report: Report): Promise<void> => {
    // SHUTDOWN on any console stops the group: the workers exit, and are not restarted.
    if (report.kind === "command" && report.command.kind === "shutdown") stopping = true;
    const answers = await askRunning<CommandOutcome>(report);
    children[i]?.send({ gathered: id, bodies: answers.map((a) => a.body) } satisfies SupervisorMessage);
  };

  const start = (i: number): void => {
    const child = Bun.spawn(selfCommand(), {
      env: { ...process.env, PGGATE_WORKER: String(i), PGGATE_WORKERS: String(n) },
      stdio: ["ignore", "inherit", "inherit"],
      ipc(message: WorkerMessage) {
        if (typeof message?.cancelPort === "number") {
          cancelPorts[i] = message.cancelPort;
          views[i].state = "running";
          broadcast();
        }
        if (typeof message?.answer === "number") {
          const p = pending.get(message.answer);
          if (p?.worker === i) p.settle(message.body ?? null);
        }
        if (typeof message?.gather === "number" && message.report) void gather(i, message.gather, message.report);
      },
      onExit(_proc, code, signal) {
        children[i] = null;
        views[i].state = "down";
        views[i].pid = null;
        cancelPorts[i] = 0;
        for (const p of [...pending.values()]) if (p.worker === i) p.settle(null);
        if (stopping) {
          if (code !== 0) exitCode = code ?? 1;
          return;
        }
        log.error("worker_exited", { worker: i, code: code ?? undefined, signal: signal ?? undefined });
        setTimeout(() => {
          if (stopping) return;
          views[i].restarts++;
          start(i);
        }, 1000);
      },
    });
    children[i] = child;
    views[i].pid = child.pid;
    views[i].state = "starting";
  };

  let server: MetricsServer | null = null;
  if (config.metrics.enabled) {
    try {
      server = startGroupServer(config.metrics.host, config.metrics.port, { workers: () => views.map((w) => ({ ...w })), askRunning, stopping: () => stopping });
    } catch (e) {
      log.error("start_failed", { error: `metrics ${config.metrics.host}:${config.metrics.port}: ${(e as Error).message}` });
      return 1;
    }
  }
  for (let i = 0; i < n; i++) start(i);
  log.info("supervisor_started", { workers: n, port: config.listen.port, metrics: server?.url });

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
    if (stopping && children.every((c) => c === null)) {
      server?.stop();
      return exitCode;
    }
  }
}
