// refusal() and statementBytes(): which Parse a client may keep, and with which error one is refused.
import { describe, expect, test } from "bun:test";
import { refusal, STATEMENT_OVERHEAD_BYTES, statementBytes } from "../../../src/session/statement-limits.ts";

const room = () => true;
const full = () => false;

describe("refusal", () => {
  test.each([
    // kept count, kept bytes, adding, bytes, caps [count, bytes], budget has room, SQLSTATE or null
    [0, 0, 1, 100, [0, 0], true, null],
    [9, 900, 1, 100, [10, 1000], true, null],
    [10, 900, 1, 100, [10, 0], true, "54000"],
    [10, 900, 0, 100, [10, 0], true, null], // replacing a statement it keeps
    [1, 900, 1, 101, [0, 1000], true, "54000"],
    [1, 900, 1, 100, [0, 1000], false, "53200"],
    [5, 900, 2, 100, [6, 0], true, "54000"], // a batch counted together
    [1_000_000, 1e12, 1, 1, [0, 0], true, null], // 0 = no cap
  ] as const)("kept %d (%d B) + %d (%d B), caps %p, room %p → %p", (count, bytes, adding, more, [maxCount, maxBytes], hasRoom, code) => {
    const e = refusal({ count, bytes }, adding, more, { maxPreparedStatements: maxCount, maxPreparedStatementBytes: maxBytes }, hasRoom ? room : full);
    expect(e?.code ?? null).toBe(code);
    if (e) expect(e.isFatal).toBe(false);
  });

  test("the errors name the setting to change", () => {
    expect(refusal({ count: 3, bytes: 0 }, 1, 1, { maxPreparedStatements: 3, maxPreparedStatementBytes: 0 }, room)?.message).toContain("limits.max_prepared_statements = 3");
    expect(refusal({ count: 0, bytes: 0 }, 1, 10, { maxPreparedStatements: 0, maxPreparedStatementBytes: 5 }, room)?.message).toContain("limits.max_prepared_statement_bytes = 5");
    expect(refusal({ count: 0, bytes: 0 }, 1, 10, { maxPreparedStatements: 0, maxPreparedStatementBytes: 0 }, full)?.message).toContain("limits.max_buffered_bytes");
  });
});

test("statementBytes: the body twice when its text is kept, once when not, plus the overhead and the name", () => {
  expect(statementBytes(3, 100, true)).toBe(STATEMENT_OVERHEAD_BYTES + 3 + 200);
  expect(statementBytes(3, 100, false)).toBe(STATEMENT_OVERHEAD_BYTES + 3 + 100);
});
