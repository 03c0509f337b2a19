// Periodic health checks of every node on a dedicated connection: reachability, role
// (pg_is_in_recovery), WAL position and replication lag. Reports state changes; routing and
// failover act on them elsewhere. Logs in only as health.user / auth.auth_user, never as a client.
import type { ServerCredentials } from "../auth/credentials.ts";
import { authenticateToServer, serverAuthPolicy } from "../server/server-auth.ts";
import { Backend, buildQuery, decodeDataRow, decodeErrorFields, ErrorField } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { Config } from "../config/types.ts";
import { ServerConn, type NodeTarget, type ServerTlsOptions } from "../server/server-conn.ts";
import { parseLsn, recordBoundary } from "./lsn.ts";
import { startupProbe } from "./startup-probe.ts";

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
  /** The role `conn` logged in as. */
  connUser: string;
  /** Second dedicated connection for fast replay-position polls (read-your-writes). */
  lsnConn: ServerConn | null;
  lsnPoll: Promise<void> | null;
  /** A replay-position loop runs for this replica (see waitForReplay). */
  replayLooping: boolean;
  /**
   * A down replica returns no earlier than this (exponential backoff over repeated failures).
   * Never set for a primary: it has no stand-in, so good checks alone bring it back.
   */
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
  /** The primary of `node`'s cluster (configured or elected): replica lag in bytes; never benched. */
  primaryOf(node: NodeTarget): NodeTarget | null;
  /** What PgGate may log in with on `node`'s cluster, per user (only the health role's entry is read). */
  credentialsFor(node: NodeTarget): ReadonlyMap<string, ServerCredentials>;
  serverTls(node: NodeTarget): ServerTlsOptions;
  /** Whether any pooled connection to `node` received data after `since` (performance.now()). */
  heardFrom(node: NodeTarget, since: number): boolean;
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

  /**
   * Registers `wake`, called whenever a replica's replay position advances, until removed. While
   * anyone waits, each replica is polled back to back (a few ms apart) on its own connection by a
   * loop of its own, each poll bounded by health.timeout_ms: a replica that stops answering holds
   * up its own loop only, never the positions learnt from the others. Returns null when no
   * replica's position can be learnt (none up, or no health.user / auth.auth_user to log in as):
   * waiting would only delay the read.
   */
  waitForReplay(wake: () => void): (() => void) | null {
    const pollable = [...this.nodes.values()].filter((h) => this.replayPollable(h));
    if (pollable.length === 0) return null;
    this.lsnWaiters.add(wake);
    for (const h of pollable) if (!h.replayLooping) void this.replayLoop(h);
    return () => this.lsnWaiters.delete(wake);
  }

  private replayPollable(h: NodeHealth): boolean {
    return h.configuredRole === "replica" && h.up && h.role !== "primary" && this.nodes.get(key(h.target)) === h && this.login(h.target) !== null;
  }

  private async replayLoop(h: NodeHealth): Promise<void> {
    h.replayLooping = true;
    let announced: bigint | null = null;
    try {
      while (this.lsnWaiters.size > 0 && !this.stopped && this.replayPollable(h)) {
        await this.pollReplay(h);
        // Health checks move h.lsn too: whatever raised it, waiters hear of it once.
        if (h.lsn !== null && h.lsn !== announced) {
          announced = h.lsn;
          for (const w of [...this.lsnWaiters]) w();
        }
        await Bun.sleep(2);
      }
    } finally {
      h.replayLooping = false;
    }
  }

  /**
   * The primary `target`'s current WAL insert position, read now on a kept connection (as the
   * health role), within health.timeout_ms; null when it cannot be read (no health role, the node
   * down or in recovery). The insert position, not the flush position: with synchronous_commit =
   * off a commit is acknowledged before its WAL is flushed, and a read must still see it.
   */
  async currentPosition(target: NodeTarget): Promise<bigint | null> {
    const h = this.get(target);
    const login = this.login(target);
    if (!h || !login) return null;
    let abandoned = false;
    const read = async (): Promise<bigint | null> => {
      if (!h.lsnConn || h.lsnConn.state === "closed") {
        h.lsnConn = null;
        const conn = await this.openConn(h.target, login, "pggate_read_index");
        if (abandoned) {
          conn.destroy();
          return null;
        }
        h.lsnConn = conn;
      }
      let lsn: bigint | null = null;
      for (const f of await h.lsnConn.internalQuery(buildQuery("SELECT pg_current_wal_insert_lsn()::text"))) {
        if (f.type === Backend.DataRow) lsn = parseLsn(decodeDataRow(f.body, 0, f.body.length)[0]);
      }
      return lsn === null ? null : recordBoundary(lsn);
    };
    try {
      return await within(read(), this.ctx.config.health.timeoutMs, "read index");
    } catch {
      abandoned = true;
      h.lsnConn?.destroy();
      h.lsnConn = null;
      return null;
    }
  }

  /** Refreshes one replica's replay position; shares an in-flight poll. */
  private pollReplay(h: NodeHealth): Promise<void> {
    h.lsnPoll ??= this.doPollReplay(h).finally(() => {
      h.lsnPoll = null;
    });
    return h.lsnPoll;
  }

  private async doPollReplay(h: NodeHealth): Promise<void> {
    const login = this.login(h.target);
    if (!login) return;
    let abandoned = false;
    const poll = async (): Promise<void> => {
      if (!h.lsnConn || h.lsnConn.state === "closed") {
        h.lsnConn = null;
        const conn = await this.openConn(h.target, login, "pggate_lsn");
        if (abandoned) return conn.destroy();
        h.lsnConn = conn;
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
    };
    try {
      await within(poll(), this.ctx.config.health.timeoutMs, "replay position poll");
    } catch {
      // Not answering (or broken): the next poll starts on a fresh connection. The health checks
      // decide whether the replica is down; until then only this replica's loop waits on it.
      abandoned = true;
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
        connUser: "",
        downUntil: 0,
        lsnConn: null,
        lsnPoll: null,
        replayLooping: false,
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
    const startedAt = performance.now();
    try {
      await within(this.probe(h), this.ctx.config.health.timeoutMs, "health check");
      this.succeeded(h);
    } catch (e) {
      h.conn?.destroy();
      h.conn = null;
      // A check that could not finish in time while clients' connections to the node kept getting
      // answers means a busy node (or a starved PgGate), not a hung one: a frozen node answers
      // nobody. On a saturated host a fresh probe connection (a backend fork) can take seconds, and
      // marking the primary down for it failed every client's query. A refused or broken check is
      // a failure whatever arrived meanwhile (a dying node's FATALs are data too).
      if (e instanceof CheckTimeout && this.ctx.heardFrom(h.target, startedAt)) this.succeeded(h);
      else this.failed(h, (e as Error).message);
    } finally {
      h.checking = false;
      h.lastCheckAt = Date.now();
    }
  }

  private async probe(h: NodeHealth): Promise<void> {
    const login = this.login(h.target);
    if (!login) {
      // No role of PgGate's own to log in as: the server answering a startup proves it accepts
      // connections; role, WAL position and lag stay unknown (see the README's health section).
      h.conn?.terminate();
      h.conn = null;
      const cfg = this.ctx.config;
      await startupProbe(h.target, { database: cfg.health.database, tls: this.ctx.serverTls(h.target), connectTimeoutMs: cfg.nodes.connectTimeoutMs, maxMessageSize: cfg.listen.maxMessageSize });
      return;
    }
    if (h.conn && h.conn.state !== "closed" && h.connUser !== login.user) {
      // health.user changed on reload: the old role's connection goes.
      h.conn.terminate();
      h.conn = null;
    }
    if (!h.conn || h.conn.state === "closed") {
      h.conn = await this.openConn(h.target, login, "pggate_health");
      h.connUser = login.user;
    }
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
    // A replica that replayed everything the primary had is not behind, however long ago its last
    // replayed transaction was: that time only says how long the primary has been idle. (Right
    // after a replica restarts, its WAL receiver is not connected yet, the query above cannot see
    // receive = replay, and an idle primary made it look seconds "behind" for a while.)
    if (h.role === "replica" && primary !== null && h.lsn !== null && h.lsn >= recordBoundary(primary)) h.lagSeconds = 0;
  }

  /**
   * A dedicated, authenticated connection for PgGate's own checks on `target`. The whole login is
   * bounded by nodes.connect_timeout_ms, so a node that accepts TCP but never answers (frozen)
   * leaves no connection behind per check.
   */
  private async openConn(target: NodeTarget, login: { user: string; creds: ServerCredentials }, applicationName: string): Promise<ServerConn> {
    const cfg = this.ctx.config;
    const params = new Map([
      ["user", login.user],
      ["database", cfg.health.database],
      ["application_name", applicationName],
    ]);
    const conn = await ServerConn.connect(target, params, this.ctx.serverTls(target), cfg.nodes.connectTimeoutMs, cfg.listen.maxMessageSize);
    try {
      await within(authenticateToServer(conn, login.user, login.creds, serverAuthPolicy(cfg)), cfg.nodes.connectTimeoutMs, "login (nodes.connect_timeout_ms)");
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return conn;
  }

  /**
   * Who health checks and replay polls log in as: health.user, else auth.auth_user, with the
   * configured password (or what a login of that very role taught PgGate, without one). Never
   * another role: a client whose credentials served here could change its password or end these
   * backends and take its node "down" for everyone.
   */
  private login(node: NodeTarget): { user: string; creds: ServerCredentials } | null {
    const cfg = this.ctx.config;
    const user = cfg.health.user || cfg.auth.authUser;
    if (!user) return null;
    const password = cfg.health.password || (user === cfg.auth.authUser ? cfg.auth.authPassword : "");
    if (password) return { user, creds: { kind: "password", password } };
    const known = this.ctx.credentialsFor(node).get(user);
    return known ? { user, creds: known } : null;
  }

  private succeeded(h: NodeHealth): void {
    h.failures = 0;
    h.successes++;
    h.lastError = "";
    if (!h.up && h.successes >= this.ctx.config.health.successThreshold && (Date.now() >= h.downUntil || !this.benchable(h))) {
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
   * success_threshold good checks; a replica also waits out a backoff that doubles each time it
   * fails again soon (reads go to the others meanwhile), a primary never does.
   */
  markDown(h: NodeHealth, error: string): void {
    if (!h.up) return;
    const now = Date.now();
    if (now - h.upSince > FLAP_MEMORY_MS) h.flaps = 0;
    h.flaps++;
    h.downUntil = this.benchable(h) ? now + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (h.flaps - 1)) : now;
    h.successes = 0;
    h.up = false;
    log.warn("node_down", { cluster: h.target.cluster, node: h.target.name, host: h.target.host, port: h.target.port, error, back_in_ms: h.downUntil - now });
    this.onChange(h, "down");
  }

  /**
   * Whether a flapping node may be kept out past its good checks: a replica only. The configured
   * primary, the node writes go to, and a node that reports itself primary (a failover
   * candidate) have no stand-in: health checks are the authority on their recovery.
   */
  private benchable(h: NodeHealth): boolean {
    return h.configuredRole === "replica" && h.role !== "primary" && this.ctx.primaryOf(h.target) !== h.target;
  }
}

/** `p`, or a rejection after `ms` (the work itself is not stopped: the caller closes what it used). */
/** A check that did not finish in time (as opposed to one the node refused or broke). */
class CheckTimeout extends Error {
  override readonly name = "CheckTimeout";
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function key(t: NodeTarget): string {
  return `${t.host}:${t.port}`;
}
