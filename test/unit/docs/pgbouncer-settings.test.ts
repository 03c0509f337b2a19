// docs/pgbouncer-settings.md is the converter's table as it is (regenerate with
// `npx bun scripts/pgbouncer-settings-doc.ts`).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { settingsDoc } from "../../../scripts/pgbouncer-settings-doc.ts";

test("docs/pgbouncer-settings.md matches the converter's table", () => {
  expect(readFileSync("docs/pgbouncer-settings.md", "utf8")).toBe(settingsDoc());
});
