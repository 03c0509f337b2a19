// How a value of each key kind is read: ints within bounds, strings, enums (with the old boolean
// spellings), paths resolved against the config's directory, string lists, nodes and node lists,
// pool override mappings. Each check reports its own problem and returns undefined; the
// validator (validate.ts) walks the document, and databases.ts reuses these for its entries.
import { resolve } from "node:path";
import {
  NODE_DEFAULT_PORT,
  NODE_DEFAULT_WEIGHT,
  NODE_FIELDS,
  NODE_PORT_MAX,
  NODE_PORT_MIN,
  NODE_WEIGHT_MAX,
  NODE_WEIGHT_MIN,
  type KeyDef,
} from "./schema.ts";
import { suggest } from "./suggest.ts";
import type { EntryChecks } from "./databases.ts";
import { describeGot, formatPath, isMapping, type Segment } from "./yaml-shape.ts";
import type { NodeConfig, PoolMode, PoolOverride } from "./types.ts";

export abstract class ValueChecks implements EntryChecks {
  /** Path keys as the user wrote them, for messages. */
  protected readonly rawPaths = new Map<string, string>();

  constructor(private readonly baseDir: string) {}

  abstract report(segments: readonly Segment[], message: string, at?: "key" | "value", near?: readonly Segment[]): void;

  /** `v` checked against `key`'s kind and bounds (a path resolved); undefined when a problem was reported. */
  leafValue(key: KeyDef, segs: readonly Segment[], v: unknown): unknown {
    switch (key.kind) {
      case "int":
        return this.int(segs, v, key.min, key.max);
      case "bool":
        if (typeof v === "boolean") return v;
        this.report(segs, `must be true or false, got ${describeGot(v)}`);
        return undefined;
      case "string":
        return this.string(segs, v, key.nonEmpty);
      case "enum":
        if (typeof v === "boolean" && key.booleans) return v ? key.booleans.true : key.booleans.false;
        if (typeof v === "string" && key.values.includes(v)) return v;
        if (typeof v === "string") this.report(segs, `${JSON.stringify(v)} is not one of ${key.values.join(", ")}`);
        else this.report(segs, `must be one of ${key.values.join(", ")}, got ${describeGot(v)}`);
        return undefined;
      case "path": {
        const s = this.string(segs, v, false);
        if (s === undefined) return undefined;
        this.rawPaths.set(key.path, s);
        return s === "" ? "" : resolve(this.baseDir, s);
      }
      case "file-mode":
        return this.fileMode(segs, v);
      case "string-list":
        return this.stringList(segs, v, key.lowercase, key.values);
      case "node":
        return this.node(segs, v);
      case "node-list":
        return this.nodeList(segs, v);
      case "pool-overrides":
        return this.poolOverrides(segs, v);
      case "databases":
        throw new Error("internal: databases is validated by parseDatabases");
    }
  }

  /** `{ name: { size?, mode? } }` → entries; names are kept exactly (they match client names as sent). */
  protected poolOverrides(segs: readonly Segment[], v: unknown): PoolOverride[] | undefined {
    if (!isMapping(v)) {
      this.report(segs, `must be a mapping like { reporting: { size: 2, mode: session } }, got ${describeGot(v)}`);
      return undefined;
    }
    const out: PoolOverride[] = [];
    let ok = true;
    for (const [name, entry] of Object.entries(v)) {
      const p = this.poolEntry([...segs, name], entry);
      if (p) out.push({ name, ...p });
      else ok = false;
    }
    return ok ? out : undefined;
  }

  /** One pool.users / pool.databases entry (or a databases entry's pool): `{ size?, mode? }`. */
  poolEntry(at: readonly Segment[], entry: unknown): { size: number | null; mode: PoolMode | null } | undefined {
    if (!isMapping(entry)) {
      this.report(at, `must be a mapping with size and/or mode, got ${describeGot(entry)}`);
      return undefined;
    }
    let ok = true;
    let size: number | null = null;
    let mode: PoolMode | null = null;
    for (const [field, value] of Object.entries(entry)) {
      if (field === "size") {
        const n = this.int([...at, field], value, 1, 10000);
        if (n === undefined) ok = false;
        else size = n;
      } else if (field === "mode") {
        if (value === "transaction" || value === "session") mode = value;
        else {
          this.report([...at, field], `must be transaction or session, got ${describeGot(value)}`);
          ok = false;
        }
      } else {
        this.report([...at, field], "unknown key; allowed: size, mode", "key");
        ok = false;
      }
    }
    return ok ? { size, mode } : undefined;
  }

  /** "0777", "770", "0o770" → "0770"; a number is refused (YAML reads 0777 unquoted as decimal 777). */
  protected fileMode(segs: readonly Segment[], v: unknown): string | undefined {
    if (typeof v === "number") {
      this.report(segs, `must be an octal mode in quotes, e.g. "0770", got the number ${v} (YAML reads an unquoted 0777 as the decimal number 777)`);
      return undefined;
    }
    const m = typeof v === "string" ? /^(?:0o?)?([0-7]{3})$/i.exec(v.trim()) : null;
    if (m) return `0${m[1]}`;
    this.report(segs, `must be an octal file mode of three digits, e.g. "0770", got ${describeGot(v)}`);
    return undefined;
  }

  protected int(segs: readonly Segment[], v: unknown, min: number, max: number): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    const hint = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? " (write it without quotes)" : "";
    this.report(segs, `must be an integer between ${min} and ${max}, got ${describeGot(v)}${hint}`);
    return undefined;
  }

  string(segs: readonly Segment[], v: unknown, nonEmpty: boolean): string | undefined {
    if (typeof v === "string") {
      if (nonEmpty && v.trim() === "") {
        this.report(segs, "must not be empty");
        return undefined;
      }
      return v;
    }
    const hint = typeof v === "number" || typeof v === "boolean" ? ` (quote it: "${String(v)}")` : "";
    this.report(segs, `must be a string, got ${describeGot(v)}${hint}`);
    return undefined;
  }

  /** `values`: the allowed items; then an empty list is an error too (it would allow nothing). */
  protected stringList(segs: readonly Segment[], v: unknown, lowercase: boolean, values?: readonly string[]): string[] | undefined {
    if (v === null || (Array.isArray(v) && v.length === 0)) {
      if (!values) return [];
      this.report(segs, `must list at least one of ${values.join(", ")}`);
      return undefined;
    }
    if (!Array.isArray(v)) {
      const example = values ? `[${values.slice(0, 2).join(", ")}]` : "[a, b]";
      this.report(segs, `must be a list of strings, e.g. ${example}, got ${describeGot(v)}`);
      return undefined;
    }
    const out: string[] = [];
    let ok = true;
    v.forEach((item: unknown, i) => {
      if (typeof item !== "string" || item.trim() === "") {
        this.report([...segs, i], `must be a non-empty string, got ${describeGot(item)}`);
        ok = false;
        return;
      }
      const s = lowercase ? item.trim().toLowerCase() : item;
      if (values && !values.includes(s)) {
        this.report([...segs, i], `${JSON.stringify(item)} is not one of ${values.join(", ")}`);
        ok = false;
        return;
      }
      if (!out.includes(s)) out.push(s);
    });
    return ok ? out : undefined;
  }

  node(segs: readonly Segment[], v: unknown): NodeConfig | undefined {
    if (!isMapping(v)) {
      this.report(segs, `must be a mapping like { host: 127.0.0.1, port: 5432 }, got ${describeGot(v)}`);
      return undefined;
    }
    const allowed = NODE_FIELDS.map((f) => f.name);
    let ok = true;
    for (const name of Object.keys(v)) {
      if (allowed.some((a) => a === name)) continue;
      const near = suggest(name, allowed);
      const hint = near ? `did you mean ${formatPath([...segs, near])}?` : `allowed: ${allowed.join(", ")}`;
      this.report([...segs, name], `unknown key; ${hint}`, "key");
      ok = false;
    }
    let host: string | undefined;
    if (v.host === undefined) {
      this.report(segs, "host is required");
      ok = false;
    } else host = this.string([...segs, "host"], v.host, true);
    const port =
      v.port === undefined ? NODE_DEFAULT_PORT : this.int([...segs, "port"], v.port, NODE_PORT_MIN, NODE_PORT_MAX);
    const weight =
      v.weight === undefined
        ? NODE_DEFAULT_WEIGHT
        : this.int([...segs, "weight"], v.weight, NODE_WEIGHT_MIN, NODE_WEIGHT_MAX);
    if (!ok || host === undefined || port === undefined || weight === undefined) return undefined;
    return { host, port, weight };
  }

  nodeList(segs: readonly Segment[], v: unknown): NodeConfig[] | undefined {
    if (v === null) return [];
    if (!Array.isArray(v)) {
      this.report(segs, `must be a list of nodes like - { host: 127.0.0.1, port: 5433 }, got ${describeGot(v)}`);
      return undefined;
    }
    const out: NodeConfig[] = [];
    let ok = true;
    v.forEach((item: unknown, i) => {
      const n = this.node([...segs, i], item);
      if (n) out.push(n);
      else ok = false;
    });
    return ok ? out : undefined;
  }

  /** A problem already reported at this key, inside it, or at a section containing it. */
}
