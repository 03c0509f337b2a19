// ConfigError: every problem found in one config, each naming its key path and (when parsed from
// YAML) its line and column. Formatting lives here so `pggate check`, reload logs and tests agree.

export interface ConfigProblem {
  /** YAML key path such as `nodes.replicas[1].port`; "" for file-level problems (syntax, I/O). */
  readonly path: string;
  /** What is wrong and what is allowed. */
  readonly message: string;
  /** 1-based position in the source file, when known. */
  readonly line?: number;
  readonly column?: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** The config source as given by the caller ("" when built in memory). */
  readonly source: string;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(problems.map((p) => formatProblem(source, p)).join("\n"));
    this.source = source;
    this.problems = Object.freeze([...problems]);
  }
}

/** `pggate.yaml:12:9: pool.mode: "trasaction" is not one of transaction, session` */
export function formatProblem(source: string, p: ConfigProblem): string {
  let where = source;
  if (p.line !== undefined) where += `${where ? ":" : "line "}${p.line}${p.column !== undefined ? `:${p.column}` : ""}`;
  const prefix = where ? `${where}: ` : "";
  return `${prefix}${p.path ? `${p.path}: ` : ""}${p.message}`;
}
