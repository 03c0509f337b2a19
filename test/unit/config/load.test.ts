// parseConfig / loadConfig / configFromObject: defaults, every kind of broken file with its exact
// message, env and path resolution, and the frozen result.

import { afterAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import {
  ConfigError,
  configFromObject,
  defaultConfigFor,
  loadConfig,
  parseConfig,
  type Config,
} from "../../../src/config/index.ts";
import { problemLines, TempDir, testPems } from "./helpers.ts";
import { poolModeFor, poolSizeFor } from "../../../src/pool/pool-settings.ts";

const tmp = new TempDir();
afterAll(() => tmp.remove());

const MINIMAL = "nodes:\n  primary: { host: db1, port: 5432 }\n";
const parse = (text: string, env: Record<string, string | undefined> = {}) =>
  parseConfig(text, { source: "pggate.yaml", env });
const problems = (text: string, env: Record<string, string | undefined> = {}) => problemLines(() => parse(text, env));

describe("defaults", () => {
  test("a file with only nodes.primary gets every documented default", () => {
    const path = tmp.write("minimal/pggate.yaml", MINIMAL);
    const expected: Config = {
      source: path,
      listen: {
        host: "127.0.0.1",
        port: 6432,
        maxClientConnections: 10000,
        handshakeTimeoutMs: 10000,
        clientIdleTimeoutMs: 0,
        idleInTransactionTimeoutMs: 0,
        maxMessageSize: 268435456,
        maxPendingLogins: 64,
        maxPendingLoginsPerSource: 4,
        authStepTimeoutMs: 5000,
        unixSocketDir: "",
        unixSocketMode: "0777",
        unixSocketGroup: "",
        tls: { mode: "disable", cert: "", key: "" },
      },
      metrics: { enabled: true, host: "127.0.0.1", port: 8080, readyMaxWaiting: 100 },
      databases: [],
      nodes: {
        primary: { host: "db1", port: 5432, weight: 1 },
        replicas: [],
        connectTimeoutMs: 5000,
        tcpKeepalive: true,
        tcpKeepaliveIdleMs: 30000,
        maxConnections: 0,
        requireAuth: ["password", "md5", "scram-sha-256", "none"],
        tls: { mode: "prefer", ca: "", serverName: "" },
      },
      pool: {
        mode: "transaction",
        size: 20,
        minIdle: 0,
        reserveSize: 0,
        reserveTimeoutMs: 5000,
        idleTimeoutMs: 600000,
        maxLifetimeMs: 3600000,
        acquireTimeoutMs: 30000,
        queryTimeoutMs: 0,
        preparedStatementsCacheSize: 500,
        users: [],
        databases: [],
      },
      auth: {
        mode: "passthrough",
        authUser: "",
        authPassword: "",
        authQuery: "SELECT usename, CASE WHEN valuntil IS NULL OR valuntil >= now() THEN passwd END FROM pg_shadow WHERE usename = $1",
        authDatabase: "",
        cacheTtlMs: 10000,
        maxScramIterations: 1000000,
        userlist: "",
        maxConcurrentLookups: 4,
        maxQueuedLookups: 1000,
        hba: "",
      },
      routing: {
        readWriteSplit: true,
        readYourWrites: "session",
        defaultRoute: "auto",
        noReplica: "primary",
        writeFunctions: [],
        readFunctions: [],
        rywMaxWaitMs: 50,
        maxReplicaLagMs: 10000,
        maxReplicaLagBytes: 0,
        primaryReadWeight: 0,
      },
      health: { intervalMs: 1000, timeoutMs: 2000, failureThreshold: 2, successThreshold: 2, user: "", password: "", database: "postgres", primaryWaitMs: 10000 },
      retry: { connectAttempts: 3, backoffMs: 100 },
      admin: { users: ["postgres"], statsUsers: [], password: "" },
      limits: { maxBufferedBytes: 0, maxPreparedStatements: 10000, maxPreparedStatementBytes: 67_108_864 },
      log: { level: "info", format: "logfmt" },
      shutdownTimeoutMs: 30000,
      workers: 1,
    };
    expect(loadConfig(path, { env: {} })).toEqual(expected);
  });

  test("node port defaults to 5432 and weight to 1; empty sections and replica lists are allowed", () => {
    const c = parse("listen:\npool:\nnodes:\n  primary: { host: db1 }\n  replicas:\n");
    expect(c.nodes.primary).toEqual({ host: "db1", port: 5432, weight: 1 });
    expect(c.nodes.replicas).toEqual([]);
    expect(c.pool.size).toBe(20);
  });

  test("a full config is read into the camelCase fields", () => {
    const c = parse(`
listen: { host: 0.0.0.0, port: 7000, max_client_connections: 50 }
nodes:
  primary: { host: p, port: 5432 }
  replicas:
    - { host: r1, port: 5433, weight: 3 }
    - { host: r2, port: 5434, weight: 0 }
pool: { mode: session, size: 5, min_idle: 5 }
routing: { write_functions: [Audit_Log, public.BUMP], default_route: replica }
admin: { users: [Alice, bob] }
log: { level: debug, format: json }
shutdown_timeout_ms: 0
`);
    expect(c.listen).toMatchObject({ host: "0.0.0.0", port: 7000, maxClientConnections: 50 });
    expect(c.nodes.replicas).toEqual([
      { host: "r1", port: 5433, weight: 3 },
      { host: "r2", port: 5434, weight: 0 },
    ]);
    expect(c.pool).toMatchObject({ mode: "session", size: 5, minIdle: 5 });
    expect(c.routing.writeFunctions).toEqual(["audit_log", "public.bump"]);
    expect(c.routing.defaultRoute).toBe("replica");
    expect(c.admin.users).toEqual(["Alice", "bob"]);
    expect(c.log).toEqual({ level: "debug", format: "json" });
    expect(c.shutdownTimeoutMs).toBe(0);
  });

  test("YAML anchors and merge keys work", () => {
    const c = parse(`
nodes:
  primary: &db { host: db1, port: 5432 }
  replicas:
    - { <<: *db, port: 5433, weight: 2 }
`);
    expect(c.nodes.replicas).toEqual([{ host: "db1", port: 5433, weight: 2 }]);
  });
});

describe("YAML syntax errors carry line and column", () => {
  test("unclosed flow sequence", () => {
    const lines = problems("listen:\n  port: [6432\npool:\n  size: 3\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pggate\.yaml:3:1: YAML syntax error: /);
  });

  test("duplicate key", () => {
    expect(problems(`${MINIMAL}pool:\n  size: 3\n  size: 4\n`)).toEqual([
      "pggate.yaml:5:3: YAML syntax error: Map keys must be unique",
    ]);
  });

  test("tab indentation", () => {
    expect(problems("nodes:\n\tprimary: {host: a}\n")[0]).toMatch(/^pggate\.yaml:2:1: YAML syntax error: .*[Tt]ab/);
  });

  test("a second document", () => {
    expect(problems(`${MINIMAL}---\npool: {}\n`)).toEqual([
      "pggate.yaml:3:1: YAML syntax error: a config file holds a single YAML document; remove the second `---`",
    ]);
  });

  test("the error is a ConfigError listing its problems", () => {
    try {
      parse("a: [\n");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      if (!(e instanceof ConfigError)) return;
      expect(e.source).toBe("pggate.yaml");
      expect(e.problems[0]).toMatchObject({ path: "", line: 2 });
    }
  });
});

describe("validation messages name the key, what is wrong and what is allowed", () => {
  test("wrong types", () => {
    expect(problems(`${MINIMAL}pool:\n  size: "abc"\nrouting:\n  read_write_split: yes\n`)).toEqual([
      'pggate.yaml:4:9: pool.size: must be an integer between 1 and 10000, got "abc"',
      'pggate.yaml:6:21: routing.read_write_split: must be true or false, got "yes"',
    ]);
  });

  test("quoted numbers and unquoted numeric strings get a hint", () => {
    expect(problems(`${MINIMAL}pool: { size: "20" }\nauth: { auth_password: 1234 }\n`)).toEqual([
      'pggate.yaml:3:15: pool.size: must be an integer between 1 and 10000, got "20" (write it without quotes)',
      'pggate.yaml:4:24: auth.auth_password: must be a string, got 1234 (quote it: "1234")',
    ]);
  });

  test("a fractional number is not an integer", () => {
    expect(problems(`${MINIMAL}pool: { idle_timeout_ms: 1.5 }\n`)).toEqual([
      "pggate.yaml:3:26: pool.idle_timeout_ms: must be an integer between 0 and 2147483647, got 1.5",
    ]);
  });

  test("out of range, inside a replica", () => {
    const text = `nodes:
  primary: { host: p }
  replicas:
    - { host: r1, port: 5433 }
    - { host: r2, port: 70000, weight: 1001 }
    - { host: r3, port: abc }
`;
    expect(problems(text)).toEqual([
      "pggate.yaml:5:25: nodes.replicas[1].port: must be an integer between 1 and 65535, got 70000",
      "pggate.yaml:5:40: nodes.replicas[1].weight: must be an integer between 0 and 1000, got 1001",
      'pggate.yaml:6:25: nodes.replicas[2].port: must be an integer between 1 and 65535, got "abc"',
    ]);
  });

  test("max_message_size has a floor of 1024 bytes", () => {
    expect(problems(`${MINIMAL}listen: { max_message_size: 100 }\n`)).toEqual([
      "pggate.yaml:3:29: listen.max_message_size: must be an integer between 1024 and 1073741824, got 100",
    ]);
  });

  test("bad enum value", () => {
    expect(problems(`${MINIMAL}pool:\n  mode: trasaction\n`)).toEqual([
      'pggate.yaml:4:9: pool.mode: "trasaction" is not one of transaction, session',
    ]);
    expect(problems(`${MINIMAL}nodes_x: 1\n`)[0]).toContain("nodes_x: unknown key");
    expect(problems(`${MINIMAL}log: { level: 3 }\n`)).toEqual([
      "pggate.yaml:3:15: log.level: must be one of debug, info, warn, error, got 3",
    ]);
  });

  test("a key with no value says how to get the default", () => {
    expect(problems(`${MINIMAL}pool:\n  size:\n`)).toEqual([
      "pggate.yaml:4:3: pool.size: has no value, expected int 1..10000; remove the key to use the default (20)",
    ]);
  });

  test("unknown keys, with a suggestion when one is close", () => {
    const text = `${MINIMAL}pool:
  szie: 10
listen:
  maxClientConnections: 5
routing:
  max_client_connections: 5
  frobnicate: true
nodes_:
  x: 1
`;
    expect(problems(text.replace("nodes_:\n  x: 1\n", ""))).toEqual([
      "pggate.yaml:4:3: pool.szie: unknown key; did you mean pool.size?",
      "pggate.yaml:6:3: listen.maxClientConnections: unknown key; did you mean listen.max_client_connections?",
      "pggate.yaml:8:3: routing.max_client_connections: unknown key; did you mean listen.max_client_connections?",
      "pggate.yaml:9:3: routing.frobnicate: unknown key; allowed under routing: read_write_split, read_your_writes, default_route, no_replica, write_functions, read_functions, ryw_max_wait_ms, max_replica_lag_ms, max_replica_lag_bytes, primary_read_weight",
    ]);
    expect(problems(`${MINIMAL}zzz: 1\n`)).toEqual([
      "pggate.yaml:3:1: zzz: unknown key; allowed at the top level: listen, metrics, nodes, databases, pool, auth, routing, health, retry, admin, limits, log, workers, shutdown_timeout_ms",
    ]);
    expect(problems("nodes:\n  primary: { host: p, prot: 1 }\n")).toEqual([
      "pggate.yaml:2:23: nodes.primary.prot: unknown key; did you mean nodes.primary.port?",
    ]);
  });

  test("dotted keys are not a second spelling of nested ones", () => {
    expect(problems(`${MINIMAL}"pool.size": 3\n`)).toEqual([
      "pggate.yaml:3:1: pool.size: unknown key; write nested keys as mappings, e.g. pool: { size: ... }",
    ]);
  });

  test("a section that is not a mapping", () => {
    expect(problems(`${MINIMAL}pool: 20\n`)).toEqual([
      "pggate.yaml:3:7: pool: must be a mapping with keys mode, size, users, databases, reserve_size, reserve_timeout_ms, min_idle, idle_timeout_ms, max_lifetime_ms, acquire_timeout_ms, query_timeout_ms, prepared_statements_cache_size, got 20",
    ]);
  });

  test("missing nodes.primary", () => {
    expect(problems("")).toEqual([
      "pggate.yaml: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }",
    ]);
    expect(problems("nodes:\n  replicas: []\n")).toEqual([
      "pggate.yaml:1:1: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }",
    ]);
    expect(problems("nodes:\n  primary: { port: 5432 }\n")).toEqual(["pggate.yaml:2:12: nodes.primary: host is required"]);
    expect(problems("nodes: db1\n")).toEqual([
      'pggate.yaml:1:8: nodes: must be a mapping with keys primary, replicas, connect_timeout_ms, tcp_keepalive, tcp_keepalive_idle_ms, max_connections, require_auth, tls, got "db1"',
    ]);
    expect(problems("nodes:\n  primary: db1:5432\n")).toEqual([
      'pggate.yaml:2:12: nodes.primary: must be a mapping like { host: 127.0.0.1, port: 5432 }, got "db1:5432"',
    ]);
  });

  test("the same node twice", () => {
    const text = "nodes:\n  primary: { host: p }\n  replicas:\n    - { host: r }\n    - { host: r, port: 5432 }\n    - { host: p }\n";
    expect(problems(text)).toEqual([
      "pggate.yaml:5:7: nodes.replicas[1]: r:5432 is already listed as nodes.replicas[0]",
      "pggate.yaml:6:7: nodes.replicas[2]: p:5432 is already listed as nodes.primary",
    ]);
  });

  test("pool.min_idle above pool.size", () => {
    expect(problems(`${MINIMAL}pool: { size: 4, min_idle: 5 }\n`)).toEqual([
      "pggate.yaml:3:28: pool.min_idle: must not exceed pool.size (4), got 5",
    ]);
  });

  test("admin.stats_users: a list of names, none also in admin.users", () => {
    expect(parse(`${MINIMAL}admin: { users: [root], stats_users: [monitor, Grafana] }\n`).admin.statsUsers).toEqual(["monitor", "Grafana"]);
    expect(problems(`${MINIMAL}admin: { users: [root, ops], stats_users: [monitor, ops] }\n`)).toEqual([
      'pggate.yaml:3:53: admin.stats_users[1]: "ops" is also in admin.users (which gives full access); list it in one of them',
    ]);
    expect(problems(`${MINIMAL}admin: { stats_users: monitor }\n`)[0]).toContain("admin.stats_users");
  });

  test("metrics and clients on the same port", () => {
    expect(problems(`${MINIMAL}metrics: { port: 6432 }\n`)).toEqual([
      "pggate.yaml:3:18: metrics.port: must differ from listen.port (6432) on the same host",
    ]);
    expect(parse(`${MINIMAL}metrics: { port: 6432, enabled: false }\n`).metrics.port).toBe(6432);
  });

  test("a function listed as both reading and writing", () => {
    expect(problems(`${MINIMAL}routing: { write_functions: [f, G], read_functions: [g] }\n`)).toEqual([
      "pggate.yaml:3:53: routing.read_functions: g also listed in routing.write_functions; list each function once",
    ]);
  });

  test("all problems are reported together, in file order", () => {
    const lines = problems("pool:\n  mode: x\n  size: 0\nlog:\n  level: loud\n");
    expect(lines).toEqual([
      'pggate.yaml:2:9: pool.mode: "x" is not one of transaction, session',
      "pggate.yaml:3:9: pool.size: must be an integer between 1 and 10000, got 0",
      'pggate.yaml:5:10: log.level: "loud" is not one of debug, info, warn, error',
      "pggate.yaml: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }",
    ]);
  });

  test("a config that is not a mapping", () => {
    expect(problems("- a\n- b\n")).toEqual([
      "pggate.yaml:1:1: the config must be a mapping of sections (listen, metrics, nodes, databases, pool, auth, routing, health, retry, admin, limits, log, workers, shutdown_timeout_ms), got a list",
    ]);
  });
});

describe("files referenced by the config", () => {
  test("listen.tls.mode require without cert and key files", () => {
    const path = tmp.write("tls-missing/pggate.yaml", `${MINIMAL}listen:\n  tls: { mode: require, cert: ./tls/server.crt }\n`);
    const dir = resolve(path, "..");
    expect(problemLines(() => loadConfig(path, { env: {} }))).toEqual([
      `${path}:4:16: listen.tls.key: is required when listen.tls.mode is require`,
      `${path}:4:31: listen.tls.cert: file ./tls/server.crt not found (resolved to ${join(dir, "tls/server.crt")})`,
    ]);
  });

  test("a directory is not a certificate", () => {
    tmp.write("tls-dir/tls/placeholder", "");
    const path = tmp.write("tls-dir/pggate.yaml", `${MINIMAL}listen:\n  tls: { mode: allow, cert: tls, key: tls }\n`);
    const dir = resolve(path, "..");
    expect(problemLines(() => loadConfig(path, { env: {} }))[0]).toBe(
      `${path}:4:29: listen.tls.cert: tls (resolved to ${join(dir, "tls")}) is not a regular file`,
    );
  });

  test("tls files are not checked while tls is disabled", () => {
    expect(parse(`${MINIMAL}listen:\n  tls: { mode: disable, cert: ./nope.crt }\n`).listen.tls.mode).toBe("disable");
  });

  test("relative paths resolve against the config file's directory, not the working directory", () => {
    const certPath = tmp.write("rel/conf/tls/server.crt", testPems().cert);
    const keyPath = tmp.write("rel/conf/tls/server.key", testPems().key);
    const caPath = tmp.write("rel/conf/ca.pem", testPems().cert);
    const usersPath = tmp.write("rel/users.txt", '"u" "p"\n');
    const path = tmp.write(
      "rel/conf/pggate.yaml",
      `${MINIMAL}  tls: { mode: verify-full, ca: ca.pem }
listen:
  tls: { mode: require, cert: ./tls/server.crt, key: tls/server.key }
auth: { mode: userlist, userlist: ../users.txt }
`,
    );
    expect(process.cwd()).not.toBe(resolve(path, ".."));
    const c = loadConfig(path, { env: {} });
    expect(c.source).toBe(path);
    expect(c.listen.tls).toEqual({ mode: "require", cert: certPath, key: keyPath });
    expect(c.nodes.tls.ca).toBe(caPath);
    expect(c.auth.userlist).toBe(usersPath);
  });

  test("absolute paths are used as they are", () => {
    const caPath = tmp.write("abs/ca.pem", testPems().cert);
    expect(parse(`${MINIMAL}  tls: { mode: verify-full, ca: ${caPath} }\n`).nodes.tls.ca).toBe(caPath);
    expect(problems(`${MINIMAL}  tls: { mode: verify-full, ca: /nonexistent/ca.pem }\n`)).toEqual([
      "pggate.yaml:3:33: nodes.tls.ca: file /nonexistent/ca.pem not found",
    ]);
  });

  test("verify-full needs a CA", () => {
    expect(problems("nodes:\n  primary: { host: p }\n  tls: { mode: verify-full }\n")).toEqual([
      "pggate.yaml:3:16: nodes.tls.ca: is required when nodes.tls.mode is verify-full",
    ]);
  });

  test("userlist mode with a missing file", () => {
    const path = tmp.write("userlist/pggate.yaml", `${MINIMAL}auth:\n  mode: userlist\n  userlist: users.txt\n`);
    const resolved = join(resolve(path, ".."), "users.txt");
    expect(problemLines(() => loadConfig(path, { env: {} }))).toEqual([
      `${path}:5:13: auth.userlist: file users.txt not found (resolved to ${resolved})`,
    ]);
    expect(problems(`${MINIMAL}auth:\n  mode: userlist\n`)).toEqual([
      "pggate.yaml:4:9: auth.userlist: is required when auth.mode is userlist",
    ]);
  });

  test("a missing config file", () => {
    const path = join(tmp.path, "does-not-exist.yaml");
    const lines = problemLines(() => loadConfig(path));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`${path}: cannot read config file: ENOENT`);
  });
});

describe("auth", () => {
  test("auth_query mode needs auth_user", () => {
    expect(problems(`${MINIMAL}auth:\n  mode: auth_query\n`)).toEqual([
      "pggate.yaml:4:9: auth.auth_user: is required when auth.mode is auth_query (the role PgGate runs auth_query as)",
    ]);
    expect(parse(`${MINIMAL}auth: { mode: auth_query, auth_user: pggate_auth }\n`).auth.authUser).toBe("pggate_auth");
  });

  test("auth_query must take the user as $1", () => {
    expect(problems(`${MINIMAL}auth: { mode: auth_query, auth_user: a, auth_query: "SELECT 1" }\n`)).toEqual([
      "pggate.yaml:3:53: auth.auth_query: must take the user name as the parameter $1",
    ]);
  });

  test("routing.read_your_writes: off | session | user | global, and the old booleans", () => {
    const ryw = (v: string) => parse(`${MINIMAL}routing: { read_your_writes: ${v} }\n`).routing.readYourWrites;
    expect(ryw("true")).toBe("session");
    expect(ryw("false")).toBe("off");
    for (const v of ["off", "session", "user", "global"] as const) expect(ryw(v)).toBe(v);
    expect(problems(`${MINIMAL}routing: { read_your_writes: everyone }\n`)[0]).toContain('"everyone" is not one of off, session, user, global');
  });

  test("nodes.require_auth takes libpq's method names, case-insensitively, and at least one", () => {
    expect(parse(`${MINIMAL}  require_auth: [SCRAM-SHA-256, none]\n`).nodes.requireAuth).toEqual(["scram-sha-256", "none"]);
    expect(problems(`${MINIMAL}  require_auth: [scram-sha-256, gss]\n`)).toEqual([
      'pggate.yaml:3:33: nodes.require_auth[1]: "gss" is not one of password, md5, scram-sha-256, none',
    ]);
    expect(problems(`${MINIMAL}  require_auth: []\n`)).toEqual([
      "pggate.yaml:3:17: nodes.require_auth: must list at least one of password, md5, scram-sha-256, none",
    ]);
    expect(problems(`${MINIMAL}  require_auth: scram-sha-256\n`)).toEqual([
      'pggate.yaml:3:17: nodes.require_auth: must be a list of strings, e.g. [password, md5], got "scram-sha-256"',
    ]);
  });

  test("auth.max_scram_iterations is at least PostgreSQL's default 4096", () => {
    expect(parse(`${MINIMAL}auth: { max_scram_iterations: 600000 }\n`).auth.maxScramIterations).toBe(600000);
    expect(problems(`${MINIMAL}auth: { max_scram_iterations: 1000 }\n`)).toEqual([
      "pggate.yaml:3:31: auth.max_scram_iterations: must be an integer between 4096 and 2147483647, got 1000",
    ]);
  });

  test("PGGATE_AUTH_PASSWORD overrides or provides auth.auth_password", () => {
    const withPassword = `${MINIMAL}auth: { mode: auth_query, auth_user: a, auth_password: from-file }\n`;
    expect(parse(withPassword, {}).auth.authPassword).toBe("from-file");
    expect(parse(withPassword, { PGGATE_AUTH_PASSWORD: "from-env" }).auth.authPassword).toBe("from-env");
    expect(parse(withPassword, { PGGATE_AUTH_PASSWORD: "" }).auth.authPassword).toBe("from-file");
    expect(parse(MINIMAL, { PGGATE_AUTH_PASSWORD: "only-env" }).auth.authPassword).toBe("only-env");
  });

  test("loadConfig reads the process environment by default", () => {
    const path = tmp.write("env/pggate.yaml", MINIMAL);
    const saved = process.env.PGGATE_AUTH_PASSWORD;
    process.env.PGGATE_AUTH_PASSWORD = "process-env";
    try {
      expect(loadConfig(path).auth.authPassword).toBe("process-env");
    } finally {
      if (saved === undefined) delete process.env.PGGATE_AUTH_PASSWORD;
      else process.env.PGGATE_AUTH_PASSWORD = saved;
    }
  });
});

describe("the snapshot is immutable", () => {
  test("deeply frozen", () => {
    const c = parse(`${MINIMAL}  replicas: [{ host: r, port: 5433 }]\nrouting: { write_functions: [f] }\n`);
    for (const o of [c, c.listen, c.listen.tls, c.nodes, c.nodes.primary, c.nodes.replicas, c.nodes.replicas[0], c.routing.writeFunctions, c.admin.users]) {
      expect(Object.isFrozen(o)).toBe(true);
    }
    expect(() => {
      (c.pool as { size: number }).size = 1;
    }).toThrow(TypeError);
    expect(() => (c.routing.writeFunctions as string[]).push("x")).toThrow(TypeError);
  });

  test("freezing one snapshot does not freeze the defaults of the next", () => {
    const a = parse(MINIMAL);
    const b = parse(MINIMAL);
    expect(a.admin.users).not.toBe(b.admin.users);
    expect(b.admin.users).toEqual(["postgres"]);
  });
});

describe("in-memory configs", () => {
  test("configFromObject validates like a file, without positions", () => {
    expect(problemLines(() => configFromObject({ nodes: { primary: { host: "p" } }, pool: { mode: "x" } }))).toEqual([
      'pool.mode: "x" is not one of transaction, session',
    ]);
    const c = configFromObject({ nodes: { primary: { host: "p", port: 1 } } }, { env: {} });
    expect(c.source).toBe("");
    expect(c.nodes.primary).toEqual({ host: "p", port: 1, weight: 1 });
  });

  test("configFromObject with a source resolves paths against it", () => {
    const certPath = tmp.write("obj/tls/a.crt", testPems().cert);
    tmp.write("obj/tls/a.key", testPems().key);
    const source = join(tmp.path, "obj", "virtual.yaml");
    const c = configFromObject(
      { nodes: { primary: { host: "p" } }, listen: { tls: { mode: "allow", cert: "tls/a.crt", key: "tls/a.key" } } },
      source,
    );
    expect(c.source).toBe(source);
    expect(c.listen.tls.cert).toBe(certPath);
  });

  test("defaultConfigFor builds a config for given nodes with overrides", () => {
    const c = defaultConfigFor(
      { host: "127.0.0.1", port: 15432 },
      [{ host: "127.0.0.1", port: 15433 }],
      { listen: { port: 0 }, metrics: { port: 0 }, pool: { size: 3 } },
      { env: {} },
    );
    expect(c.nodes.primary).toEqual({ host: "127.0.0.1", port: 15432, weight: 1 });
    expect(c.nodes.replicas).toEqual([{ host: "127.0.0.1", port: 15433, weight: 1 }]);
    expect(c.listen.port).toBe(0);
    expect(c.listen.host).toBe("127.0.0.1");
    expect(c.pool.size).toBe(3);
    expect(c.pool.mode).toBe("transaction");
  });
});

describe("pool.users / pool.databases", () => {
  test("entries keep their names exactly; size and mode are checked; unknown fields refused", () => {
    const cfg = configFromObject({ nodes: { primary: { host: "db1" } }, pool: { size: 7, users: { "Rep Orting": { size: 2, mode: "session" }, __proto__x: { size: 3 } }, databases: { analytics: { size: 5, mode: "session" } } } }, { source: "pggate.yaml", env: {} });
    expect(poolSizeFor(cfg, "Rep Orting", "analytics")).toBe(2);
    expect(poolSizeFor(cfg, "rep orting", "analytics")).toBe(5);
    expect(poolSizeFor(cfg, "other", "app")).toBe(7);
    expect(poolModeFor(cfg, "other", "analytics")).toBe("session");
    expect(poolModeFor(cfg, "other", "app")).toBe("transaction");
    expect(() => configFromObject({ nodes: { primary: { host: "db1" } }, pool: { users: { a: { size: 0, moed: "x" } } } }, { source: "pggate.yaml", env: {} })).toThrow(/pool\.users\.a\.size: must be an integer between 1 and 10000[\s\S]*pool\.users\.a\.moed: unknown key; allowed: size, mode/);
  });
});


describe("config keys from the environment", () => {
  const base = "nodes:\n  primary: { host: db1 }\n";
  test("PGGATE_<SECTION>__<KEY> sets a key, read as YAML, over the file; sections are created", () => {
    const cfg = parseConfig(`${base}listen:\n  port: 7000\n`, {
      source: "pggate.yaml",
      env: { PGGATE_LISTEN__PORT: "6543", pggate_pool__size: "7", PGGATE_ROUTING__READ_WRITE_SPLIT: "false", PGGATE_NODES__REPLICAS: "[{host: r1}, {host: r2, port: 5433}]", PGGATE_AUTH__AUTH_USER: "lookup" },
    });
    expect(cfg.listen.port).toBe(6543);
    expect(cfg.pool.size).toBe(7);
    expect(cfg.routing.readWriteSplit).toBe(false);
    expect(cfg.nodes.replicas.map((r) => `${r.host}:${r.port}`)).toEqual(["r1:5432", "r2:5433"]);
    expect(cfg.auth.authUser).toBe("lookup");
  });

  test("a bad or unknown one is reported naming the variable", () => {
    expect(problemLines(() => parseConfig(base, { source: "pggate.yaml", env: { PGGATE_LISTEN__PORT: "many", PGGATE_LISTEN__PROT: "1" } }))).toEqual([
      expect.stringContaining('listen.port: must be an integer between 0 and 65535, got "many" (from PGGATE_LISTEN__PORT)'),
      expect.stringContaining("listen.prot: unknown key; did you mean listen.port? (from PGGATE_LISTEN__PROT)"),
    ]);
  });
});

describe("TLS files are validated, not only found", () => {
  const tmp = new TempDir();
  afterAll(() => tmp.remove());
  const cfg = (cert: string, key: string, ca = "") =>
    configFromObject({ nodes: { primary: { host: "p" }, tls: ca ? { mode: "verify-full", ca } : { mode: "disable" } }, listen: { tls: { mode: "require", cert, key } } }, { source: join(tmp.path, "pggate.yaml"), env: {} });

  test("a good pair passes", () => {
    expect(cfg(tmp.write("ok.crt", testPems().cert), tmp.write("ok.key", testPems().key)).listen.tls.mode).toBe("require");
  });

  test("a key that is not PEM, a certificate that is not PEM, a key of another certificate, a CA that is not PEM", () => {
    const cert = tmp.write("c.crt", testPems().cert);
    const key = tmp.write("c.key", testPems().key);
    expect(problemLines(() => cfg(cert, tmp.write("junk.key", "not a key\n")))).toEqual([expect.stringMatching(/listen\.tls\.key: .*junk\.key is not a PEM private key/)]);
    expect(problemLines(() => cfg(tmp.write("junk.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), key))).toEqual([expect.stringMatching(/listen\.tls\.cert: .*junk\.crt is not a PEM certificate/)]);
    expect(problemLines(() => cfg(cert, tmp.write("other.key", testPems().otherKey)))).toEqual([expect.stringContaining("listen.tls.key: does not belong to the certificate in listen.tls.cert (CN=pggate-test)")]);
    expect(problemLines(() => cfg(cert, key, tmp.write("junk-ca.pem", "nope")))).toEqual([expect.stringMatching(/nodes\.tls\.ca: .*junk-ca\.pem is not a PEM certificate/)]);
  });
});


describe("listen.unix_socket_*", () => {
  test("an existing absolute directory; the mode is an octal string, normalised to four digits", () => {
    const dir = tmp.write("sockets/keep", "").replace(/\/keep$/, "");
    const cfg = parse(`${MINIMAL}listen: { unix_socket_dir: ${dir}, unix_socket_mode: "770", unix_socket_group: "postgres" }\n`);
    expect(cfg.listen.unixSocketDir).toBe(dir);
    expect(cfg.listen.unixSocketMode).toBe("0770");
    expect(cfg.listen.unixSocketGroup).toBe("postgres");
    expect(parse(`${MINIMAL}listen: { unix_socket_mode: "0o600" }\n`).listen.unixSocketMode).toBe("0600");
  });

  test("a mode written as a YAML number is refused: 0777 unquoted is the decimal 777", () => {
    expect(problems(`${MINIMAL}listen: { unix_socket_mode: 0777 }\n`)).toEqual([
      'pggate.yaml:3:29: listen.unix_socket_mode: must be an octal mode in quotes, e.g. "0770", got the number 777 (YAML reads an unquoted 0777 as the decimal number 777)',
    ]);
    expect(problems(`${MINIMAL}listen: { unix_socket_mode: "0999" }\n`)).toEqual([
      'pggate.yaml:3:29: listen.unix_socket_mode: must be an octal file mode of three digits, e.g. "0770", got "0999"',
    ]);
  });

  test("a relative, missing or too long directory is refused", () => {
    expect(problems(`${MINIMAL}listen: { unix_socket_dir: run/pggate }\n`)).toEqual([
      "pggate.yaml:3:28: listen.unix_socket_dir: must be an absolute path (clients name it with host=run/pggate), got a relative one",
    ]);
    expect(problems(`${MINIMAL}listen: { unix_socket_dir: /nonexistent/pggate }\n`)).toEqual([
      "pggate.yaml:3:28: listen.unix_socket_dir: directory /nonexistent/pggate does not exist",
    ]);
    const long = `/${"d".repeat(100)}`;
    expect(problems(`${MINIMAL}listen: { unix_socket_dir: ${long} }\n`)).toEqual([
      `pggate.yaml:3:28: listen.unix_socket_dir: is too long: the socket path ${long}/.s.PGSQL.6432 must fit in 107 bytes`,
    ]);
  });
});

describe("pool.reserve_*", () => {
  test("defaults off (size 0), 5 s timeout; bounds checked", () => {
    const cfg = parse(`${MINIMAL}pool: { reserve_size: 3, reserve_timeout_ms: 250 }\n`);
    expect(cfg.pool.reserveSize).toBe(3);
    expect(cfg.pool.reserveTimeoutMs).toBe(250);
    expect(problems(`${MINIMAL}pool: { reserve_size: -1 }\n`)).toEqual([
      "pggate.yaml:3:23: pool.reserve_size: must be an integer between 0 and 10000, got -1",
    ]);
  });
});
