// scripts/check-cycles.ts: findCycles on synthetic graphs, import parsing, the layer table, the real
// src/ (must have no cycles), and the CLI failing on a temporary tree that has one.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  findCycles,
  formatCycle,
  layerViolations,
  moduleGraph,
  type EdgeKind,
  type ModuleGraph,
} from "../../../scripts/check-cycles.ts";

const SCRIPT = join(import.meta.dir, "../../../scripts/check-cycles.ts");
const SRC = join(import.meta.dir, "../../../src");

/** Builds a graph from edges written the way the script prints them: "a.ts -> b.ts", "b.ts -type-> a.ts". */
function graph(...edges: string[]): ModuleGraph {
  const g = new Map<string, Map<string, EdgeKind>>();
  for (const edge of edges) {
    const m = /^(\S+) (->|-type->|-dynamic->) (\S+)$/.exec(edge);
    if (!m) throw new Error(`bad edge: ${edge}`);
    const [, from, arrow, to] = m;
    const kind: EdgeKind = arrow === "->" ? "static" : arrow === "-type->" ? "type" : "dynamic";
    if (!g.has(to)) g.set(to, new Map());
    const out = g.get(from) ?? new Map<string, EdgeKind>();
    out.set(to, kind);
    g.set(from, out);
  }
  return g;
}

/** Every printed cycle, group by group. */
function printed(g: ModuleGraph): string[][] {
  return findCycles(g).map((group) => group.cycles.map(formatCycle));
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "pggate-cycles-"));
  tempDirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("findCycles", () => {
  test("acyclic graph: none", () => {
    expect(findCycles(graph("a.ts -> b.ts", "b.ts -> c.ts", "a.ts -> c.ts"))).toEqual([]);
  });

  test("2-cycle", () => {
    expect(printed(graph("a.ts -> b.ts", "b.ts -> a.ts", "b.ts -> c.ts"))).toEqual([["a.ts -> b.ts -> a.ts"]]);
  });

  test("3-cycle, printed from its smallest file whichever edge found it", () => {
    const groups = findCycles(graph("c.ts -> a.ts", "a.ts -> b.ts", "b.ts -> c.ts", "x.ts -> a.ts"));
    expect(groups.map((g) => g.files)).toEqual([["a.ts", "b.ts", "c.ts"]]);
    expect(groups[0]!.cycles.map(formatCycle)).toEqual(["a.ts -> b.ts -> c.ts -> a.ts"]);
  });

  test("two separate cycles: two groups", () => {
    expect(printed(graph("a.ts -> b.ts", "b.ts -> a.ts", "b.ts -> x.ts", "x.ts -> y.ts", "y.ts -> x.ts"))).toEqual([
      ["a.ts -> b.ts -> a.ts"],
      ["x.ts -> y.ts -> x.ts"],
    ]);
  });

  test("self-import", () => {
    expect(printed(graph("a.ts -> a.ts", "a.ts -> b.ts"))).toEqual([["a.ts -> a.ts"]]);
  });

  test("type-only cycle counts and is marked", () => {
    expect(printed(graph("a.ts -type-> b.ts", "b.ts -type-> a.ts"))).toEqual([["a.ts -type-> b.ts -type-> a.ts  (type-only)"]]);
  });

  test("mixed and dynamic edges keep their arrows", () => {
    expect(printed(graph("a.ts -> b.ts", "b.ts -type-> c.ts", "c.ts -dynamic-> a.ts"))).toEqual([
      ["a.ts -> b.ts -type-> c.ts -dynamic-> a.ts"],
    ]);
  });

  test("one component, every internal edge shown in some cycle", () => {
    // a <-> b and b <-> c share b: one component, two cycles, no edge left out.
    expect(printed(graph("a.ts -> b.ts", "b.ts -> a.ts", "b.ts -> c.ts", "c.ts -> b.ts"))).toEqual([
      ["a.ts -> b.ts -> a.ts", "b.ts -> c.ts -> b.ts"],
    ]);
  });
});

describe("moduleGraph", () => {
  test("classifies every import form; ignores packages, comments and strings", () => {
    const dir = tree({
      "a.ts": [
        `import { x } from "./b.ts";`,
        `import type { T } from "./c.ts";`,
        `import { type U } from "./d.ts";`, // Bun erases it: type-only
        `import { type V, w } from "./e.ts";`, // one runtime specifier: runtime
        `export * from "./f.ts";`,
        `export type { W } from "./g.ts";`,
        `import "./h.ts";`,
        `import { y } from "./sub";`, // extensionless, resolves to sub/index.ts
        `import { z } from "node:fs";`,
        `// import { no } from "./nope.ts";`,
        `const s = 'import { no } from "./nope.ts"';`,
        `export async function load() { return import("./i.ts"); }`,
        `export type J = typeof import("./j.ts");`,
      ].join("\n"),
      ...Object.fromEntries(["b", "c", "d", "e", "f", "g", "h", "i", "j"].map((n) => [`${n}.ts`, `export {};\n`])),
      "sub/index.ts": `import { m } from "../missing.ts";\n`,
    });
    const { graph: g, unresolved } = moduleGraph(dir);
    expect(Object.fromEntries(g.get("a.ts")!)).toEqual({
      "b.ts": "static",
      "c.ts": "type",
      "d.ts": "type",
      "e.ts": "static",
      "f.ts": "static",
      "g.ts": "type",
      "h.ts": "static",
      "sub/index.ts": "static",
      "i.ts": "dynamic",
      "j.ts": "type",
    });
    expect(g.size).toBe(11);
    expect(unresolved).toEqual([{ from: "sub/index.ts", specifier: "../missing.ts" }]);
  });

  test("a type import and a runtime import of the same file make a runtime edge", () => {
    const dir = tree({ "a.ts": `import type { T } from "./b.ts";\nimport { v } from "./b.ts";\n`, "b.ts": "" });
    expect(moduleGraph(dir).graph.get("a.ts")!.get("b.ts")).toBe("static");
  });
});

describe("layerViolations", () => {
  test("upward imports, imports out of protocol/, and unlisted files are reported", () => {
    const g = graph(
      "session/x.ts -> pool/y.ts", // down: fine
      "pool/y.ts -> health/z.ts", // same row: fine
      "pool/y.ts -> session/x.ts", // up
      "protocol/p.ts -> errors/e.ts", // same row, but protocol/ is self-contained
      "admin/a.ts -> extra/q.ts", // not in the table
    );
    expect(layerViolations(g).map((v) => `${v.from} -> ${v.to}: ${v.reason}`)).toEqual([
      "admin/a.ts -> extra/q.ts: extra is not in the layer table",
      "pool/y.ts -> session/x.ts: pool (layer 4) imports up into session (layer 3)",
      "protocol/p.ts -> errors/e.ts: protocol/ must import nothing else from src/",
    ]);
  });
});

describe("src/", () => {
  test("has no import cycles", () => {
    const { graph: g } = moduleGraph(SRC);
    expect(g.size).toBeGreaterThan(0);
    // On failure the diff lists each cycle as `a.ts -> b.ts -> a.ts` (-type-> marks `import type`).
    expect(printed(g).flat()).toEqual([]);
  });
});

describe("check-cycles CLI", () => {
  function run(dir: string): { exitCode: number; stdout: string } {
    const proc = Bun.spawnSync([process.execPath, SCRIPT, dir], { stdout: "pipe", stderr: "pipe" });
    return { exitCode: proc.exitCode, stdout: proc.stdout.toString() };
  }

  test("exits 1 and prints the cycle once one is introduced", () => {
    const dir = tree({
      "a.ts": `import { b } from "./b.ts";\nexport const a = 1;\n`,
      "b.ts": `export const b = 2;\n`,
    });
    expect(run(dir)).toEqual({ exitCode: 0, stdout: expect.stringContaining("no import cycles among 2 modules") });

    writeFileSync(join(dir, "b.ts"), `import type { a } from "./a.ts";\nexport const b = 2;\n`);
    const { exitCode, stdout } = run(dir);
    expect(exitCode).toBe(1);
    expect(stdout).toContain("a.ts -> b.ts -type-> a.ts");
  });
});
