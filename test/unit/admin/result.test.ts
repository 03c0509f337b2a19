// encodeResult against frames built with test/frames.ts (not src/protocol), value formatting, and the shape
// checks that keep a malformed backend result off the wire.

import { describe, expect, test } from "bun:test";
import { encodeResult, formatValue } from "../../../src/admin/index.ts";
import { PgError } from "../../../src/errors/index.ts";
import { cat, cstr, dataRowBody, i16, i32, typed } from "../../frames.ts";

/** RowDescription column of type text: name, table OID 0, attnum 0, OID 25, typlen -1, typmod -1, text format. */
const textColumn = (name: string): Uint8Array => cat(cstr(name), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0));

describe("encodeResult", () => {
  test("two text columns, two rows: exact RowDescription, DataRows, CommandComplete", () => {
    const frames = encodeResult({
      columns: ["name", "n"],
      rows: [
        ["a", 1],
        [null, true],
      ],
      tag: "SHOW",
    });
    const expected = [
      typed("T", i16(2), textColumn("name"), textColumn("n")),
      typed("D", dataRowBody(["a", "1"])),
      typed("D", dataRowBody([null, "t"])),
      typed("C", cstr("SHOW")),
    ];
    expect(frames).toEqual(expected);
  });

  test("no columns: CommandComplete alone", () => {
    expect(encodeResult({ tag: "RELOAD" })).toEqual([typed("C", cstr("RELOAD"))]);
  });

  test("columns but no rows: RowDescription and CommandComplete", () => {
    const frames = encodeResult({ columns: ["x"], tag: "SHOW" });
    expect(frames.length).toBe(2);
    expect(String.fromCharCode(frames[0][0])).toBe("T");
    expect(frames[1]).toEqual(typed("C", cstr("SHOW")));
  });

  test("non-ASCII values are sent as UTF-8 with their byte length", () => {
    const frames = encodeResult({ columns: ["db"], rows: [["café"]], tag: "SHOW" });
    const row = frames[1];
    const v = new DataView(row.buffer, row.byteOffset);
    expect(v.getInt16(5)).toBe(1);
    expect(v.getInt32(7)).toBe(5);
    expect(new TextDecoder().decode(row.subarray(11))).toBe("café");
  });

  const malformed: [string, Parameters<typeof encodeResult>[0], string][] = [
    ["row shorter than columns", { columns: ["a", "b"], rows: [["x"]], tag: "SHOW" }, "row 1 has 1 values for 2 columns"],
    ["row longer than columns", { columns: ["a"], rows: [["x"], ["y", "z"]], tag: "SHOW" }, "row 2 has 2 values for 1 columns"],
    ["rows without columns", { rows: [["x"]], tag: "SHOW" }, "has rows but no columns"],
  ];
  for (const [name, r, fragment] of malformed) {
    test(`${name} is an internal ERROR, not a frame`, () => {
      let caught: unknown;
      try {
        encodeResult(r);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(PgError);
      const e = caught as PgError;
      expect([e.severity, e.code]).toEqual(["ERROR", "XX000"]);
      expect(e.message).toContain(fragment);
    });
  }
});

describe("formatValue", () => {
  const cases: [Parameters<typeof formatValue>[0], string | null][] = [
    [null, null],
    [true, "t"],
    [false, "f"],
    ["", ""],
    ["text", "text"],
    [0, "0"],
    [-17, "-17"],
    [1.5, "1.5"],
    [1e21, "1000000000000000000000"],
    [Number.MAX_SAFE_INTEGER, "9007199254740991"],
    [Number.NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
  ];
  for (const [v, want] of cases) {
    test(`${String(v)} → ${String(want)}`, () => expect(formatValue(v)).toBe(want));
  }
});
