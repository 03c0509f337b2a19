// PoolIndex keys by structure: no choice of user and database names may alias another pair.
import { describe, expect, test } from "bun:test";
import { PoolIndex } from "../../../src/pool/pool-index.ts";

const tricky = ["app", "app/x", "x/c", "c", "x", "", "a:b", "a\0b", "a\0", "\0", " ", "app ", "ü", "naïve user", "a/b/c", "/", ":", "\u{1F600}"];

describe("PoolIndex", () => {
  test("every (user, database) pair over tricky names is its own entry", () => {
    const nodes = [{ name: "primary" }, { name: "primary" }]; // equal names, different nodes
    const idx = new PoolIndex<object, string>();
    let n = 0;
    for (const node of nodes) for (const u of tricky) for (const d of tricky) idx.set(node, u, d, `${n++}`);
    expect(idx.size).toBe(nodes.length * tricky.length * tricky.length);
    n = 0;
    for (const node of nodes) for (const u of tricky) for (const d of tricky) expect(idx.get(node, u, d)).toBe(`${n++}`);
    // The collision from the security review: joined with "/", these two were one key.
    expect(idx.get(nodes[0], "app", "x/c")).not.toBe(idx.get(nodes[0], "app/x", "c"));
  });

  test("delete removes exactly one entry and leaves no empty inner maps behind", () => {
    const node = {};
    const idx = new PoolIndex<object, number>();
    idx.set(node, "app", "x/c", 1);
    idx.set(node, "app/x", "c", 2);
    expect(idx.delete(node, "app", "x/c")).toBe(true);
    expect(idx.delete(node, "app", "x/c")).toBe(false);
    expect(idx.get(node, "app/x", "c")).toBe(2);
    expect(idx.size).toBe(1);
    expect(idx.delete(node, "app/x", "c")).toBe(true);
    expect(idx.size).toBe(0);
    expect([...idx.values()]).toEqual([]);
  });

  test("set on an existing triple replaces without growing", () => {
    const idx = new PoolIndex<string, number>();
    idx.set("n", "u", "d", 1);
    idx.set("n", "u", "d", 2);
    expect(idx.size).toBe(1);
    expect([...idx.values()]).toEqual([2]);
  });
});
