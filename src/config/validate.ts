// Turns a plain YAML-shaped value into a deep-frozen Config, or the complete list of problems.
// Driven by SCHEMA; the only I/O is checking that referenced files exist and are readable.

import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { ConfigProblem } from "./errors.ts";
import {
  childNames,
  describeType,
  findKey,
  SCHEMA,
  SECTIONS,
  type ConfigPath,
  type KeyDef,
  type ValueAt,
} from "./schema.ts";
import { formatValue } from "./reference.ts";
import { suggest } from "./suggest.ts";
import { pgbouncerHint } from "./pgbouncer-keys.ts";
import { envOverrides, unsupportedEnvVariables, withOverrides } from "./env-overrides.ts";
import { everyEntryHasNodes, parseDatabases, resolveDatabases, type ParsedDatabase } from "./databases.ts";
import { describeGot, formatPath, isMapping, type Segment } from "./yaml-shape.ts";
import { ValueChecks } from "./value-checks.ts";
import type { Config, NodeConfig, RoutingConfig } from "./types.ts";

/** Longest Unix socket path Linux binds (sizeof(sun_path) - 1). */
const UNIX_PATH_MAX = 107;

export const AUTH_PASSWORD_ENV = "PGGATE_AUTH_PASSWORD";
export const ADMIN_PASSWORD_ENV = "PGGATE_ADMIN_PASSWORD";
export { ENV_KEY_PREFIX } from "./env-overrides.ts";

/** Finds where a key (or its value) sits in the source text; nearest existing ancestor if absent. */
export type Locator = (
  segments: readonly Segment[],
  at: "key" | "value",
) => { line: number; column: number } | undefined;

export interface ValidateContext {
  /** Absolute path of the source file, "" when built in memory. */
  readonly source: string;
  /** Directory relative file paths resolve against. */
  readonly baseDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly locate?: Locator;
}

export type ValidateResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

function nodeKey(n: NodeConfig): string {
  return `${n.host}:${n.port}`;
}

class Validator extends ValueChecks {
  readonly problems: ConfigProblem[] = [];
  private readonly values = new Map<string, unknown>();
  /** The `databases:` entries once their own keys are valid; resolved in crossChecks against the top-level values. */
  private databaseEntries: ParsedDatabase[] | undefined;
  /** Every `databases:` entry names its own nodes, so top-level nodes.primary may be left out. */
  private everyDatabaseHasNodes = false;

  constructor(private readonly ctx: ValidateContext) {
    super(ctx.baseDir);
  }

  /** `near`: where to point instead when the problem is caused by another key (e.g. a mode). */
  report(segments: readonly Segment[], message: string, at: "key" | "value" = "value", near?: readonly Segment[]): void {
    const pos = this.ctx.locate?.(near ?? segments, at);
    this.problems.push(
      pos ? { path: formatPath(segments), message, line: pos.line, column: pos.column } : { path: formatPath(segments), message },
    );
  }

  get<P extends ConfigPath>(path: P): ValueAt<P> | undefined {
    // Only validated values of the key's own kind are stored under its path.
    return this.values.get(path) as ValueAt<P> | undefined;
  }

  /** For building the snapshot once there are no problems: every key then has a value. */
  must<P extends ConfigPath>(path: P): ValueAt<P> {
    const v = this.get(path);
    if (v === undefined) throw new Error(`internal: config key ${path} has no value`);
    return v;
  }

  run(root: unknown): void {
    if (root === null || root === undefined) root = {};
    if (!isMapping(root)) {
      this.report([], `the config must be a mapping of sections (${childNames("").join(", ")}), got ${describeGot(root)}`);
      return;
    }
    for (const variable of unsupportedEnvVariables(this.ctx.env)) {
      this.report(["databases"], `cannot be set from the environment (${variable}); write the databases: section in the config file`, "key");
    }
    const fromEnv = envOverrides(this.ctx.env);
    const merged = fromEnv.length === 0 ? root : withOverrides(root, fromEnv);
    this.walk(merged, []);
    this.fillDefaults();
    this.applyEnv();
    this.crossChecks();
    // A problem with a value that came from the environment says so.
    this.problems.forEach((p, i) => {
      const o = fromEnv.find((e) => p.path === e.path.join(".") || p.path.startsWith(`${e.path.join(".")}.`) || p.path.startsWith(`${e.path.join(".")}[`));
      if (o) this.problems[i] = { ...p, message: `${p.message} (from ${o.variable})` };
    });
  }

  private walk(obj: Record<string, unknown>, at: readonly string[]): void {
    const section = at.join(".");
    for (const [name, value] of Object.entries(obj)) {
      const segs = [...at, name];
      const path = segs.join(".");
      if (name.includes(".")) {
        // A dotted key would alias a nested one (`listen.port` vs listen: { port }); keep one spelling.
        this.report(segs, `unknown key; write nested keys as mappings, e.g. ${name.split(".")[0]}: { ${name.split(".").slice(1).join(".")}: ... }`, "key");
        continue;
      }
      const key = findKey(path);
      if (key) this.leaf(key, segs, value);
      else if (SECTIONS.has(path)) {
        if (value === null) continue; // an empty section: every key keeps its default
        if (isMapping(value)) this.walk(value, segs);
        else this.report(segs, `must be a mapping with keys ${childNames(path).join(", ")}, got ${describeGot(value)}`);
      } else this.unknownKey(segs, section, name);
    }
  }

  private unknownKey(segs: readonly Segment[], section: string, name: string): void {
    // A PgBouncer setting's exact name says more than any near spelling of a PgGate key.
    const pgbouncer = pgbouncerHint(name);
    if (pgbouncer) {
      this.report(segs, `unknown key; ${pgbouncer}`, "key");
      return;
    }
    const siblings = childNames(section);
    const near = suggest(name, siblings);
    const qualify = (n: string) => (section ? `${section}.${n}` : n);
    if (near) {
      this.report(segs, `unknown key; did you mean ${qualify(near)}?`, "key");
      return;
    }
    // The right name in the wrong section, e.g. pool.max_client_connections.
    const elsewhere = SCHEMA.find((k) => k.path.endsWith(`.${name}`) || k.path === name);
    if (elsewhere) {
      this.report(segs, `unknown key; did you mean ${elsewhere.path}?`, "key");
      return;
    }
    const where = section ? `under ${section}` : "at the top level";
    this.report(segs, `unknown key; allowed ${where}: ${siblings.join(", ")}`, "key");
  }

  private leaf(key: KeyDef, segs: readonly Segment[], v: unknown): void {
    if (key.kind === "databases") {
      this.everyDatabaseHasNodes = everyEntryHasNodes(v);
      const locate = this.ctx.locate;
      // A plain object lists integer-like names first; the text knows the file's order.
      const order = locate ? (name: string) => rank(locate([...segs, name], "key")) : undefined;
      this.databaseEntries = parseDatabases(this, segs, v, order);
      return;
    }
    if (v === null && key.kind !== "string-list" && key.kind !== "node-list") {
      const dflt = key.default === undefined ? "" : `; remove the key to use the default (${formatValue(key.default)})`;
      this.report(segs, `has no value, expected ${describeType(key)}${dflt}`);
      return;
    }
    const value = this.leafValue(key, segs, v);
    if (value !== undefined) this.values.set(key.path, value);
  }

  private hasProblemAround(path: string): boolean {
    const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
    return this.problems.some((p) => related(p.path, path) || (p.path !== "" && related(path, p.path)));
  }

  private fillDefaults(): void {
    for (const key of SCHEMA) {
      if (this.values.has(key.path) || this.hasProblemAround(key.path)) continue;
      if (key.kind === "databases" && this.databaseEntries) continue; // set by resolveDatabases, in crossChecks
      if (key.path === "nodes.primary" && this.everyDatabaseHasNodes) continue; // null: no default cluster
      if (key.default === undefined) {
        const without = this.databaseEntries?.find((d) => d.nodes === null);
        const why = without ? ` (databases.${without.name} has no nodes of its own)` : "";
        this.report(key.path.split("."), `is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }${why}`);
        continue;
      }
      this.values.set(key.path, key.default);
    }
  }

  private applyEnv(): void {
    const fromEnv = this.ctx.env[AUTH_PASSWORD_ENV];
    if (fromEnv !== undefined && fromEnv !== "") this.values.set("auth.auth_password", fromEnv);
    const admin = this.ctx.env[ADMIN_PASSWORD_ENV];
    if (admin !== undefined && admin !== "") this.values.set("admin.password", admin);
  }

  /** Rules that span keys. Each runs only when the keys it reads are individually valid. */
  private crossChecks(): void {
    const at = (path: string) => path.split(".");

    const listenTls = this.get("listen.tls.mode");
    if (listenTls !== undefined && listenTls !== "disable") {
      const cert = this.requireFile("listen.tls.cert", "listen.tls.mode");
      const key = this.requireFile("listen.tls.key", "listen.tls.mode");
      if (cert && key) this.checkCertificateAndKey();
    }

    const nodeTls = this.get("nodes.tls.mode");
    const needsCa = nodeTls === "verify-full" || (nodeTls !== undefined && nodeTls !== "disable" && this.get("nodes.tls.ca"));
    if (needsCa && this.requireFile("nodes.tls.ca", "nodes.tls.mode")) this.checkCa();

    const authMode = this.get("auth.mode");
    if (authMode === "auth_query") {
      if (this.get("auth.auth_user") === "") {
        this.report(at("auth.auth_user"), "is required when auth.mode is auth_query (the role PgGate runs auth_query as)", "value", at("auth.mode"));
      }
      const q = this.get("auth.auth_query");
      if (q !== undefined && !/\$1\b/.test(q)) this.report(at("auth.auth_query"), "must take the user name as the parameter $1");
    }
    if (authMode === "userlist") this.requireFile("auth.userlist", "auth.mode");

    const size = this.get("pool.size");
    const minIdle = this.get("pool.min_idle");
    if (size !== undefined && minIdle !== undefined && minIdle > size) {
      this.report(at("pool.min_idle"), `must not exceed pool.size (${size}), got ${minIdle}`);
    }

    this.checkUnixSocketDir();

    const primary = this.get("nodes.primary");
    const replicas = this.get("nodes.replicas");
    if (primary && replicas) {
      const seen = new Map<string, string>([[nodeKey(primary), "nodes.primary"]]);
      replicas.forEach((r, i) => {
        const prev = seen.get(nodeKey(r));
        if (prev) this.report(["nodes", "replicas", i], `${nodeKey(r)} is already listed as ${prev}`);
        else seen.set(nodeKey(r), `nodes.replicas[${i}]`);
      });
    }

    if (!primary && replicas && replicas.length > 0 && this.everyDatabaseHasNodes && !this.hasProblemAround("nodes.primary")) {
      this.report(at("nodes.replicas"), "has no nodes.primary to replicate; give nodes.primary, or move these replicas into a databases entry's nodes (every entry names its own nodes)");
    }
    this.resolveDatabases();

    // A name in both lists would read as read-only in one place and be an admin in fact: say which.
    const admins = this.get("admin.users");
    const statsUsers = this.get("admin.stats_users");
    if (admins && statsUsers) {
      statsUsers.forEach((u, i) => {
        if (admins.includes(u)) this.report(["admin", "stats_users", i], `"${u}" is also in admin.users (which gives full access); list it in one of them`);
      });
    }

    const writeFns = this.get("routing.write_functions");
    const readFns = this.get("routing.read_functions");
    if (writeFns && readFns) {
      const both = readFns.filter((f) => writeFns.includes(f));
      if (both.length > 0) this.report(at("routing.read_functions"), `${both.join(", ")} also listed in routing.write_functions; list each function once`);
    }

    const lPort = this.get("listen.port");
    if (
      this.get("metrics.enabled") &&
      lPort !== undefined &&
      lPort !== 0 &&
      lPort === this.get("metrics.port") &&
      this.get("listen.host") === this.get("metrics.host")
    ) {
      this.report(at("metrics.port"), `must differ from listen.port (${lPort}) on the same host`);
    }
  }

  /**
   * listen.unix_socket_dir must be an absolute path of an existing directory (a relative one would
   * depend on the working directory, and clients name it with host=), and the socket's path must
   * fit sockaddr_un (107 bytes on Linux) or binding it fails.
   */
  private checkUnixSocketDir(): void {
    const dir = this.get("listen.unix_socket_dir");
    if (dir === undefined || dir === "") return;
    const segs = ["listen", "unix_socket_dir"];
    if (!isAbsolute(dir)) {
      this.report(segs, `must be an absolute path (clients name it with host=${dir}), got a relative one`);
      return;
    }
    const port = this.get("listen.port");
    const socket = join(dir, `.s.PGSQL.${port === undefined || port === 0 ? 65535 : port}`);
    if (Buffer.byteLength(socket) > UNIX_PATH_MAX) {
      this.report(segs, `is too long: the socket path ${socket} must fit in ${UNIX_PATH_MAX} bytes`);
      return;
    }
    try {
      if (!statSync(dir).isDirectory()) this.report(segs, `${dir} is not a directory`);
    } catch (e) {
      const code = e instanceof Error && "code" in e ? String(e.code) : "";
      this.report(segs, code === "ENOENT" ? `directory ${dir} does not exist` : `cannot use directory ${dir}: ${(e as Error).message}`);
    }
  }

  /** Folds the top-level routing and pool.databases into the `databases:` entries and checks the clusters. */
  private resolveDatabases(): void {
    if (!this.databaseEntries) return;
    const routing = this.topRouting();
    const poolDatabases = this.get("pool.databases");
    const replicas = this.get("nodes.replicas");
    if (!routing || !poolDatabases || !replicas) return; // a problem there is already reported
    const resolved = resolveDatabases(this, this.databaseEntries, { primary: this.get("nodes.primary"), replicas, routing, poolDatabases });
    if (!resolved) return;
    this.values.set("databases", resolved.databases);
    this.values.set("pool.databases", resolved.poolDatabases);
  }

  private topRouting(): RoutingConfig | undefined {
    const r = {
      readWriteSplit: this.get("routing.read_write_split"),
      readYourWrites: this.get("routing.read_your_writes"),
      defaultRoute: this.get("routing.default_route"),
      noReplica: this.get("routing.no_replica"),
      rywMaxWaitMs: this.get("routing.ryw_max_wait_ms"),
      maxReplicaLagMs: this.get("routing.max_replica_lag_ms"),
      maxReplicaLagBytes: this.get("routing.max_replica_lag_bytes"),
      primaryReadWeight: this.get("routing.primary_read_weight"),
    };
    for (const v of Object.values(r)) if (v === undefined) return undefined;
    return r as RoutingConfig;
  }

  /**
   * The listen certificate and key must parse as PEM and belong together, so a broken pair is
   * caught by `pggate check`, at start and on reload — not by every TLS client failing with
   * "SSL SYSCALL error: EOF".
   */
  private checkCertificateAndKey(): void {
    const certPath = this.get("listen.tls.cert")!;
    const keyPath = this.get("listen.tls.key")!;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(readFileSync(certPath));
    } catch (e) {
      this.report(["listen", "tls", "cert"], `${this.rawPaths.get("listen.tls.cert") ?? certPath} is not a PEM certificate (${(e as Error).message})`);
      return;
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(keyPath));
    } catch (e) {
      this.report(["listen", "tls", "key"], `${this.rawPaths.get("listen.tls.key") ?? keyPath} is not a PEM private key (${(e as Error).message})`);
      return;
    }
    if (!cert.checkPrivateKey(key)) this.report(["listen", "tls", "key"], `does not belong to the certificate in listen.tls.cert (${cert.subject.replaceAll("\n", ", ")})`);
    if (Date.parse(cert.validTo) < Date.now()) this.report(["listen", "tls", "cert"], `expired on ${cert.validTo}`);
  }

  private checkCa(): void {
    const caPath = this.get("nodes.tls.ca")!;
    try {
      new X509Certificate(readFileSync(caPath));
    } catch (e) {
      this.report(["nodes", "tls", "ca"], `${this.rawPaths.get("nodes.tls.ca") ?? caPath} is not a PEM certificate (${(e as Error).message})`);
    }
  }

  /** The file at `path` must exist and be readable, because of the value of `modePath`. Returns whether it is. */
  private requireFile(
    path: "listen.tls.cert" | "listen.tls.key" | "nodes.tls.ca" | "auth.userlist",
    modePath: "listen.tls.mode" | "nodes.tls.mode" | "auth.mode",
  ): boolean {
    const resolved = this.get(path);
    if (resolved === undefined) return false; // already reported as the wrong type
    const segs = path.split(".");
    if (resolved === "") {
      this.report(segs, `is required when ${modePath} is ${String(this.get(modePath))}`, "value", modePath.split("."));
      return false;
    }
    const raw = this.rawPaths.get(path) ?? resolved;
    const shown = isAbsolute(raw) ? raw : `${raw} (resolved to ${resolved})`;
    try {
      if (!statSync(resolved).isFile()) {
        this.report(segs, `${shown} is not a regular file`);
        return false;
      }
      accessSync(resolved, constants.R_OK);
      return true;
    } catch (e) {
      const code = e instanceof Error && "code" in e ? String(e.code) : "";
      if (code === "ENOENT" || code === "ENOTDIR") {
        const where = isAbsolute(raw) ? "" : ` (resolved to ${resolved})`;
        this.report(segs, `file ${raw} not found${where}`);
      } else if (code === "EACCES" || code === "EPERM") this.report(segs, `file ${shown} is not readable by this process`);
      else this.report(segs, `cannot read file ${shown}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  build(): Config {
    const m = <P extends ConfigPath>(p: P) => this.must(p);
    return {
      source: this.ctx.source,
      listen: {
        host: m("listen.host"),
        port: m("listen.port"),
        maxClientConnections: m("listen.max_client_connections"),
        handshakeTimeoutMs: m("listen.handshake_timeout_ms"),
        clientIdleTimeoutMs: m("listen.client_idle_timeout_ms"),
        idleInTransactionTimeoutMs: m("listen.idle_in_transaction_timeout_ms"),
        maxMessageSize: m("listen.max_message_size"),
        maxPendingLogins: m("listen.max_pending_logins"),
        maxPendingLoginsPerSource: m("listen.max_pending_logins_per_source"),
        authStepTimeoutMs: m("listen.auth_step_timeout_ms"),
        unixSocketDir: m("listen.unix_socket_dir"),
        unixSocketMode: m("listen.unix_socket_mode"),
        unixSocketGroup: m("listen.unix_socket_group"),
        tls: { mode: m("listen.tls.mode"), cert: m("listen.tls.cert"), key: m("listen.tls.key") },
      },
      metrics: { enabled: m("metrics.enabled"), host: m("metrics.host"), port: m("metrics.port"), readyMaxWaiting: m("metrics.ready_max_waiting") },
      databases: m("databases"),
      nodes: {
        // Absent only when every databases entry names its own nodes (checked in fillDefaults).
        primary: this.get("nodes.primary") ?? null,
        replicas: m("nodes.replicas"),
        connectTimeoutMs: m("nodes.connect_timeout_ms"),
        tcpKeepalive: m("nodes.tcp_keepalive"),
        tcpKeepaliveIdleMs: m("nodes.tcp_keepalive_idle_ms"),
        maxConnections: m("nodes.max_connections"),
        requireAuth: m("nodes.require_auth"),
        tls: { mode: m("nodes.tls.mode"), ca: m("nodes.tls.ca"), serverName: m("nodes.tls.server_name") },
      },
      pool: {
        mode: m("pool.mode"),
        size: m("pool.size"),
        minIdle: m("pool.min_idle"),
        reserveSize: m("pool.reserve_size"),
        reserveTimeoutMs: m("pool.reserve_timeout_ms"),
        idleTimeoutMs: m("pool.idle_timeout_ms"),
        maxLifetimeMs: m("pool.max_lifetime_ms"),
        acquireTimeoutMs: m("pool.acquire_timeout_ms"),
        queryTimeoutMs: m("pool.query_timeout_ms"),
        users: m("pool.users"),
        databases: m("pool.databases"),
        preparedStatementsCacheSize: m("pool.prepared_statements_cache_size"),
      },
      auth: {
        mode: m("auth.mode"),
        authUser: m("auth.auth_user"),
        authPassword: m("auth.auth_password"),
        authQuery: m("auth.auth_query"),
        authDatabase: m("auth.auth_database"),
        cacheTtlMs: m("auth.cache_ttl_ms"),
        maxScramIterations: m("auth.max_scram_iterations"),
        userlist: m("auth.userlist"),
        maxConcurrentLookups: m("auth.max_concurrent_lookups"),
        maxQueuedLookups: m("auth.max_queued_lookups"),
        hba: m("auth.hba"),
      },
      routing: {
        readWriteSplit: m("routing.read_write_split"),
        readYourWrites: m("routing.read_your_writes"),
        defaultRoute: m("routing.default_route"),
        noReplica: m("routing.no_replica"),
        writeFunctions: m("routing.write_functions"),
        readFunctions: m("routing.read_functions"),
        rywMaxWaitMs: m("routing.ryw_max_wait_ms"),
        maxReplicaLagMs: m("routing.max_replica_lag_ms"),
        maxReplicaLagBytes: m("routing.max_replica_lag_bytes"),
        primaryReadWeight: m("routing.primary_read_weight"),
      },
      health: {
        intervalMs: m("health.interval_ms"),
        timeoutMs: m("health.timeout_ms"),
        failureThreshold: m("health.failure_threshold"),
        successThreshold: m("health.success_threshold"),
        user: m("health.user"),
        password: m("health.password"),
        database: m("health.database"),
        primaryWaitMs: m("health.primary_wait_ms"),
      },
      retry: {
        connectAttempts: m("retry.connect_attempts"),
        backoffMs: m("retry.backoff_ms"),
      },
      admin: { users: m("admin.users"), statsUsers: m("admin.stats_users"), password: m("admin.password") },
      limits: {
        maxBufferedBytes: m("limits.max_buffered_bytes"),
        maxPreparedStatements: m("limits.max_prepared_statements"),
        maxPreparedStatementBytes: m("limits.max_prepared_statement_bytes"),
      },
      log: { level: m("log.level"), format: m("log.format") },
      shutdownTimeoutMs: m("shutdown_timeout_ms"),
      workers: m("workers"),
    };
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates a YAML-shaped value (as parsed, before defaults) against SCHEMA. */
export function validateConfig(root: unknown, ctx: ValidateContext): ValidateResult {
  const v = new Validator(ctx);
  v.run(root);
  if (v.problems.length > 0) return { ok: false, problems: inSourceOrder(v.problems) };
  // Defaults are shared constants (e.g. the admin.users list): copy before freezing.
  return { ok: true, config: deepFreeze(structuredClone(v.build())) };
}

/** A source position as one sortable number; positionless last. */
function rank(p: { line?: number; column?: number } | undefined): number {
  return p?.line === undefined ? Number.MAX_SAFE_INTEGER : p.line * 100_000 + (p.column ?? 0);
}

/** Problems with a position sorted by it; the rest (no position) keep their order, last. */
function inSourceOrder(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => rank(a) - rank(b));
}
