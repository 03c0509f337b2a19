// encodeResult against frames built byte by byte with DataView, value formatting, and the shape
// checks that keep a malformed backend result off the wire.

import { describe, expect, test } from "bun:test";
import { encodeResult, formatValue } from "../../../src/admin/index.ts";
import { PgError } from "../../../src/errors/index.ts";

/** Builds one message from a sequence of writes, back-patching the length by hand. */
function handBuilt(type: string, write: (w: { i16(v: number): void; i32(v: number): void; str(s: string): void; raw(s: string): void }) => void): Uint8Array {
  const buf = new Uint8Array(1024);
  const v = new DataView(buf.buffer);
  let off = 0;
  buf[off++] = type.charCodeAt(0);
  off += 4;
  write({
    i16: (x) => {
      v.setInt16(off, x);
      off += 2;
    },
    i32: (x) => {
      v.setInt32(off, x);
      off += 4;
    },
    str: (s) => {
      for (const c of s) buf[off++] = c.charCodeAt(0);
      buf[off++] = 0;
    },
    raw: (s) => {
      for (const c of s) buf[off++] = c.charCodeAt(0);
    },
  });
  v.setInt32(1, off - 1);
  return buf.slice(0, off);
}

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
    const textColumn = (w: { i16(v: number): void; i32(v: number): void; str(s: string): void }, name: string) => {
      w.str(name);
      w.i32(0); // table oid
      w.i16(0); // column attnum
      w.i32(25); // text
      w.i16(-1); // typlen (varlena)
      w.i32(-1); // typmod
      w.i16(0); // text format
    };
    const expected = [
      handBuilt("T", (w) => {
        w.i16(2);
        textColumn(w, "name");
        textColumn(w, "n");
      }),
      handBuilt("D", (w) => {
        w.i16(2);
        w.i32(1);
        w.raw("a");
        w.i32(1);
        w.raw("1");
      }),
      handBuilt("D", (w) => {
        w.i16(2);
        w.i32(-1);
        w.i32(1);
        w.raw("t");
      }),
      handBuilt("C", (w) => w.str("SHOW")),
    ];
    expect(frames).toEqual(expected);
  });

  test("no columns: CommandComplete alone", () => {
    expect(encodeResult({ tag: "RELOAD" })).toEqual([handBuilt("C", (w) => w.str("RELOAD"))]);
  });

  test("columns but no rows: RowDescription and CommandComplete", () => {
    const frames = encodeResult({ columns: ["x"], tag: "SHOW" });
    expect(frames.length).toBe(2);
    expect(String.fromCharCode(frames[0][0])).toBe("T");
    expect(frames[1]).toEqual(handBuilt("C", (w) => w.str("SHOW")));
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
