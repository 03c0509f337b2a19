// Import-cycle check for src/ (`bun scripts/check-cycles.ts [rootDir]`): builds the module graph from
// relative imports, exits 1 listing every cycle, and lists layer violations (STYLE.md "Layout")
// without failing on them. Reads files only; it must not import anything from src/.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

/**
 * How one module reaches another. "type" means every import between the pair is erased at runtime
 * (`import type`, or only `type` specifiers, which Bun drops); such edges still count as cycles
 * because a type-only cycle ties the layers together just the same.
 */
export type EdgeKind = "static" | "dynamic" | "type";

/** File (relative to the scanned root, `/`-separated) -> the files it imports and how. */
export type ModuleGraph = ReadonlyMap<string, ReadonlyMap<string, EdgeKind>>;

export interface Cycle {
  /** Closed path: files[0] === files[files.length - 1]; a self-import is [a, a]. */
  files: string[];
  /** kinds[i] is the edge files[i] -> files[i + 1]. */
  kinds: EdgeKind[];
}

/** One strongly connected component and a set of cycles that together use every edge inside it. */
export interface CycleGroup {
  files: string[];
  cycles: Cycle[];
}

export interface UnresolvedImport {
  from: string;
  specifier: string;
}

export interface LayerViolation {
  from: string;
  to: string;
  reason: string;
}

/**
 * Allowed order, top to bottom: a file may import its own folder, its own row, or any row below.
 * Keys are the first path segment under src/ (a folder, or a top-level file).
 */
export const LAYERS: readonly (readonly string[])[] = [
  // convert/ (`pggate convert`) is a command beside main: it reads config and auth parsers only.
  ["main.ts", "convert"],
  // supervisor.ts is main's process wiring; gateway.ts imports its message types.
  ["gateway.ts", "supervisor.ts"],
  // endpoints/ (HTTP metrics and status) is not in STYLE.md yet; like admin/ it reads session state.
  ["admin", "endpoints"],
  ["session"],
  ["pool", "health"],
  ["server"],
  ["auth", "net"],
  ["protocol", "router", "config", "errors", "log", "metrics", "version.ts"],
];

/** Folders that must import nothing else from src/ (STYLE.md: "protocol/ pure codec"). */
export const SELF_CONTAINED: readonly string[] = ["protocol"];

// An edge is only as weak as its strongest import: one runtime import makes the pair a runtime edge.
const STRENGTH: Record<EdgeKind, number> = { type: 0, dynamic: 1, static: 2 };

/** Every cycle in the graph, grouped by strongly connected component, in a stable order. */
export function findCycles(graph: ModuleGraph): CycleGroup[] {
  const groups: CycleGroup[] = [];
  for (const component of stronglyConnected(graph)) {
    const inside = new Set(component);
    const first = component[0];
    const selfLoop = first !== undefined && graph.get(first)?.has(first) === true;
    if (component.length === 1 && !selfLoop) continue;

    // One cycle per edge inside the component (the edge plus the shortest way back), deduplicated:
    // bounded by the edge count, unlike enumerating every elementary cycle, and still shows every
    // import that would have to go to break the component.
    const cycles = new Map<string, Cycle>();
    for (const from of component) {
      for (const [to, kind] of sortedEdges(graph, from)) {
        if (!inside.has(to)) continue;
        const back = shortestPath(graph, inside, to, from);
        if (!back) continue;
        const cycle = canonical({ files: [from, to, ...back.files], kinds: [kind, ...back.kinds] });
        cycles.set(cycle.files.join("\0"), cycle);
      }
    }
    groups.push({ files: component, cycles: [...cycles.values()].sort(compareCycles) });
  }
  return groups;
}

/** `a.ts -> b.ts -type-> a.ts`; plain arrows are runtime imports. */
export function formatCycle(cycle: Cycle): string {
  let out = cycle.files[0] ?? "";
  cycle.kinds.forEach((kind, i) => {
    out += ` ${arrow(kind)} ${cycle.files[i + 1]}`;
  });
  if (cycle.kinds.every((k) => k === "type")) out += "  (type-only)";
  return out;
}

/** Parses every .ts file under rootDir and records its relative imports that resolve to files there. */
export function moduleGraph(rootDir: string): { graph: ModuleGraph; unresolved: UnresolvedImport[] } {
  const root = resolve(rootDir);
  const graph = new Map<string, Map<string, EdgeKind>>();
  const unresolved: UnresolvedImport[] = [];
  for (const file of listTsFiles(root)) {
    const edges = new Map<string, EdgeKind>();
    graph.set(file, edges);
    const abs = join(root, file);
    for (const { specifier, kind } of importsOf(abs)) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
      const target = resolveSpecifier(dirname(abs), specifier);
      if (target === undefined) {
        unresolved.push({ from: file, specifier });
        continue;
      }
      const rel = relative(root, target);
      // Imports leaving the root (or of non-TS files such as JSON) are outside this graph.
      if (rel.startsWith("..") || !rel.endsWith(".ts")) continue;
      const to = rel.split(sep).join("/");
      const seen = edges.get(to);
      if (seen === undefined || STRENGTH[kind] > STRENGTH[seen]) edges.set(to, kind);
    }
  }
  return { graph, unresolved };
}

/** Imports that point up the LAYERS table, leave a SELF_CONTAINED folder, or touch an unlisted file. */
export function layerViolations(
  graph: ModuleGraph,
  layers: readonly (readonly string[])[] = LAYERS,
  selfContained: readonly string[] = SELF_CONTAINED,
): LayerViolation[] {
  const rank = new Map<string, number>();
  layers.forEach((row, i) => row.forEach((unit) => rank.set(unit, i)));
  const violations: LayerViolation[] = [];
  for (const from of [...graph.keys()].sort()) {
    const fromUnit = unitOf(from);
    for (const [to] of sortedEdges(graph, from)) {
      const toUnit = unitOf(to);
      if (toUnit === fromUnit) continue;
      const fromRank = rank.get(fromUnit);
      const toRank = rank.get(toUnit);
      if (fromRank === undefined || toRank === undefined) {
        const missing = fromRank === undefined ? fromUnit : toUnit;
        violations.push({ from, to, reason: `${missing} is not in the layer table` });
      } else if (toRank < fromRank) {
        violations.push({ from, to, reason: `${fromUnit} (layer ${fromRank}) imports up into ${toUnit} (layer ${toRank})` });
      } else if (selfContained.includes(fromUnit)) {
        violations.push({ from, to, reason: `${fromUnit}/ must import nothing else from src/` });
      }
    }
  }
  return violations;
}

// ---- graph algorithms ----

/** Tarjan's algorithm, iterative so a deep import chain cannot overflow the stack. */
function stronglyConnected(graph: ModuleGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;

  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { node: string; targets: string[]; i: number }[] = [];
    const visit = (node: string): void => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, targets: sortedEdges(graph, node).map(([to]) => to), i: 0 });
    };
    visit(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const to = frame.targets[frame.i++];
      if (to !== undefined) {
        if (!index.has(to)) visit(to);
        else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components.sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
}

/** BFS from `from` to `to` within `inside`; the path excludes `from` itself. A self-loop edge needs no path. */
function shortestPath(graph: ModuleGraph, inside: ReadonlySet<string>, from: string, to: string): Cycle | undefined {
  if (from === to) return { files: [], kinds: [] };
  const cameFrom = new Map<string, { prev: string; kind: EdgeKind }>();
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const [next, kind] of sortedEdges(graph, node)) {
      if (!inside.has(next) || next === from || cameFrom.has(next)) continue;
      cameFrom.set(next, { prev: node, kind });
      if (next === to) {
        const files: string[] = [];
        const kinds: EdgeKind[] = [];
        for (let at = to; at !== from; ) {
          const step = cameFrom.get(at)!;
          files.unshift(at);
          kinds.unshift(step.kind);
          at = step.prev;
        }
        return { files, kinds };
      }
      queue.push(next);
    }
  }
  return undefined;
}

/** Rotates a closed path to start at its smallest file, so the same cycle found twice compares equal. */
function canonical(cycle: Cycle): Cycle {
  const open = cycle.files.slice(0, -1);
  let start = 0;
  open.forEach((f, i) => {
    if (f < open[start]!) start = i;
  });
  const files = [...open.slice(start), ...open.slice(0, start)];
  return { files: [...files, files[0]!], kinds: [...cycle.kinds.slice(start), ...cycle.kinds.slice(0, start)] };
}

function compareCycles(a: Cycle, b: Cycle): number {
  return a.files.length - b.files.length || a.files.join(" ").localeCompare(b.files.join(" "));
}

function sortedEdges(graph: ModuleGraph, from: string): [string, EdgeKind][] {
  return [...(graph.get(from) ?? new Map<string, EdgeKind>())].sort(([a], [b]) => a.localeCompare(b));
}

function arrow(kind: EdgeKind): string {
  return kind === "static" ? "->" : `-${kind}->`;
}

function unitOf(file: string): string {
  return file.split("/")[0] ?? file;
}

// ---- parsing ----

function listTsFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && statSync(join(root, f)).isFile())
    .map((f) => f.split(sep).join("/"))
    .sort();
}

/** Uses TypeScript's own parser (already a devDependency) so comments, strings and templates never fake an import. */
function importsOf(file: string): { specifier: string; kind: EdgeKind }[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: { specifier: string; kind: EdgeKind }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, kind: isTypeOnlyImport(node) ? "type" : "static" });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, kind: isTypeOnlyExport(node) ? "type" : "static" });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      // Only literal specifiers can be resolved; a computed import("...") is invisible here.
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) found.push({ specifier: arg.text, kind: "dynamic" });
    } else if (ts.isImportTypeNode(node)) {
      // `typeof import("./x.ts")` / `import("./x.ts").T` in a type position.
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) found.push({ specifier: arg.literal.text, kind: "type" });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

// `import { type A } from` counts as type-only because Bun erases it entirely (checked with
// Bun.Transpiler), even though tsc under verbatimModuleSyntax would keep `import {} from`.
function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import "./x.ts"` runs the module
  if (clause.phaseModifier === ts.SyntaxKind.TypeKeyword) return true;
  if (clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) return false;
  const elements = clause.namedBindings.elements;
  return elements.length > 0 && elements.every((e) => e.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  if (!clause || !ts.isNamedExports(clause)) return false;
  return clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

/** `./x.ts` as written (the repo style), falling back to the extensionless and index forms. */
function resolveSpecifier(fromDir: string, specifier: string): string | undefined {
  const base = resolve(fromDir, specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

// ---- CLI ----

function main(argv: string[]): number {
  const rootDir = resolve(argv[0] ?? join(import.meta.dir, "..", "src"));
  const { graph, unresolved } = moduleGraph(rootDir);
  for (const u of unresolved) console.error(`warning: ${u.from}: cannot resolve import "${u.specifier}"`);

  const violations = layerViolations(graph);
  if (violations.length > 0) {
    console.log(`layer violations (reported, not failing): ${violations.length}`);
    for (const v of violations) console.log(`  ${v.from} -> ${v.to}: ${v.reason}`);
  }

  const groups = findCycles(graph);
  if (groups.length === 0) {
    console.log(`no import cycles among ${graph.size} modules`);
    return 0;
  }
  const total = groups.reduce((n, g) => n + g.cycles.length, 0);
  console.log(`import cycles: ${total} in ${groups.length} group(s) among ${graph.size} modules`);
  console.log(`  (-> runtime import, -type-> type-only import, -dynamic-> import())`);
  groups.forEach((g, i) => {
    console.log(`group ${i + 1} (${g.files.length} files): ${g.files.join(", ")}`);
    for (const c of g.cycles) console.log(`  ${formatCycle(c)}`);
  });
  return 1;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
