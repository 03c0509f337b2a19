// diffConfig: what a reload would change and what it cannot apply without a restart.

import { describe, expect, test } from "bun:test";
import { configFromObject, diffConfig } from "../../../src/config/index.ts";

const base = {
  nodes: {
    primary: { host: "p", port: 5432 },
    replicas: [
      { host: "r1", port: 5433 },
      { host: "r2", port: 5434, weight: 2 },
    ],
  },
};
const build = (over: Record<string, unknown> = {}) => configFromObject({ ...base, ...over }, { env: {} });

describe("diffConfig", () => {
  test("identical configs: nothing changed", () => {
    expect(diffConfig(build(), build())).toEqual({
      changed: [],
      restartRequired: [],
      replicas: { added: [], removed: [], reweighted: [] },
    });
  });

  test("pool.size is reloadable", () => {
    const d = diffConfig(build(), build({ pool: { size: 50 } }));
    expect(d.changed).toEqual(["pool.size"]);
    expect(d.restartRequired).toEqual([]);
  });

  test("listen.port needs a restart", () => {
    const d = diffConfig(build(), build({ listen: { port: 7000 } }));
    expect(d.changed).toEqual(["listen.port"]);
    expect(d.restartRequired).toEqual(["listen.port"]);
  });

  test("restart-only and reloadable changes together", () => {
    const d = diffConfig(
      build(),
      build({ auth: { mode: "auth_query", auth_user: "a" }, metrics: { enabled: false }, routing: { read_your_writes: false } }),
    );
    expect(d.changed).toEqual(["metrics.enabled", "auth.mode", "auth.auth_user", "routing.read_your_writes"]);
    expect(d.restartRequired).toEqual(["metrics.enabled", "auth.mode"]);
  });

  test("replicas added, removed and reweighted", () => {
    const next = build({
      nodes: {
        primary: { host: "p", port: 5432 },
        replicas: [
          { host: "r2", port: 5434, weight: 5 },
          { host: "r3", port: 5435 },
        ],
      },
    });
    const d = diffConfig(build(), next);
    expect(d.changed).toEqual(["nodes.replicas"]);
    expect(d.restartRequired).toEqual([]);
    expect(d.replicas).toEqual({
      added: [{ host: "r3", port: 5435, weight: 1 }],
      removed: [{ host: "r1", port: 5433, weight: 1 }],
      reweighted: [{ host: "r2", port: 5434, from: 2, to: 5 }],
    });
  });

  test("a new primary is a reloadable change", () => {
    const d = diffConfig(build(), build({ nodes: { ...base.nodes, primary: { host: "p2", port: 5432 } } }));
    expect(d.changed).toEqual(["nodes.primary"]);
    expect(d.restartRequired).toEqual([]);
  });

  test("list values compare by content", () => {
    const a = build({ routing: { write_functions: ["f", "g"] } });
    expect(diffConfig(a, build({ routing: { write_functions: ["F", "g"] } })).changed).toEqual([]);
    expect(diffConfig(a, build({ routing: { write_functions: ["g", "f"] } })).changed).toEqual(["routing.write_functions"]);
  });
});
