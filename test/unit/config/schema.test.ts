// The schema table agrees with the Config type, with its own bounds, with the example file and
// with the rendered reference; suggestions find what a user meant.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  configFromObject,
  configRows,
  findKey,
  loadConfig,
  renderReference,
  SCHEMA,
  valueAt,
  type DatabaseConfig,
  type NodeConfig,
  type ValueAt,
} from "../../../src/config/index.ts";
import { fieldPath, snakeToCamel } from "../../../src/config/schema.ts";
import { editDistance, suggest } from "../../../src/config/suggest.ts";

// Compile-time: key value types are precise (were one `never`, the snapshot builder would accept
// anything for it). Checked by `tsc --noEmit`.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exactTypes: [
  Same<ValueAt<"pool.mode">, "transaction" | "session">,
  Same<ValueAt<"pool.size">, number>,
  Same<ValueAt<"metrics.enabled">, boolean>,
  Same<ValueAt<"listen.tls.cert">, string>,
  Same<ValueAt<"admin.users">, readonly string[]>,
  Same<ValueAt<"nodes.primary">, NodeConfig>,
  Same<ValueAt<"nodes.replicas">, readonly NodeConfig[]>,
  Same<ValueAt<"databases">, readonly DatabaseConfig[]>,
] = [true, true, true, true, true, true, true, true];

const EXAMPLE = join(import.meta.dir, "../../../examples/pggate.yaml");
const sample = () => configFromObject({ nodes: { primary: { host: "p" } } }, { env: {} });

/** Leaf field paths of a Config: nodes and lists count as leaves. */
function leafFields(obj: unknown, prefix: string[] = []): string[] {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj) || "weight" in obj) return [prefix.join(".")];
  return Object.entries(obj).flatMap(([k, v]) => leafFields(v, [...prefix, k]));
}

describe("schema table", () => {
  test("covers every Config field exactly once", () => {
    const fields = leafFields(sample()).filter((f) => f !== "source");
    const fromSchema = SCHEMA.map((k) => fieldPath(k.path).join("."));
    expect([...fromSchema].sort()).toEqual([...fields].sort());
    expect(new Set(SCHEMA.map((k) => k.path)).size).toBe(SCHEMA.length);
  });

  test("defaults satisfy their own constraints", () => {
    for (const k of SCHEMA) {
      if (k.kind === "int") {
        expect(Number.isInteger(k.default)).toBe(true);
        expect(k.default).toBeGreaterThanOrEqual(k.min);
        expect(k.default).toBeLessThanOrEqual(k.max);
      }
      if (k.kind === "enum") expect<readonly string[]>(k.values).toContain(k.default);
      expect(k.doc.length).toBeGreaterThan(10);
    }
  });

  test("restart-only keys are exactly listen.host/port/unix_socket_*/tls.mode, metrics.*, auth.mode and workers (certificates are re-read on reload)", () => {
    const restart = SCHEMA.filter((k) => !k.reloadable).map((k) => k.path);
    expect(restart).toEqual([
      "listen.host",
      "listen.port",
      "listen.unix_socket_dir",
      "listen.unix_socket_mode",
      "listen.unix_socket_group",
      "listen.tls.mode",
      "metrics.enabled",
      "metrics.host",
      "metrics.port",
      "auth.mode",
      "workers",
    ]);
  });

  test("valueAt reads a key out of a snapshot", () => {
    const c = sample();
    expect(valueAt(c, "pool.max_lifetime_ms")).toBe(3600000);
    expect(valueAt(c, "nodes.tls.server_name")).toBe("");
    expect(snakeToCamel("prepared_statements_cache_size")).toBe("preparedStatementsCacheSize");
    expect(findKey("pool.size")?.kind).toBe("int");
    expect(findKey("pool")).toBeUndefined();
    expect(exactTypes.every(Boolean)).toBe(true);
  });
});

describe("examples/pggate.yaml", () => {
  test("parses, and equals the defaults", () => {
    const example = loadConfig(EXAMPLE, { env: {} });
    const defaults = configFromObject({ nodes: { primary: { host: "127.0.0.1", port: 5432 } } }, { source: EXAMPLE, env: {} });
    expect(example).toEqual(defaults);
  });

  test("sets every key in the schema", () => {
    const doc: unknown = parseYaml(readFileSync(EXAMPLE, "utf8"));
    for (const k of SCHEMA) {
      let cur: unknown = doc;
      for (const seg of k.path.split(".")) {
        expect(typeof cur === "object" && cur !== null && seg in cur).toBe(true);
        if (typeof cur === "object" && cur !== null && seg in cur) cur = (cur as Record<string, unknown>)[seg];
      }
    }
  });
});

describe("reference and SHOW CONFIG rows", () => {
  test("the reference lists every key with its default and reloadability", () => {
    const ref = renderReference();
    for (const k of SCHEMA) expect(ref).toContain(`| \`${k.path}\` |`);
    expect(ref).toContain("| `pool.size` | int 1..10000 | `20` | yes |");
    expect(ref).toContain("| `listen.port` | int 0..65535 | `6432` | restart |");
    expect(ref).toContain("| `pool.mode` | transaction \\| session | `transaction` | yes |");
  });

  test("configRows masks the auth password", () => {
    const c = configFromObject({ nodes: { primary: { host: "p" }, replicas: [{ host: "r", weight: 3 }] }, auth: { auth_password: "hunter2" } }, { env: {} });
    const rows = configRows(c);
    expect(rows).toHaveLength(SCHEMA.length);
    expect(rows.find((r) => r.key === "auth.auth_password")).toEqual({ key: "auth.auth_password", value: "********", default: '""', reloadable: true });
    expect(rows.find((r) => r.key === "nodes.replicas")?.value).toBe("[r:5432 (weight 3)]");
    expect(rows.find((r) => r.key === "admin.users")?.value).toBe("[postgres]");
    expect(JSON.stringify(rows)).not.toContain("hunter2");
  });
});

describe("suggestions", () => {
  test("edit distance counts a swap as one edit", () => {
    expect(editDistance("port", "prot")).toBe(1);
    expect(editDistance("size", "szie")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  test("finds close names and other spellings, and nothing for far ones", () => {
    const names = ["mode", "size", "min_idle", "idle_timeout_ms"];
    expect(suggest("szie", names)).toBe("size");
    expect(suggest("idleTimeoutMs", names)).toBe("idle_timeout_ms");
    expect(suggest("idle-timeout-ms", names)).toBe("idle_timeout_ms");
    expect(suggest("frobnicate", names)).toBeUndefined();
    expect(suggest("x", names)).toBeUndefined();
  });
});
