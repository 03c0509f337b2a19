// The `databases:` section: what an accepted file becomes, every rule's message with its line and
// column, how it folds into pool.databases and routing, diffing, SHOW CONFIG, the environment and
// `pggate check`.

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configFromObject, configRows, diffConfig, parseConfig, type Config, type RoutingConfig } from "../../../src/config/index.ts";
import { problemLines, TempDir } from "./helpers.ts";

const TOP = "nodes:\n  primary: { host: 127.0.0.1, port: 5432 }\n  replicas: [ { host: 127.0.0.1, port: 5433 } ]\n";
const parse = (text: string, env: Record<string, string | undefined> = {}) => parseConfig(text, { source: "pggate.yaml", env });
const problems = (text: string, env: Record<string, string | undefined> = {}) => problemLines(() => parse(text, env));
/** `TOP` plus a databases section whose entries are the given lines (indented by the caller's two spaces). */
const withDatabases = (...entries: string[]) => `${TOP}databases:\n${entries.map((e) => `  ${e}\n`).join("")}`;

const DEFAULT_ROUTING: RoutingConfig = {
  readWriteSplit: true,
  readYourWrites: "session",
  defaultRoute: "auto",
  noReplica: "primary",
  rywMaxWaitMs: 50,
  maxReplicaLagMs: 10000,
  maxReplicaLagBytes: 0,
  primaryReadWeight: 0,
};

const EXAMPLE = `${TOP}databases:
  app:
    dbname: app_prod
    pool: { size: 10, mode: session }
    routing: { read_write_split: false, read_your_writes: global }
  analytics:
    nodes:
      primary: { host: 10.0.0.9, port: 5432 }
      replicas: [ { host: 10.0.0.10, port: 5432, weight: 2 } ]
  "*": {}
`;

describe("accepted configs", () => {
  test("the documented example: names, real names, clusters, pools and routing", () => {
    const c = parse(EXAMPLE);
    expect(c.databases).toEqual([
      { name: "app", dbname: "app_prod", nodes: null, routing: { ...DEFAULT_ROUTING, readWriteSplit: false, readYourWrites: "global" } },
      {
        name: "analytics",
        dbname: "",
        nodes: { primary: { host: "10.0.0.9", port: 5432, weight: 1 }, replicas: [{ host: "10.0.0.10", port: 5432, weight: 2 }] },
        routing: DEFAULT_ROUTING,
      },
      { name: "*", dbname: "", nodes: null, routing: DEFAULT_ROUTING },
    ]);
    expect(c.pool.databases).toEqual([{ name: "app", size: 10, mode: "session" }]);
    expect(c.nodes.primary).toEqual({ host: "127.0.0.1", port: 5432, weight: 1 });
  });

  test("no section, an empty section and {} all mean no entries", () => {
    expect(parse(TOP).databases).toEqual([]);
    expect(parse(`${TOP}databases:\n`).databases).toEqual([]);
    expect(parse(`${TOP}databases: {}\n`).databases).toEqual([]);
  });

  test("an entry with no value or {} takes every default", () => {
    const c = parse(withDatabases("app:", "other: {}"));
    expect(c.databases).toEqual([
      { name: "app", dbname: "", nodes: null, routing: DEFAULT_ROUTING },
      { name: "other", dbname: "", nodes: null, routing: DEFAULT_ROUTING },
    ]);
    expect(c.pool.databases).toEqual([]);
  });

  test("names are kept exactly as written, in file order (integer-like names too)", () => {
    const c = parse(withDatabases("Zeta: {}", "app: {}", '"2024": {}', "APP: {}", "my.db: {}", "7: {}"));
    expect(c.databases.map((d) => d.name)).toEqual(["Zeta", "app", "2024", "APP", "my.db", "7"]);
  });

  test("entry routing is the top-level routing (defaults and environment included) with the entry's keys over it", () => {
    const text = `${TOP}routing: { default_route: primary, max_replica_lag_ms: 500, write_functions: [f] }
databases:
  a: { routing: { no_replica: error, ryw_max_wait_ms: 0, max_replica_lag_bytes: 1048576, max_replica_lag_ms: 0 } }
  b: { routing: { read_your_writes: false, default_route: replica } }
  c: { routing: { read_your_writes: true } }
  d: { routing: }
`;
    const c = parse(text, { PGGATE_ROUTING__READ_WRITE_SPLIT: "false" });
    const top = { ...DEFAULT_ROUTING, readWriteSplit: false, defaultRoute: "primary" as const, maxReplicaLagMs: 500 };
    expect(c.databases.map((d) => d.routing)).toEqual([
      { ...top, noReplica: "error", rywMaxWaitMs: 0, maxReplicaLagBytes: 1048576, maxReplicaLagMs: 0 },
      { ...top, readYourWrites: "off", defaultRoute: "replica" },
      { ...top, readYourWrites: "session" },
      top,
    ]);
    // Only the RoutingConfig fields: the function lists stay process-wide.
    expect(Object.keys(c.databases[0].routing).sort()).toEqual(Object.keys(DEFAULT_ROUTING).sort());
    expect(c.routing.writeFunctions).toEqual(["f"]);
  });

  test("an entry's pool joins pool.databases after its own entries; pool: {} and pool: adds nothing", () => {
    const c = parse(`${TOP}pool: { databases: { other: { size: 3 } } }
databases:
  a: { pool: { size: 7 } }
  b: { pool: { mode: session } }
  c: { pool: {} }
  d: { pool: }
`);
    expect(c.pool.databases).toEqual([
      { name: "other", size: 3, mode: null },
      { name: "a", size: 7, mode: null },
      { name: "b", size: null, mode: "session" },
    ]);
  });

  test("a pool.databases entry for a name whose databases entry sets no pool is fine", () => {
    const c = parse(`${TOP}pool: { databases: { a: { size: 3 } } }\ndatabases:\n  a: { dbname: real }\n`);
    expect(c.pool.databases).toEqual([{ name: "a", size: 3, mode: null }]);
  });

  test("every entry with its own nodes: no top-level primary needed (null), other nodes keys still apply", () => {
    const c = parse(`nodes:
  connect_timeout_ms: 1000
databases:
  a: { nodes: { primary: { host: p1 } } }
  b: { nodes: { primary: { host: p2, port: 6000 }, replicas: [ { host: r2 } ] } }
`);
    expect(c.nodes.primary).toBeNull();
    expect(c.nodes.replicas).toEqual([]);
    expect(c.nodes.connectTimeoutMs).toBe(1000);
    expect(c.databases.map((d) => d.nodes)).toEqual([
      { primary: { host: "p1", port: 5432, weight: 1 }, replicas: [] },
      { primary: { host: "p2", port: 6000, weight: 1 }, replicas: [{ host: "r2", port: 5432, weight: 1 }] },
    ]);
    expect(parse("databases:\n  a: { nodes: { primary: { host: p1 } } }\n").nodes.primary).toBeNull();
  });

  test("with a top-level primary, entries with their own nodes can sit beside it", () => {
    const c = parse(withDatabases("a: { nodes: { primary: { host: other } } }"));
    expect(c.nodes.primary).toEqual({ host: "127.0.0.1", port: 5432, weight: 1 });
  });

  test("entries naming the same cluster with the same replicas (any order) are one cluster", () => {
    const c = parse(`nodes:
  primary: { host: p }
  replicas: [ { host: r1 }, { host: r2, weight: 3 } ]
databases:
  a: { nodes: { primary: { host: p }, replicas: [ { host: r2, weight: 3 }, { host: r1 } ] } }
  b: { nodes: { primary: { host: q }, replicas: [ { host: s } ] } }
  c: { nodes: { primary: { host: q }, replicas: [ { host: s, weight: 1 } ] } }
`);
    expect(c.databases.map((d) => d.nodes?.primary.host)).toEqual(["p", "q", "q"]);
  });

  test("the same host on other ports is another node", () => {
    const c = parse(withDatabases("a: { nodes: { primary: { host: 127.0.0.1, port: 6000 }, replicas: [ { host: 127.0.0.1, port: 6001 } ] } }"));
    expect(c.databases[0].nodes?.primary.port).toBe(6000);
  });

  test("configFromObject takes the same section", () => {
    const c = configFromObject({ nodes: { primary: { host: "p" } }, databases: { app: { dbname: "x", pool: { size: 2 } } } }, { env: {} });
    expect(c.databases).toEqual([{ name: "app", dbname: "x", nodes: null, routing: DEFAULT_ROUTING }]);
    expect(c.pool.databases).toEqual([{ name: "app", size: 2, mode: null }]);
  });

  test("the snapshot's entries are frozen", () => {
    const c = parse(EXAMPLE);
    for (const o of [c.databases, c.databases[0], c.databases[0].routing, c.databases[1].nodes, c.databases[1].nodes?.replicas]) expect(Object.isFrozen(o)).toBe(true);
  });
});

describe("rejected: the section and its entries", () => {
  test("the section must be a mapping", () => {
    expect(problems(`${TOP}databases: [app]\n`)).toEqual([
      "pggate.yaml:4:12: databases: must be a mapping of database names, e.g. { app: { dbname: app_prod } }, got a list",
    ]);
    expect(problems(`${TOP}databases: app\n`)).toEqual([
      'pggate.yaml:4:12: databases: must be a mapping of database names, e.g. { app: { dbname: app_prod } }, got "app"',
    ]);
  });

  test("an entry must be a mapping", () => {
    expect(problems(withDatabases("app: app_prod", "b: [1]"))).toEqual([
      'pggate.yaml:5:8: databases.app: must be a mapping with keys dbname, nodes, pool, routing (or {} for all defaults), got "app_prod"',
      "pggate.yaml:6:6: databases.b: must be a mapping with keys dbname, nodes, pool, routing (or {} for all defaults), got a list",
    ]);
  });

  test("empty and reserved names", () => {
    expect(problems(withDatabases('"": {}', "pggate: {}", "pgbouncer:", "PgGate: {}"))).toEqual([
      "pggate.yaml:5:3: databases: has an entry with an empty name; name it as clients connect to it",
      'pggate.yaml:6:3: databases.pggate: "pggate" is reserved: clients connecting to pggate or pgbouncer reach the admin console',
      'pggate.yaml:7:3: databases.pgbouncer: "pgbouncer" is reserved: clients connecting to pggate or pgbouncer reach the admin console',
    ]);
  });

  test("unknown entry keys: a misspelling, a key one level too high, anything else", () => {
    expect(problems(withDatabases("app: { dbnme: x, size: 3, read_write_split: false, primary: {}, frob: 1 }"))).toEqual([
      "pggate.yaml:5:10: databases.app.dbnme: unknown key; did you mean databases.app.dbname?",
      "pggate.yaml:5:20: databases.app.size: unknown key; did you mean databases.app.pool.size?",
      "pggate.yaml:5:29: databases.app.read_write_split: unknown key; did you mean databases.app.routing.read_write_split?",
      "pggate.yaml:5:54: databases.app.primary: unknown key; did you mean databases.app.nodes.primary?",
      "pggate.yaml:5:67: databases.app.frob: unknown key; allowed in a databases entry: dbname, nodes, pool, routing",
    ]);
  });

  test("dbname: a non-empty string", () => {
    expect(problems(withDatabases('a: { dbname: "" }', "b: { dbname: 5 }", "c: { dbname: }", "d:", "  dbname:"))).toEqual([
      "pggate.yaml:5:16: databases.a.dbname: must not be empty",
      'pggate.yaml:6:16: databases.b.dbname: must be a string, got 5 (quote it: "5")',
      "pggate.yaml:7:8: databases.c.dbname: has no value, expected string; remove the key to use the name the client sent",
      "pggate.yaml:9:5: databases.d.dbname: has no value, expected string; remove the key to use the name the client sent",
    ]);
  });

  test("every problem in the section is reported at once, in file order", () => {
    const lines = problems(withDatabases("pggate: { dbname: 1 }", "b: { frob: 1, pool: { size: 0 } }"));
    expect(lines).toEqual([
      'pggate.yaml:5:3: databases.pggate: "pggate" is reserved: clients connecting to pggate or pgbouncer reach the admin console',
      'pggate.yaml:5:21: databases.pggate.dbname: must be a string, got 1 (quote it: "1")',
      "pggate.yaml:6:8: databases.b.frob: unknown key; allowed in a databases entry: dbname, nodes, pool, routing",
      "pggate.yaml:6:31: databases.b.pool.size: must be an integer between 1 and 10000, got 0",
    ]);
  });
});

describe("rejected: an entry's nodes", () => {
  test("nodes must be a mapping with a primary", () => {
    expect(problems(withDatabases("a: { nodes: }", "b: { nodes: [] }", "c: { nodes: { replicas: [] } }"))).toEqual([
      "pggate.yaml:5:8: databases.a.nodes: has no value, expected { primary: { host: 10.0.0.9, port: 5432 }, replicas: [...] }; remove the key to use the top-level nodes",
      "pggate.yaml:6:15: databases.b.nodes: must be a mapping like { primary: { host: 10.0.0.9, port: 5432 }, replicas: [...] }, got a list",
      "pggate.yaml:7:15: databases.c.nodes: primary is required, e.g. nodes: { primary: { host: 10.0.0.9, port: 5432 } }",
    ]);
  });

  test("primary and replicas are checked like the top-level ones", () => {
    const text = `${TOP}databases:
  a:
    nodes:
      primary: { host: p, prot: 1 }
      replicas:
        - { host: r1, port: 70000 }
        - { weight: 1001, host: "" }
  b: { nodes: { primary: db, replicas: { host: r } } }
`;
    expect(problems(text)).toEqual([
      "pggate.yaml:7:27: databases.a.nodes.primary.prot: unknown key; did you mean databases.a.nodes.primary.port?",
      "pggate.yaml:9:29: databases.a.nodes.replicas[0].port: must be an integer between 1 and 65535, got 70000",
      "pggate.yaml:10:21: databases.a.nodes.replicas[1].weight: must be an integer between 0 and 1000, got 1001",
      "pggate.yaml:10:33: databases.a.nodes.replicas[1].host: must not be empty",
      'pggate.yaml:11:26: databases.b.nodes.primary: must be a mapping like { host: 127.0.0.1, port: 5432 }, got "db"',
      "pggate.yaml:11:40: databases.b.nodes.replicas: must be a list of nodes like - { host: 127.0.0.1, port: 5433 }, got a mapping",
    ]);
  });

  test("process-wide nodes keys and unknown keys inside an entry's nodes", () => {
    expect(problems(withDatabases("a: { nodes: { primary: { host: p }, tls: { mode: disable }, connect_timeout_ms: 5, replica: [] } }"))).toEqual([
      "pggate.yaml:5:39: databases.a.nodes.tls: nodes.tls is process-wide; set it at the top level",
      "pggate.yaml:5:63: databases.a.nodes.connect_timeout_ms: nodes.connect_timeout_ms is process-wide; set it at the top level",
      "pggate.yaml:5:86: databases.a.nodes.replica: unknown key; did you mean databases.a.nodes.replicas?",
    ]);
  });

  test("the same address twice within one entry", () => {
    expect(problems(withDatabases("a: { nodes: { primary: { host: z }, replicas: [ { host: z }, { host: y }, { host: y, port: 5432 } ] } }"))).toEqual([
      "pggate.yaml:5:51: databases.a.nodes.replicas[0]: z:5432 is already listed as databases.a.nodes.primary",
      "pggate.yaml:5:77: databases.a.nodes.replicas[2]: y:5432 is already listed as databases.a.nodes.replicas[1]",
    ]);
  });
});

describe("rejected: clusters", () => {
  test("an entry naming the top-level primary with other replicas", () => {
    expect(problems(withDatabases("a: { nodes: { primary: { host: 127.0.0.1 }, replicas: [ { host: 127.0.0.1, port: 5434 } ] } }", "b: { nodes: { primary: { host: 127.0.0.1 } } }"))).toEqual([
      "pggate.yaml:5:57: databases.a.nodes.replicas: primary 127.0.0.1:5432 is also nodes.primary, with replicas [127.0.0.1:5433]; a cluster lists the same replicas wherever it is named (got [127.0.0.1:5434]), or leave out nodes to use the top-level ones",
      // No replicas key: the message points at the entry's nodes.
      "pggate.yaml:6:8: databases.b.nodes.replicas: primary 127.0.0.1:5432 is also nodes.primary, with replicas [127.0.0.1:5433]; a cluster lists the same replicas wherever it is named (got []), or leave out nodes to use the top-level ones",
    ]);
  });

  test("two entries naming one primary with different replica weights", () => {
    expect(problems(withDatabases("a: { nodes: { primary: { host: x }, replicas: [ { host: x1 } ] } }", "b: { nodes: { primary: { host: x }, replicas: [ { host: x1, weight: 2 } ] } }"))).toEqual([
      "pggate.yaml:6:49: databases.b.nodes.replicas: primary x:5432 is also databases.a.nodes.primary, with replicas [x1:5432]; a cluster lists the same replicas wherever it is named (got [x1:5432 (weight 2)])",
    ]);
  });

  test("a node in two clusters, named by both places", () => {
    const text = withDatabases(
      "c: { nodes: { primary: { host: 127.0.0.1, port: 5433 } } }",
      "d: { nodes: { primary: { host: q }, replicas: [ { host: 127.0.0.1, port: 5432 } ] } }",
      "e: { nodes: { primary: { host: x }, replicas: [ { host: x1 } ] } }",
      "g: { nodes: { primary: { host: x1 } } }",
      "h: { nodes: { primary: { host: h }, replicas: [ { host: x } ] } }",
    );
    expect(problems(text)).toEqual([
      "pggate.yaml:5:26: databases.c.nodes.primary: 127.0.0.1:5433 is already listed as nodes.replicas[0], a replica of primary 127.0.0.1:5432; a node belongs to one cluster",
      "pggate.yaml:6:51: databases.d.nodes.replicas[0]: 127.0.0.1:5432 is already listed as nodes.primary, the primary of another cluster; a node belongs to one cluster",
      "pggate.yaml:8:26: databases.g.nodes.primary: x1:5432 is already listed as databases.e.nodes.replicas[0], a replica of primary x:5432; a node belongs to one cluster",
      "pggate.yaml:9:51: databases.h.nodes.replicas[0]: x:5432 is already listed as databases.e.nodes.primary, the primary of another cluster; a node belongs to one cluster",
    ]);
  });
});

describe("rejected: pool and routing in an entry", () => {
  test("pool is checked like a pool.databases entry", () => {
    expect(problems(withDatabases("a: { pool: { size: 0, mode: x, min_idle: 1 } }", "b: { pool: 5 }"))).toEqual([
      "pggate.yaml:5:22: databases.a.pool.size: must be an integer between 1 and 10000, got 0",
      'pggate.yaml:5:31: databases.a.pool.mode: must be transaction or session, got "x"',
      "pggate.yaml:5:34: databases.a.pool.min_idle: unknown key; allowed: size, mode",
      "pggate.yaml:6:14: databases.b.pool: must be a mapping with size and/or mode, got 5",
    ]);
  });

  test("a pool set both here and in pool.databases", () => {
    expect(problems(`${TOP}pool: { databases: { app: { size: 3 } } }\ndatabases:\n  app: { pool: { size: 4 } }\n`)).toEqual([
      "pggate.yaml:6:16: databases.app.pool: pool.databases.app also sets this database's pool; set it in one place",
    ]);
  });

  test("routing keys keep the top-level bounds and values", () => {
    const text = withDatabases("a: { routing: { read_write_split: yes, ryw_max_wait_ms: 70000, read_your_writes: maybe, default_route: 1, max_replica_lag_bytes: -1 } }", "b: { routing: { no_replica: } }", "c: { routing: off }");
    expect(problems(text)).toEqual([
      'pggate.yaml:5:37: databases.a.routing.read_write_split: must be true or false, got "yes"',
      "pggate.yaml:5:59: databases.a.routing.ryw_max_wait_ms: must be an integer between 0 and 60000, got 70000",
      'pggate.yaml:5:84: databases.a.routing.read_your_writes: "maybe" is not one of off, session, user, global',
      "pggate.yaml:5:106: databases.a.routing.default_route: must be one of auto, primary, replica, got 1",
      "pggate.yaml:5:132: databases.a.routing.max_replica_lag_bytes: must be an integer between 0 and 9007199254740991, got -1",
      "pggate.yaml:6:19: databases.b.routing.no_replica: has no value, expected primary | error; remove the key to use the top-level routing.no_replica",
      'pggate.yaml:7:17: databases.c.routing: must be a mapping with any of read_write_split, read_your_writes, default_route, no_replica, ryw_max_wait_ms, max_replica_lag_ms, max_replica_lag_bytes, primary_read_weight, got "off"',
    ]);
  });

  test("process-wide routing keys and unknown ones", () => {
    expect(problems(withDatabases("a: { routing: { write_functions: [f], read_functions: [g], read_write_spilt: true, frob: 1 } }"))).toEqual([
      "pggate.yaml:5:19: databases.a.routing.write_functions: routing.write_functions is process-wide; set it at the top level",
      "pggate.yaml:5:41: databases.a.routing.read_functions: routing.read_functions is process-wide; set it at the top level",
      "pggate.yaml:5:62: databases.a.routing.read_write_spilt: unknown key; did you mean databases.a.routing.read_write_split?",
      "pggate.yaml:5:86: databases.a.routing.frob: unknown key; allowed: read_write_split, read_your_writes, default_route, no_replica, ryw_max_wait_ms, max_replica_lag_ms, max_replica_lag_bytes, primary_read_weight",
    ]);
  });
});

describe("top-level nodes.primary with databases", () => {
  test("still required when an entry uses the top-level nodes, saying which", () => {
    expect(problems("databases:\n  a: { nodes: { primary: { host: p } } }\n  b: {}\n")).toEqual([
      "pggate.yaml: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } } (databases.b has no nodes of its own)",
    ]);
  });

  test("without databases the message is unchanged", () => {
    expect(problems("pool: { size: 3 }\n")).toEqual(["pggate.yaml: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }"]);
    expect(problems("databases: {}\n")).toEqual(["pggate.yaml: nodes.primary: is required, e.g. nodes: { primary: { host: 127.0.0.1, port: 5432 } }"]);
  });

  test("top-level replicas without a top-level primary", () => {
    expect(problems("nodes:\n  replicas: [ { host: r } ]\ndatabases:\n  a: { nodes: { primary: { host: p } } }\n")).toEqual([
      "pggate.yaml:2:13: nodes.replicas: has no nodes.primary to replicate; give nodes.primary, or move these replicas into a databases entry's nodes (every entry names its own nodes)",
    ]);
  });

  test("a broken entry with its own nodes does not also claim nodes.primary is missing", () => {
    expect(problems("databases:\n  a: { nodes: { primary: { host: p, port: 0 } } }\n")).toEqual([
      "pggate.yaml:2:43: databases.a.nodes.primary.port: must be an integer between 1 and 65535, got 0",
    ]);
  });
});

describe("environment", () => {
  test("PGGATE_DATABASES and PGGATE_DATABASES__… are refused, naming the variable", () => {
    expect(problems(EXAMPLE, { PGGATE_DATABASES: "{ a: {} }", pggate_databases__app__dbname: "x" })).toEqual([
      "pggate.yaml:4:1: databases: cannot be set from the environment (PGGATE_DATABASES); write the databases: section in the config file",
      "pggate.yaml:4:1: databases: cannot be set from the environment (pggate_databases__app__dbname); write the databases: section in the config file",
    ]);
    expect(problems(TOP, { PGGATE_DATABASES__X: "{}" })).toEqual([
      "pggate.yaml: databases: cannot be set from the environment (PGGATE_DATABASES__X); write the databases: section in the config file",
    ]);
  });

  test("an unset variable is not a problem", () => {
    expect(parse(EXAMPLE, { PGGATE_DATABASES: undefined }).databases).toHaveLength(3);
  });
});

describe("reload and SHOW CONFIG", () => {
  const build = (databases: Record<string, unknown>, over: Record<string, unknown> = {}): Config =>
    configFromObject({ nodes: { primary: { host: "p" } }, databases, ...over }, { env: {} });

  test("databases is reloadable; any entry change is a change of databases", () => {
    const base = build({ app: { dbname: "x" }, b: {} });
    expect(diffConfig(base, build({ app: { dbname: "x" }, b: {} })).changed).toEqual([]);
    const cases: [Record<string, unknown>, string[]][] = [
      [{ app: { dbname: "y" }, b: {} }, ["databases"]],
      [{ app: { dbname: "x" } }, ["databases"]],
      [{ b: {}, app: { dbname: "x" } }, ["databases"]],
      [{ app: { dbname: "x", routing: { read_write_split: false } }, b: {} }, ["databases"]],
      [{ app: { dbname: "x", nodes: { primary: { host: "q" } } }, b: {} }, ["databases"]],
      // The pool lives in pool.databases, and is still a change of the entry.
      [{ app: { dbname: "x", pool: { size: 3 } }, b: {} }, ["databases", "pool.databases"]],
    ];
    for (const [next, changed] of cases) {
      const d = diffConfig(base, build(next));
      expect(d.changed).toEqual(changed as typeof d.changed);
      expect(d.restartRequired).toEqual([]);
    }
    // A top-level routing change reaches every entry.
    expect(diffConfig(base, build({ app: { dbname: "x" }, b: {} }, { routing: { no_replica: "error" } })).changed).toEqual(["databases", "routing.no_replica"]);
  });

  test("SHOW CONFIG prints each entry on one line, with the routing it sets differently", () => {
    const rows = configRows(parse(EXAMPLE));
    const row = (key: string) => rows.find((r) => r.key === key);
    expect(row("databases")).toEqual({
      key: "databases",
      value: "[app→app_prod (read_write_split false, read_your_writes global), analytics@10.0.0.9:5432 replicas [10.0.0.10:5432 (weight 2)], *]",
      default: "[]",
      reloadable: true,
    });
    expect(row("pool.databases")?.value).toBe("[app (size 10, mode session)]");
    expect(configRows(parse("databases:\n  a: { nodes: { primary: { host: p } } }\n")).find((r) => r.key === "nodes.primary")?.value).toBe("(none)");
  });
});

describe("pggate check", () => {
  const tmp = new TempDir();
  afterAll(() => tmp.remove());
  const check = (text: string) => {
    const file = tmp.write(`check-${Math.random().toString(36).slice(2)}.yaml`, text);
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "../../../src/main.ts"), "check", file], { stdout: "pipe", stderr: "pipe", env: {} });
    return { file, exitCode: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };

  test("accepts a databases-only config and reports a broken one with positions", () => {
    const ok = check("databases:\n  app: { dbname: app_prod, nodes: { primary: { host: 10.0.0.9 } } }\n");
    expect(ok.out).toContain(`${ok.file}: OK`);
    expect(ok.exitCode).toBe(0);
    const bad = check(`${TOP}databases:\n  pgbouncer: {}\n  app: { routing: { write_functions: [f] } }\n`);
    expect(bad.exitCode).toBe(1);
    expect(bad.out).toContain(`${bad.file}:5:3: databases.pgbouncer: "pgbouncer" is reserved`);
    expect(bad.out).toContain(`${bad.file}:6:21: databases.app.routing.write_functions: routing.write_functions is process-wide; set it at the top level`);
  });
});
