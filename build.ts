// `bun run build`: compiles src/main.ts into one executable, dist/pggate. The two
// --no-compile-autoload-* flags stop the binary from reading .env / bunfig.toml from the
// directory it is started in (BUN-NOTES).
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const args = [
  "build",
  "--compile",
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
