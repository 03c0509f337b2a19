// Owns one running PgGate: context, listener, metrics server; start, reload and graceful
// shutdown. main.ts wires it to the CLI and signals.
import type { TCPSocketListener } from "bun";
import { loadUserlist } from "./auth/userlist.ts";
import { loadHbaFile } from "./auth/hba.ts";
import { diffConfig, ENV_KEY_PREFIX, findKey, reloadConfig, type Config } from "./config/index.ts";
import { Errors, fatal, SqlState } from "./errors/index.ts";
import { configureLog, log } from "./log/index.ts";
import { createRegistry, notReady, startMetricsServer, type MetricsServer } from "./endpoints/metrics.ts";
import { statusSummary } from "./endpoints/status.ts";
import type { FamilyData, WorkerStatus } from "./endpoints/group.ts";
import type { LinkData } from "./net/link.ts";
import { startListener, startUnixListener, type UnixListener } from "./session/listener.ts";
import { GatewayContext, type GatewayControl } from "./session/context.ts";
import { AdminConsole } from "./admin/console.ts";
import { GatewayAdmin } from "./admin/backend.ts";
import { outcomeOf, type AdminGroup, type CommandOutcome } from "./admin/group.ts";
import type { Registry } from "prom-client";
import type { Report, SupervisorMessage, WorkerMessage } from "./endpoints/group-messages.ts";
import { spaceConnectionIds } from "./net/connection-ids.ts";

export class Gateway {
  readonly ctx: GatewayContext;
  private listener: TCPSocketListener<LinkData> | null = null;
  private unixListener: UnixListener | null = null;
  private metrics: MetricsServer | null = null;
  private registry: Registry;
  private readonly control: GatewayControl;
  /** With several workers: the admin console's commands run on every worker (set by asWorker). */
  private group: AdminGroup | null = null;

  constructor(config: Config) {
    this.ctx = new GatewayContext(config);
    this.registry = createRegistry(this.ctx);
    this.control = {
      reload: () => this.reloadWithReason(),
      shutdown: (waitForClients) => {
        void this.shutdown(waitForClients).then(() => this.onShutdownComplete());
      },
      set: (key, value) => this.setKey(key, value),
    };
    this.ctx.openAdmin = (send, close, user) => new AdminConsole(send, close, new GatewayAdmin(this.ctx, this.control, user, this.group));
  }

  /** What to do once an admin SHUTDOWN finished (main.ts exits the process). */
  onShutdownComplete: () => void = () => {};

  get port(): number {
    return this.listener?.port ?? 0;
  }

  get metricsUrl(): string {
    return this.metrics?.url ?? "";
  }

  /** Runs as worker `index` of `count` under the supervisor. */
  asWorker(index: number, count: number): void {
    this.ctx.worker = { index, count };
    spaceConnectionIds(index, count);
    // The connection counts in the file are the group's: this worker runs on its share.
    this.ctx.applyConfig(this.ctx.configured);
  }

  /** The Unix socket's path while PgGate listens on one (listen.unix_socket_dir), else "". */
  get unixSocketPath(): string {
    return this.unixListener?.path ?? "";
  }

  /**
   * Starts listening. The TCP listener and everything else start before this returns (a busy port
   * throws here); the promise settles once the Unix socket (listen.unix_socket_dir) listens too,
   * which may first have to find out whether a leftover socket file is stale, and rejects when it
   * cannot be had (then shut down: the TCP side is already serving).
   */
  start(): Promise<void> {
    const cfg = this.ctx.config;
    configureLog(cfg.log.level, cfg.log.format);
    this.applyAuth(cfg);
    this.listener = startListener(this.ctx);
    if (this.ctx.worker.count > 1) this.startCancelExchange();
    this.ctx.health.start();
    this.idleTimer = setInterval(() => this.sweepClients(), 250);
    this.idleTimer.unref?.();
    // With several workers the supervisor serves metrics.port for the group (endpoints/group.ts).
    if (cfg.metrics.enabled && this.ctx.worker.count === 1) this.metrics = startMetricsServer(this.ctx, this.registry);
    log.info("listening", {
      host: cfg.listen.host,
      port: this.listener.port,
      metrics: this.metrics?.url,
      auth: cfg.auth.mode,
      tls: cfg.listen.tls.mode,
    });
    this.warnReplicaCaveat();
    return this.startUnixSocket();
  }

  /**
   * A Unix socket path cannot be shared the way SO_REUSEPORT shares the TCP port: with workers > 1,
   * worker 0 alone listens on it (a restarted worker 0 finds its predecessor's file stale).
   */
  private async startUnixSocket(): Promise<void> {
    if (this.ctx.config.listen.unixSocketDir === "" || this.ctx.worker.index !== 0 || !this.listener) return;
    this.unixListener = await startUnixListener(this.ctx, this.listener.port);
    // Shut down while the stale check ran: the file must not outlive us.
    if (this.ctx.shuttingDown) this.unixListener.stop(true);
    else log.info("listening_unix", { path: this.unixListener.path, mode: this.ctx.config.listen.unixSocketMode, group: this.ctx.config.listen.unixSocketGroup || undefined });
  }

  /** Says loudly, at start and on reload, when configured replicas will not serve most users. */
  private warnReplicaCaveat(): void {
    const why = this.ctx.replicaCaveat;
    if (why) log.warn("replicas_unused", { reason: why });
  }

  private idleTimer: ReturnType<typeof setInterval> | null = null;
  private cancelListener: TCPSocketListener<undefined> | null = null;

  /**
   * Workers share the client port, so a CancelRequest may reach the wrong one. Each worker takes
   * forwarded cancels on a private loopback port; the supervisor tells every worker all ports.
   */
  private startCancelExchange(): void {
    const ctx = this.ctx;
    this.cancelListener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket, packet) {
          if (packet.length >= 16) {
            const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
            ctx.cancel(v.getInt32(8), v.getInt32(12), null);
          }
          socket.end();
        },
        error() {},
      },
    });
    let ports: number[] = [];
    // This worker's admin consoles wait for the group's outcomes, by number.
    let nextGather = 1;
    const gathering = new Map<number, (bodies: (CommandOutcome | null)[]) => void>();
    this.group = {
      runEverywhere: (command, who) =>
        new Promise((resolve) => {
          const id = nextGather++;
          gathering.set(id, resolve);
          process.send?.({ gather: id, report: { kind: "command", command, who } } satisfies WorkerMessage);
        }),
    };
    process.on("message", (m: SupervisorMessage) => {
      if (Array.isArray(m?.cancelPorts)) ports = m.cancelPorts;
      if (typeof m?.ask === "number" && m.report) {
        const id = m.ask;
        void this.report(m.report).then((body) => process.send?.({ answer: id, body } satisfies WorkerMessage));
      }
      if (typeof m?.gathered === "number") {
        gathering.get(m.gathered)?.(m.bodies ?? []);
        gathering.delete(m.gathered);
      }
    });
    ctx.forwardCancel = (worker, packet) => {
      const port = ports[worker];
      if (!port) return;
      const copy = packet.slice();
      Bun.connect({ hostname: "127.0.0.1", port, socket: { open: (s) => void (s.write(copy), s.end()), data() {}, error() {} } }).catch(() => {});
    };
    process.send?.({ cancelPort: this.cancelListener.port } satisfies WorkerMessage);
    // A worker never outlives its supervisor (even one killed with SIGKILL): when the IPC
    // channel closes or we are reparented, shut down.
    const orphaned = (): void => {
      log.warn("supervisor_gone", { worker: ctx.worker.index });
      void this.shutdown().then(() => process.exit(0));
    };
    process.on("disconnect", orphaned);
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(watch);
        orphaned();
      }
    }, 1000);
    watch.unref?.();
  }

  /** This worker's part of a group answer (the supervisor merges them: endpoints/group.ts). */
  private async report(r: Report): Promise<unknown> {
    switch (r.kind) {
      case "metrics":
        // Plain data for the IPC channel (prom-client's objects may carry functions).
        return (await this.registry.getMetricsAsJSON()).map((m): FamilyData => ({ name: m.name, help: m.help, type: String(m.type), aggregator: m.aggregator, values: m.values.map((v) => ({ value: v.value, labels: v.labels, metricName: (v as { metricName?: string }).metricName })) }));
      case "status":
        return { ...statusSummary(this.ctx), not_ready: notReady(this.ctx) } satisfies WorkerStatus;
      case "ready":
        return { notReady: notReady(this.ctx) };
      case "command":
        return outcomeOf(new GatewayAdmin(this.ctx, this.control, r.who).executeHere(r.command));
    }
  }

  /**
   * One timer for every client's deadlines: listen.handshake_timeout_ms (slowloris),
   * listen.client_idle_timeout_ms and listen.idle_in_transaction_timeout_ms.
   */
  private sweepClients(): void {
    const { handshakeTimeoutMs, clientIdleTimeoutMs, idleInTransactionTimeoutMs } = this.ctx.config.listen;
    const queryTimeoutMs = this.ctx.config.pool.queryTimeoutMs;
    const now = Date.now();
    const perfNow = performance.now();
    for (const c of [...this.ctx.clients]) {
      if (queryTimeoutMs > 0) c.checkQueryTimeout(perfNow, queryTimeoutMs);
      if ((c.state === "startup" || c.state === "login") && now - c.connectedAt >= handshakeTimeoutMs) {
        c.fail(Errors.handshakeTimeout(handshakeTimeoutMs));
        continue;
      }
      if (clientIdleTimeoutMs === 0 && idleInTransactionTimeoutMs === 0) continue;
      const idleMs = now - c.lastActivityAt;
      if (clientIdleTimeoutMs > 0 && c.state === "idle" && idleMs >= clientIdleTimeoutMs) {
        c.fail(fatal(SqlState.IdleSessionTimeout, `terminating connection due to idle-session timeout (listen.client_idle_timeout_ms = ${clientIdleTimeoutMs})`));
      } else if (idleInTransactionTimeoutMs > 0 && c.idleInTransaction && idleMs >= idleInTransactionTimeoutMs) {
        c.fail(fatal("25P03", `terminating connection due to idle-in-transaction timeout (listen.idle_in_transaction_timeout_ms = ${idleInTransactionTimeoutMs})`));
      }
    }
  }

  /** Loads the userlist, hba rules and auth_query machinery for `cfg`; throws on a broken file. */
  private applyAuth(cfg: Config): void {
    // Parsed before anything changes: a broken file keeps the running rules (and config).
    const hba = cfg.auth.hba === "" ? null : loadHbaFile(cfg.auth.hba);
    if (cfg.auth.mode === "userlist") this.ctx.userlist = loadUserlist(cfg.auth.userlist, cfg.auth.maxScramIterations);
    // auth_query mode looks users up; so does passthrough with an auth_user (to reach replicas).
    this.ctx.clearLookups();
    this.ctx.lookupsEnabled = cfg.auth.mode === "auth_query" || (cfg.auth.mode === "passthrough" && cfg.auth.authUser !== "");
    this.ctx.hba = hba;
  }

  /** Re-reads the config file; on any error keeps the running config and says why. */
  reload(): boolean {
    return this.reloadWithReason() === null;
  }

  /**
   * Keys set with the admin console's SET, applied over the file the way environment variables
   * are (PGGATE_<SECTION>__<KEY>), and kept over later reloads until a restart.
   */
  private readonly adminOverrides: Record<string, string> = {};

  private setKey(key: string, value: string): string | null {
    const def = findKey(key);
    if (!def) return `unknown config key "${key}" (SHOW CONFIG lists them)`;
    if (!def.reloadable) return `${key} needs a restart; SET only changes keys a reload applies`;
    if (!this.ctx.config.source) return "SET needs PgGate to run from a config file (it is applied as a reload of that file)";
    const variable = ENV_KEY_PREFIX + key.split(".").join("__").toUpperCase();
    const before = this.adminOverrides[variable];
    this.adminOverrides[variable] = value;
    const why = this.reloadWithReason();
    if (why === null) return null;
    if (before === undefined) delete this.adminOverrides[variable];
    else this.adminOverrides[variable] = before;
    // A file's parse error quotes what it read: an admin naming any readable file (/etc/shadow)
    // must not get its contents back. The reason is in the log (config_reload_failed).
    if (def.kind === "path") return `config rejected, the old one stays in effect: ${key} = ${value} is not a usable file (the reason is in the PgGate log)`;
    return `config rejected, the old one stays in effect: ${why}`;
  }

  private reloadWithReason(): string | null {
    const old = this.ctx.configured;
    try {
      const next = reloadConfig(old.source, { ...process.env, ...this.adminOverrides });
      const diff = diffConfig(old, next);
      this.applyAuth(next);
      this.ctx.applyConfig(next);
      configureLog(next.log.level, next.log.format);
      this.ctx.stats.reloads.success++;
      log.info("config_reloaded", { changed: diff.changed.join(",") || "none", restart_required: diff.restartRequired.join(",") || undefined });
      this.warnReplicaCaveat();
      return null;
    } catch (e) {
      this.ctx.stats.reloads.error++;
      log.error("config_reload_failed", { file: old.source, error: (e as Error).message });
      return (e as Error).message;
    }
  }

  /**
   * Graceful shutdown: stop accepting, let running queries finish up to shutdown_timeout_ms,
   * then close every client with FATAL 57P01.
   */
  async shutdown(waitForClients = false): Promise<void> {
    if (this.ctx.shuttingDown) return;
    this.ctx.shuttingDown = true;
    log.info("shutdown_started", { clients: this.ctx.clients.size, wait_for_clients: waitForClients });
    this.listener?.stop(false);
    // Its file goes now: a client finds no socket rather than one that refuses it.
    this.unixListener?.stop(false);
    const deadline = Date.now() + this.ctx.config.shutdownTimeoutMs;
    const busy = (state: string): boolean => (waitForClients ? state !== "admin" : state === "active" || state === "login");
    while (Date.now() < deadline && [...this.ctx.clients].some((c) => busy(c.state))) {
      await Bun.sleep(50);
    }
    for (const c of [...this.ctx.clients]) c.fail(Errors.shuttingDown());
    await Bun.sleep(100);
    this.metrics?.stop();
    this.ctx.pools.stop();
    this.ctx.listenHubs.closeAll();
    // Kept lookup connections go too (they would otherwise linger until their idle timer).
    this.ctx.clearLookups();
    this.ctx.health.stop();
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.cancelListener?.stop(true);
    this.listener?.stop(true);
    this.unixListener?.stop(true);
    log.info("shutdown_complete");
  }
}
