// Periodic health checks of every node on a dedicated connection: reachability, role
// (pg_is_in_recovery), WAL position and replication lag. Reports state changes; routing and
// failover act on them elsewhere.
import type { ServerCredentials } from "../auth/credentials.ts";
import { authenticateToServer, serverAuthPolicy } from "../server/server-auth.ts";
import { Backend, buildQuery, decodeDataRow, decodeErrorFields, ErrorField } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { Config } from "../config/types.ts";
import { ServerConn, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";
import { parseLsn } from "./lsn.ts";

export type NodeRole = "primary" | "replica" | "unknown";

export interface NodeHealth {
  target: NodeTarget;
  /** What the config says this node is. */
  configuredRole: "primary" | "replica";
  /** What the node says it is (pg_is_in_recovery), once checked. */
  role: NodeRole;
  up: boolean;
  failures: number;
  successes: number;
  lastCheckAt: number;
  lastError: string;
  /** Primary: pg_current_wal_lsn(); replica: pg_last_wal_replay_lsn(). */
  lsn: bigint | null;
  lsnAt: number;
  lagBytes: number | null;
  lagSeconds: number | null;
  checking: boolean;
  conn: ServerConn | null;
  /** Second dedicated connection for fast replay-position polls (read-your-writes). */
  lsnConn: ServerConn | null;
  lsnPoll: Promise<void> | null;
  /** A down node returns no earlier than this (exponential backoff over repeated failures). */
  downUntil: number;
  /** Times it went down recently; reset after a minute of good health. */
  flaps: number;
  upSince: number;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const FLAP_MEMORY_MS = 60_000;

const CHECK_SQL =
  "SELECT pg_is_in_recovery()::text, " +
  "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text, " +
  "(CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 " +
  "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END)::float8::text";

/** What health checks need from the gateway, declared here so this layer imports nothing above it. */
export interface HealthDeps {
  readonly config: Config;
  /** Every configured node with the role the config gives it, read on every sync. */
  configuredNodes(): Iterable<{ target: NodeTarget; role: "primary" | "replica" }>;
  /** The primary of `node`'s cluster (configured or elected), for replica lag in bytes. */
  primaryOf(node: NodeTarget): NodeTarget | null;
  /** What PgGate may log in with on `node`'s cluster, per user. */
  credentialsFor(node: NodeTarget): ReadonlyMap<string, ServerCredentials>;
  serverTls(node: NodeTarget): ServerTlsOptions;
}

export class HealthMonitor {
  private readonly nodes = new Map<string, NodeHealth>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Called on up/down and role changes. */
  onChange: (h: NodeHealth, what: "up" | "down" | "role") => void = () => {};

  constructor(private readonly ctx: HealthDeps) {}

  start(): void {
    this.stopped = false;
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const h of this.nodes.values()) {
      h.conn?.terminate();
      h.lsnConn?.terminate();
    }
    for (const w of this.lsnWaiters) w();
    this.lsnWaiters.clear();
  }

  /** Callbacks of reads waiting for a replica to replay their client's last write. */
  private readonly lsnWaiters = new Set<() => void>();
  private polling = false;

  /**
   * Registers `wake` to be called after each fresh round of replay positions, until removed.
   * While anyone waits, replicas are polled back to back (a few ms apart) on their own connection:
   * cheap, and only while a read-your-writes read is actually waiting.
   */
  waitForReplay(wake: () => void): () => void {
    this.lsnWaiters.add(wake);
    if (!this.polling) void this.pollLoop();
    return () => this.lsnWaiters.delete(wake);
  }

  private async pollLoop(): Promise<void> {
    this.polling = true;
    try {
      while (this.lsnWaiters.size > 0 && !this.stopped) {
        const replicas = [...this.nodes.values()].filter((h) => h.configuredRole === "replica" && h.up && h.role !== "primary");
        if (replicas.length === 0) break;
        await Promise.all(replicas.map((h) => this.pollReplay(h)));
        for (const w of [...this.lsnWaiters]) w();
        await Bun.sleep(2);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Refreshes one replica's replay position; shares an in-flight poll. */
  pollReplay(h: NodeHealth): Promise<void> {
    h.lsnPoll ??= this.doPollReplay(h).finally(() => {
      h.lsnPoll = null;
    });
    return h.lsnPoll;
  }

  private async doPollReplay(h: NodeHealth): Promise<void> {
    try {
      if (!h.lsnConn || h.lsnConn.state === "closed") {
        h.lsnConn = null;
        const login = this.credentials(h.target);
        if (!login) return;
        h.lsnConn = await this.openConn(h.target, login, "pggate_lsn");
      }
      const frames = await h.lsnConn.internalQuery(buildQuery("SELECT pg_last_wal_replay_lsn()::text"));
      for (const f of frames) {
        if (f.type !== Backend.DataRow) continue;
        const lsn = parseLsn(decodeDataRow(f.body, 0, f.body.length)[0]);
        if (lsn !== null && (h.lsn === null || lsn > h.lsn)) {
          h.lsn = lsn;
          h.lsnAt = Date.now();
        }
      }
    } catch {
      h.lsnConn?.destroy();
      h.lsnConn = null;
    }
  }

  get(target: NodeTarget): NodeHealth | undefined {
    return this.byTarget.get(target) ?? this.nodes.get(key(target));
  }

  /** The same entries keyed by target object: the per-query lookup, without building a key string. */
  private readonly byTarget = new Map<NodeTarget, NodeHealth>();

  all(): NodeHealth[] {
    return [...this.nodes.values()];
  }

  /** The latest WAL position of `node`'s cluster's primary, if known. */
  private primaryLsnOf(node: NodeTarget): bigint | null {
    const p = this.ctx.primaryOf(node);
    return p === null ? null : (this.get(p)?.lsn ?? null);
  }

  /** Syncs the node table with the config (added nodes start unknown; removed ones close). */
  private syncNodes(): void {
    const wanted = new Map<string, { target: NodeTarget; role: "primary" | "replica" }>();
    for (const n of this.ctx.configuredNodes()) wanted.set(key(n.target), n);
    for (const [k, h] of this.nodes) {
      if (!wanted.has(k)) {
        h.conn?.terminate();
        h.lsnConn?.terminate();
        this.nodes.delete(k);
      }
    }

    for (const [k, w] of wanted) {
      const h = this.nodes.get(k);
      if (h) {
        h.configuredRole = w.role;
        h.target = w.target;
        continue;
      }
      this.nodes.set(k, {
        target: w.target,
        configuredRole: w.role,
        role: "unknown",
        up: true, // optimistic until proven otherwise: a fresh PgGate serves at once
        failures: 0,
        successes: 0,
        lastCheckAt: 0,
        lastError: "",
        lsn: null,
        lsnAt: 0,
        lagBytes: null,
        lagSeconds: null,
        checking: false,
        conn: null,
        downUntil: 0,
        lsnConn: null,
        lsnPoll: null,
        flaps: 0,
        upSince: Date.now(),
      });
    }
    this.byTarget.clear();
    for (const w of wanted.values()) {
      const h = this.nodes.get(key(w.target));
      if (h) this.byTarget.set(w.target, h);
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.syncNodes();
    for (const h of this.nodes.values()) if (!h.checking) void this.check(h);
    this.timer = setTimeout(() => this.tick(), this.ctx.config.health.intervalMs);
    this.timer.unref?.();
  }

  private async check(h: NodeHealth): Promise<void> {
    h.checking = true;
    const timeoutMs = this.ctx.config.health.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.probe(h),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`health check timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.succeeded(h);
    } catch (e) {
      h.conn?.destroy();
      h.conn = null;
      this.failed(h, (e as Error).message);
    } finally {
      clearTimeout(timer);
      h.checking = false;
      h.lastCheckAt = Date.now();
    }
  }

  private async probe(h: NodeHealth): Promise<void> {
    const login = this.credentials(h.target);
    if (!login) {
      // Nobody to log in as yet: a TCP connect at least proves the node is there.
      const s = await Bun.connect({ hostname: h.target.host, port: h.target.port, socket: { data() {} } });
      s.end();
      return;
    }
    if (!h.conn || h.conn.state === "closed") h.conn = await this.openConn(h.target, login, "pggate_health");
    const frames = await h.conn.internalQuery(buildQuery(CHECK_SQL));
    for (const f of frames) {
      if (f.type === Backend.ErrorResponse) throw new Error(decodeErrorFields(f.body, 0, f.body.length).get(ErrorField.Message) ?? "error");
      if (f.type !== Backend.DataRow) continue;
      const [recovery, lsn, lag] = decodeDataRow(f.body, 0, f.body.length);
      const role: NodeRole = recovery === "true" || recovery === "t" ? "replica" : "primary";
      if (role !== h.role && h.role !== "unknown") {
        log.warn("node_role_changed", { cluster: h.target.cluster, node: h.target.name, from: h.role, to: role });
        h.role = role;
        this.onChange(h, "role");
      }
      h.role = role;
      h.lsn = parseLsn(lsn);
      h.lsnAt = Date.now();
      h.lagSeconds = role === "replica" && lag !== null ? Math.max(0, Number(lag)) : 0;
    }
    const primary = this.primaryLsnOf(h.target);
    h.lagBytes = h.role === "replica" && primary !== null && h.lsn !== null ? Math.max(0, Number(primary - h.lsn)) : h.role === "primary" ? 0 : null;
  }

  /** A dedicated, authenticated connection for PgGate's own checks on `target`. */
  private async openConn(target: NodeTarget, login: { user: string; creds: ServerCredentials }, applicationName: string): Promise<ServerConn> {
    const cfg = this.ctx.config;
    const params = new Map([
      ["user", login.user],
      ["database", cfg.health.database],
      ["application_name", applicationName],
    ]);
    const conn = await ServerConn.connect(target, params, this.ctx.serverTls(target), cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
    try {
      await authenticateToServer(conn, login.user, login.creds, serverAuthPolicy(cfg));
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return conn;
  }

  private credentials(node: NodeTarget): { user: string; creds: ServerCredentials } | null {
    const cfg = this.ctx.config;
    const learnt = this.ctx.credentialsFor(node);
    const user = cfg.health.user || cfg.auth.authUser;
    if (user) {
      const password = cfg.health.password || (user === cfg.auth.authUser ? cfg.auth.authPassword : "");
      if (password) return { user, creds: { kind: "password", password } };
      const known = learnt.get(user);
      if (known) return { user, creds: known };
    }
    for (const [u, creds] of learnt) return { user: u, creds };
    return null;
  }

  private succeeded(h: NodeHealth): void {
    h.failures = 0;
    h.successes++;
    h.lastError = "";
    if (!h.up && h.successes >= this.ctx.config.health.successThreshold && Date.now() >= h.downUntil) {
      h.up = true;
      h.upSince = Date.now();
      log.info("node_up", { cluster: h.target.cluster, node: h.target.name, host: h.target.host, port: h.target.port, role: h.role });
      this.onChange(h, "up");
    }
  }

  private failed(h: NodeHealth, error: string): void {
    h.successes = 0;
    h.failures++;
    h.lastError = error;
    if (h.up && h.failures >= this.ctx.config.health.failureThreshold) {
      this.markDown(h, error);
    }
  }

  /**
   * Takes a node out now (health checks failed, or a connection to it broke). It returns after
   * success_threshold good checks and a backoff that doubles each time it fails again soon.
   */
  markDown(h: NodeHealth, error: string): void {
    if (!h.up) return;
    const now = Date.now();
    if (now - h.upSince > FLAP_MEMORY_MS) h.flaps = 0;
    h.flaps++;
    h.downUntil = now + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (h.flaps - 1));
    h.successes = 0;
    h.up = false;
    log.warn("node_down", { cluster: h.target.cluster, node: h.target.name, host: h.target.host, port: h.target.port, error, back_in_ms: h.downUntil - now });
    this.onChange(h, "down");
  }
}

function key(t: NodeTarget): string {
  return `${t.host}:${t.port}`;
}
