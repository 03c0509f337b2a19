// Every command the README (and docs/) shows must run as written on a fresh clone after `npm ci`:
// Bun lives in node_modules/.bin, so a bare `bun …` fails; `npm run X` needs script X; a file a
// command names must be in the repository (or made by an earlier line of the same block); any
// other program must be on PATH or be one the text says to install (docker, systemctl, kubectl).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> };

/** Programs a reader brings for deployment, named where the text says so; not needed to test. */
const EXTERNAL = new Set(["docker", "systemctl", "kubectl", "kill", "helm"]);

function documents(): string[] {
  const docs = existsSync("docs") ? readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`) : [];
  return ["README.md", ...docs];
}

/** Lines of ```sh / ```bash / ```shell blocks, continuations joined, comments and prompts removed. */
function shellLines(markdown: string): string[][] {
  const blocks: string[][] = [];
  const re = /^```(?:sh|bash|shell|console)\n([\s\S]*?)^```/gm;
  for (const m of markdown.matchAll(re)) {
    const lines: string[] = [];
    let carry = "";
    for (const raw of m[1].split("\n")) {
      let line = carry + raw.replace(/^\$ /, "");
      if (line.endsWith("\\")) {
        carry = line.slice(0, -1) + " ";
        continue;
      }
      carry = "";
      line = line.replace(/(^|\s)#(\s.*)?$/, "").trim();
      if (line !== "") lines.push(line);
    }
    blocks.push(lines);
  }
  return blocks;
}

/** Shell words (quotes respected, not expanded beyond removing them). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === " " || ch === "\t") {
      if (cur) out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** What is wrong with one command line, or null. `made`: files earlier lines of the block create. */
function problem(line: string, made: Set<string>): string | null {
  for (const part of line.split(/\s*(?:&&|\|\||;|\|)\s*/)) {
    const w = words(part);
    while (w.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0])) w.shift();
    if (w.length === 0) continue;
    const [prog, ...args] = w;
    for (let i = 0; i < args.length; i++) if (args[i] === ">" && args[i + 1]) made.add(args[i + 1]);
    if ((prog === "cp" || prog === "tee") && args.length > 0) made.add(args[args.length - 1]);
    if (prog === "bun") return "bare `bun` (not on PATH after npm ci): write `npx bun …` or `npm run …`";
    if (prog === "npm") {
      if (args[0] === "run" && !(args[1] in pkg.scripts)) return `npm run ${args[1]}: no such script in package.json`;
      if (args[0] === "test" && !("test" in pkg.scripts)) return "npm test: no test script";
      continue;
    }
    if (prog === "npx") {
      if (args[0] !== "bun") continue;
      const rest = args.slice(1);
      const target = rest[0] === "run" ? rest[1] : rest[0];
      if (target === undefined || target === "test") continue;
      if (rest[0] === "run" && target in pkg.scripts) continue;
      if (!existsSync(target)) return `npx bun ${target}: no such file`;
      continue;
    }
    if (prog === "dist/pggate") {
      if (!("build" in pkg.scripts)) return "dist/pggate but no build script";
    } else if (!EXTERNAL.has(prog) && Bun.which(prog) === null && !existsSync(prog)) {
      return `${prog}: not on PATH and not a file in the repository`;
    }
    // Files it reads: --config FILE, and repository paths among its arguments.
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const file = a === "--config" || a === "-c" ? args[i + 1] : /^(examples|scripts|src|test|docs)\/[\w./-]+$/.test(a) ? a : null;
      if (file && !file.startsWith("/") && !file.startsWith("$") && !made.has(file) && !existsSync(file)) return `${prog} names ${file}, which the repository does not have`;
    }
  }
  return null;
}

describe("README commands", () => {
  for (const doc of documents()) {
    const text = readFileSync(doc, "utf8");
    test(`${doc}: every shell line runs as written after npm ci`, () => {
      const problems: string[] = [];
      for (const block of shellLines(text)) {
        const made = new Set<string>();
        for (const line of block) {
          const p = problem(line, made);
          if (p) problems.push(`${line}\n    -> ${p}`);
        }
      }
      expect(problems).toEqual([]);
    });

    test(`${doc}: no inline command starts with a bare \`bun\``, () => {
      const bare = [...text.matchAll(/`(bun (?:run |test |build )?[^`]*)`/g)].map((m) => m[1]);
      expect(bare).toEqual([]);
    });
  }

  test("the checker catches what it must (a test that cannot fail is a defect)", () => {
    expect(problem("bun run build", new Set())).toContain("bare `bun`");
    expect(problem("npm run nosuch", new Set())).toContain("no such script");
    expect(problem("dist/pggate check --config pggate.yaml", new Set())).toContain("does not have");
    expect(problem("npx bun scripts/nosuch.ts", new Set())).toContain("no such file");
    expect(problem("dist/pggate check --config examples/pggate.yaml", new Set())).toBeNull();
    expect(problem("PGTZ=UTC npx bun src/main.ts --config out.yaml", new Set(["out.yaml"]))).toBeNull();
    const made = new Set<string>();
    expect(problem("cp examples/pggate.yaml mine.yaml", made)).toBeNull();
    expect(problem("dist/pggate --config mine.yaml", made)).toBeNull();
  });
});
