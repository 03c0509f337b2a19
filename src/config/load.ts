// Entry points that produce a Config: from a file, from YAML text, or from an in-memory object.
// YAML syntax problems and validation problems both surface as one ConfigError with positions.

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLError } from "yaml";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import type { Config } from "./types.ts";
import { validateConfig, type Locator, type ValidateContext } from "./validate.ts";
import { isMapping } from "./yaml-shape.ts";

export interface LoadOptions {
  /** Path of the config file, for messages and for resolving relative file paths. */
  readonly source: string;
  /** Environment to read PGGATE_AUTH_PASSWORD from; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Reads and validates a config file. Throws ConfigError. */
export function loadConfig(path: string, opts: { env?: LoadOptions["env"] } = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError(path, [{ path: "", message: `cannot read config file: ${reason}` }]);
  }
  return parseConfig(text, { source: path, env: opts.env });
}

/** The source of a config made of PGGATE_<SECTION>__<KEY> variables alone (no file). */
export const ENVIRONMENT_SOURCE = "(environment)";

/**
 * The config again from where `source` came from (a reload): the file re-read, or — for a config
 * of variables alone — the variables (with `env`'s overrides, e.g. admin SET) parsed again.
 */
export function reloadConfig(source: string, env: LoadOptions["env"]): Config {
  return source === ENVIRONMENT_SOURCE ? parseConfig("", { source, env }) : loadConfig(source, { env });
}

/** Parses and validates YAML text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, opts: LoadOptions): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const syntax = [...doc.errors, ...doc.warnings].map((e) => syntaxProblem(e, lineCounter));
  if (syntax.length > 0) throw new ConfigError(opts.source, syntax);

  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError(opts.source, [{ path: "", message: `YAML error: ${reason}` }]);
  }
  // A config of variables alone keeps its marker as source (a reload reads the variables again);
  // relative paths in it resolve against the working directory.
  const fromEnv = opts.source === ENVIRONMENT_SOURCE;
  const abs = fromEnv ? ENVIRONMENT_SOURCE : resolve(opts.source);
  return finish(root, opts.source, {
    source: abs,
    baseDir: fromEnv ? process.cwd() : dirname(abs),
    env: opts.env ?? process.env,
    locate: makeLocator(doc, lineCounter),
  });
}

/**
 * Validates a YAML-shaped object, as `parseConfig` would after parsing (used by tests and the dev
 * script). Relative file paths resolve against the source's directory, or the working directory
 * when there is no source.
 */
export function configFromObject(obj: unknown, sourceOrOpts: string | Partial<LoadOptions> = {}): Config {
  const opts = typeof sourceOrOpts === "string" ? { source: sourceOrOpts } : sourceOrOpts;
  const source = opts.source ?? "";
  const abs = source === "" ? "" : resolve(source);
  return finish(obj, source, {
    source: abs,
    baseDir: abs === "" ? process.cwd() : dirname(abs),
    env: opts.env ?? process.env,
  });
}

/** A Config for the given nodes with every other key at its default, or as `overrides` set it. */
export function defaultConfigFor(
  primary: { host: string; port: number },
  replicas: readonly { host: string; port: number; weight?: number }[],
  overrides: Record<string, unknown> = {},
  opts: Partial<LoadOptions> = {},
): Config {
  const base = { nodes: { primary: { ...primary }, replicas: replicas.map((r) => ({ ...r })) } };
  return configFromObject(mergeMappings(base, overrides), opts);
}

function finish(root: unknown, shownSource: string, ctx: ValidateContext): Config {
  const result = validateConfig(root, ctx);
  if (!result.ok) throw new ConfigError(shownSource, result.problems);
  return result.config;
}


/** Deep merge of mappings; lists and scalars in `over` replace those in `base`. */
function mergeMappings(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isMapping(prev) && isMapping(v) ? mergeMappings(prev, v) : v;
  }
  return out;
}

function syntaxProblem(e: YAMLError, lc: LineCounter): ConfigProblem {
  const { line, col } = lc.linePos(e.pos[0]);
  const message =
    e.code === "MULTIPLE_DOCS"
      ? "a config file holds a single YAML document; remove the second `---`"
      : (e.message.split("\n")[0] ?? e.message);
  return { path: "", message: `YAML syntax error: ${message}`, line, column: col };
}

function makeLocator(doc: Document.Parsed, lc: LineCounter): Locator {
  const start = (n: unknown): number | undefined => (isNode(n) && n.range ? n.range[0] : undefined);
  return (segments, at) => {
    let node: unknown = doc.contents;
    // A key missing from the top level has no better place than "somewhere in the file".
    let found = segments.length === 0 ? start(node) : undefined;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      if (isMap(node) && typeof seg === "string") {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) break;
        found = start(pair.key) ?? found;
        node = pair.value;
        const isLast = i === segments.length - 1;
        // An empty value (`size:`) has no useful position of its own: point at the key.
        if (isLast && at === "value" && !(isScalar(node) && node.value === null)) found = start(node) ?? found;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        found = start(node) ?? found;
      } else break;
    }
    if (found === undefined) return undefined;
    const { line, col } = lc.linePos(found);
    return { line, column: col };
  };
}
