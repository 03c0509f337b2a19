// Regenerates the config reference table in README.md from the schema (the single source):
// `bun scripts/readme-config.ts`. A unit test fails when the README is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { renderReference } from "../src/config/index.ts";

const START = "<!-- config-reference:start -->";
const END = "<!-- config-reference:end -->";

export function withReference(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error("README.md lacks the config-reference markers");
  return readme.slice(0, a + START.length) + "\n" + renderReference().trimEnd() + "\n" + readme.slice(b);
}

if (import.meta.main) {
  writeFileSync("README.md", withReference(readFileSync("README.md", "utf8")));
  console.log("README.md config reference updated");
}
