// The README's config reference must be what the schema says (regenerate with
// `bun scripts/readme-config.ts`), and its quick start must name the two command lines CI uses.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { withReference } from "../../../scripts/readme-config.ts";

const readme = readFileSync("README.md", "utf8");

test("README config reference matches the schema", () => {
  expect(readme).toBe(withReference(readme));
});

test("README quick start has the dev and test command lines", () => {
  expect(readme).toContain("npm ci && npm run dev");
  expect(readme).toContain("npm ci && npm test");
});
