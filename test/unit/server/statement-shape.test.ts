// sameShape: what PostgreSQL's plan cache compares before "cached plan must not change result type".
import { describe, expect, test } from "bun:test";
import { sameShape } from "../../../src/server/statement-shape.ts";
import { statementNames } from "../../../src/server/statement-names.ts";

function row(cols: { name: string; table?: number; attnum?: number; type: number; typmod?: number }[]): Uint8Array {
  const parts: number[] = [0, cols.length];
  for (const c of cols) {
    const b = new Uint8Array(18);
    const dv = new DataView(b.buffer);
    dv.setInt32(0, c.table ?? 0);
    dv.setInt16(4, c.attnum ?? 0);
    dv.setInt32(6, c.type);
    dv.setInt16(10, c.type === 20 ? 8 : 4);
    dv.setInt32(12, c.typmod ?? -1);
    parts.push(...new TextEncoder().encode(c.name), 0, ...b);
  }
  return new Uint8Array(parts);
}
const params = (...oids: number[]) => new Uint8Array([0, oids.length, ...oids.flatMap((o) => [0, 0, 0, o])]);

describe("sameShape", () => {
  test("equal when names, types and modifiers match, whatever table they come from", () => {
    expect(sameShape({ params: params(23), row: row([{ name: "a", type: 23, table: 1, attnum: 1 }]) }, { params: params(23), row: row([{ name: "a", type: 23, table: 2, attnum: 3 }]) })).toBe(true);
    expect(sameShape({ params: params(), row: null }, { params: params(), row: null })).toBe(true);
  });

  test("different on a type, modifier, name, column count, parameter type, or rows vs none", () => {
    const base = { params: params(23), row: row([{ name: "a", type: 23 }]) };
    expect(sameShape(base, { params: params(23), row: row([{ name: "a", type: 20 }]) })).toBe(false);
    expect(sameShape(base, { params: params(23), row: row([{ name: "a", type: 23, typmod: 12 }]) })).toBe(false);
    expect(sameShape(base, { params: params(23), row: row([{ name: "b", type: 23 }]) })).toBe(false);
    expect(sameShape(base, { params: params(23), row: row([{ name: "a", type: 23 }, { name: "x", type: 25 }]) })).toBe(false);
    expect(sameShape(base, { params: params(25), row: row([{ name: "a", type: 23 }]) })).toBe(false);
    expect(sameShape(base, { params: params(23), row: null })).toBe(false);
  });
});

describe("StatementNames.invalidate", () => {
  test("statements get new names after a schema change; names are never reused", () => {
    const before = statementNames.nameFor("SELECT 'invalidate-test'");
    expect(statementNames.nameFor("SELECT 'invalidate-test'")).toBe(before);
    statementNames.invalidate();
    const after = statementNames.nameFor("SELECT 'invalidate-test'");
    expect(after).not.toBe(before);
    expect(statementNames.nameFor("SELECT 'invalidate-test'")).toBe(after);
  });
});

describe("StatementNames while DDL is in flight", () => {
  test("every Parse gets a name of its own until the last schema change ends; then names are shared again, new ones", () => {
    const shared = statementNames.nameFor("SELECT 'ddl-window'");
    statementNames.beginSchemaChange();
    statementNames.beginSchemaChange();
    const a = statementNames.nameFor("SELECT 'ddl-window'");
    const b = statementNames.nameFor("SELECT 'ddl-window'");
    expect(new Set([shared, a, b]).size).toBe(3);
    statementNames.endSchemaChange();
    expect(statementNames.nameFor("SELECT 'ddl-window'")).not.toBe(statementNames.nameFor("SELECT 'ddl-window'"));
    statementNames.endSchemaChange();
    const after = statementNames.nameFor("SELECT 'ddl-window'");
    expect(statementNames.nameFor("SELECT 'ddl-window'")).toBe(after);
    expect([shared, a, b]).not.toContain(after);
  });
});
