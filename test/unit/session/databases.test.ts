// The databases: registry without sockets: which entry and cluster serve a name, what a reload
// keeps (clients carry on) and what it reports as gone (clients are closed, nodes drain).
import { describe, expect, test } from "bun:test";
import { configFromObject } from "../../../src/config/index.ts";
import type { Config } from "../../../src/config/types.ts";
import { Databases } from "../../../src/session/databases.ts";

const A = { primary: { host: "10.0.0.1", port: 5432 }, replicas: [{ host: "10.0.0.2", port: 5432 }] };
const B = { primary: { host: "10.0.1.1", port: 5432 }, replicas: [{ host: "10.0.1.2", port: 5432 }, { host: "10.0.1.3", port: 5432 }] };

function config(obj: Record<string, unknown>): Config {
  return configFromObject({ nodes: A, ...obj }, { env: {} });
}

function registry(): Databases {
  return new Databases({ health: () => undefined, allHealth: () => [], reachable: () => true, currentPosition: async () => null, busy: () => 0 });
}

describe("Databases", () => {
  test("without a databases: section every name is served by the top-level nodes, under its own name", () => {
    const d = registry();
    d.apply(config({}));
    const e = d.resolve("anything")!;
    expect(e.cluster.label).toBe("default");
    expect(e.serverDatabase("anything")).toBe("anything");
    expect(e.cluster.primary).toMatchObject({ name: "primary", host: "10.0.0.1" });
    expect(e.cluster.balancer.targets.map((t) => t.name)).toEqual(["replica0"]);
  });

  test("listed names map to their cluster and real database; other names are refused unless there is a * entry", () => {
    const d = registry();
    d.apply(config({ databases: { app: { dbname: "app_prod" }, analytics: { nodes: B } } }));
    expect(d.resolve("app")!.serverDatabase("app")).toBe("app_prod");
    expect(d.resolve("app")!.cluster.label).toBe("default");
    const an = d.resolve("analytics")!;
    expect(an.cluster.label).toBe("analytics");
    expect(an.cluster.primary.name).toBe("analytics/primary");
    expect(an.cluster.balancer.targets.map((t) => t.name)).toEqual(["analytics/replica0", "analytics/replica1"]);
    expect(d.resolve("App")).toBeNull(); // names match exactly
    expect(d.resolve("other")).toBeNull();
    d.apply(config({ databases: { app: {}, "*": {} } }));
    expect(d.resolve("other")!.name).toBe("*");
    expect(d.resolve("other")!.serverDatabase("other")).toBe("other");
  });

  test("names, node objects and clusters: a node belongs to exactly one cluster, and nodes of a removed cluster stop being current", () => {
    const d = registry();
    d.apply(config({ databases: { app: {}, analytics: { nodes: B } } }));
    const b = d.resolve("analytics")!.cluster;
    const bPrimary = b.primary;
    expect(d.clusterOf(bPrimary)).toBe(b);
    expect(d.isCurrentNode(bPrimary)).toBe(true);
    const change = d.apply(config({ databases: { app: {} } }));
    expect(change.removedClusters).toEqual([b]);
    expect(change.removedEntries.map((e) => e.name)).toEqual(["analytics"]);
    expect([...d.allClusters()]).not.toContain(b);
    expect(d.isCurrentNode(bPrimary)).toBe(false);
  });

  test("a reload keeps an entry whose cluster and real database stay (routing changes in place) and replaces one that moved", () => {
    const d = registry();
    d.apply(config({ databases: { app: {}, moved: {}, renamed: { dbname: "x" } } }));
    const app = d.resolve("app")!;
    const moved = d.resolve("moved")!;
    const renamed = d.resolve("renamed")!;
    const change = d.apply(config({ databases: { app: { routing: { read_write_split: false } }, moved: { nodes: B }, renamed: { dbname: "y" } } }));
    expect(d.resolve("app")).toBe(app);
    expect(app.routing.readWriteSplit).toBe(false);
    expect(app.removed).toBe(false);
    expect(change.removedEntries).toEqual([moved, renamed]);
    expect(d.resolve("moved")!.cluster.label).toBe("moved");
    expect(d.resolve("renamed")!.serverDatabase("renamed")).toBe("y");
  });

  test("the default cluster survives a new primary address (its old node drains); replicas change in place", () => {
    const d = registry();
    d.apply(config({}));
    const c = d.resolve("app")!;
    const oldPrimary = c.cluster.primary;
    const change = d.apply(configFromObject({ nodes: { primary: { host: "10.0.0.9", port: 5432 }, replicas: [] } }, { env: {} }));
    expect(change.removedEntries).toEqual([]);
    expect(d.resolve("app")).toBe(c);
    expect(c.cluster.primary.host).toBe("10.0.0.9");
    expect(d.isCurrentNode(oldPrimary)).toBe(false);
    expect(d.isCurrentNode(c.cluster.primary)).toBe(true);
    expect(c.cluster.balancer.targets).toEqual([]);
  });

  test("an entry naming the top-level primary shares the default cluster", () => {
    const d = registry();
    d.apply(config({ databases: { app: {}, same: { nodes: A } } }));
    expect(d.resolve("same")!.cluster).toBe(d.resolve("app")!.cluster);
    expect([...d.allClusters()].length).toBe(1);
  });
});
