// Assembles the root filesystem of PgGate's scratch container image: the compiled executable,
// exactly the dynamic loader and libraries it links (read from `ldd`), an /etc/passwd naming
// the non-root user it runs as, and an empty /tmp. The Dockerfile's last stage copies this tree
// into `FROM scratch`; the test suite runs the same tree under chroot.
//   npx bun scripts/rootfs.ts [OUT_DIR] [BINARY]    (defaults: dist/rootfs, dist/pggate)
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The non-root user the image runs as (distroless's "nonroot"). */
export const ROOTFS_UID = 65532;

/** Absolute paths of the shared objects `binary` needs, the loader included (from ldd). */
export function sharedObjects(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) {
    // A statically linked binary has nothing to add.
    if (/not a dynamic executable|statically linked/.test(out + r.stderr.toString())) return [];
    throw new Error(`ldd ${binary} failed: ${r.stderr.toString().trim()}`);
  }
  const paths: string[] = [];
  for (const line of out.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) paths.push(m[1]);
  }
  return paths;
}

export function buildRootfs(out: string, binary: string): void {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(binary, join(out, "pggate"));
  chmodSync(join(out, "pggate"), 0o755);
  for (const so of sharedObjects(binary)) {
    const target = join(out, so);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(so, target); // follows symlinks: the file itself, under the name the binary asks for
  }
  mkdirSync(join(out, "etc/pggate"), { recursive: true });
  writeFileSync(join(out, "etc/passwd"), `root:x:0:0:root:/:/sbin/nologin\nnonroot:x:${ROOTFS_UID}:${ROOTFS_UID}:pggate:/:/sbin/nologin\n`);
  writeFileSync(join(out, "etc/group"), `root:x:0:\nnonroot:x:${ROOTFS_UID}:\n`);
  mkdirSync(join(out, "tmp"), { recursive: true });
  chmodSync(join(out, "tmp"), 0o1777);
}

if (import.meta.main) {
  const out = process.argv[2] ?? "dist/rootfs";
  const binary = process.argv[3] ?? "dist/pggate";
  buildRootfs(out, binary);
  console.log(`rootfs in ${out}: pggate + ${sharedObjects(binary).length} shared objects`);
}
