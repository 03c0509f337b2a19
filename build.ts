// `bun run build`: compiles src/main.ts into one executable, dist/pggate. The two
// --no-compile-autoload-* flags stop the binary from reading .env / bunfig.toml from the
// directory it is started in (BUN-NOTES).
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
// The commit `pggate --version` prints; "unknown" outside a git checkout (e.g. a source tarball).
const rev = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { stdout: "pipe", stderr: "ignore" });
const commit = rev.exitCode === 0 ? rev.stdout.toString().trim() : "unknown";
const args = [
  "build",
  "--compile",
  "--define",
  `PGGATE_COMMIT=${JSON.stringify(commit)}`,
  "--minify",
  "--bytecode",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "src/main.ts",
  "--outfile",
  "dist/pggate",
];
const result = Bun.spawnSync([process.execPath, ...args], { stdout: "inherit", stderr: "inherit" });
if (result.exitCode !== 0) {
  console.error(`build failed (exit ${result.exitCode})`);
  process.exit(result.exitCode ?? 1);
}
console.log("built dist/pggate");
