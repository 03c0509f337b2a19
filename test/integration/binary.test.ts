// The shipped artifacts: `bun run build` → dist/pggate (version, check, serving with a config
// file, a 500 MB result streamed in bounded memory) and `npm run dev` serving a working URL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { cluster, freePort, psql, run, scratchPath, waitForPort, writeConfig } from "./harness.ts";
import { ROOTFS_UID } from "../../scripts/rootfs.ts";

const BINARY = "dist/pggate";

/** Peak resident set size (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = status.match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

describe("dist/pggate", () => {
  let proc: Subprocess | null = null;
  let port = 0;

  beforeAll(async () => {
    const build = await run([process.execPath, "run", "build"], {}, 120_000);
    expect(build.code).toBe(0);
    port = freePort();
    const config = writeConfig({ listen: { host: "127.0.0.1", port }, log: { level: "info" } });
    proc = Bun.spawn([BINARY, "--config", config], { stdout: "ignore", stderr: "pipe" });
    await waitForPort(port);
  }, 120_000);

  afterAll(async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
  });

  test("--version and check", async () => {
    const v = await run([BINARY, "--version"]);
    expect(v.stdout.trim()).toMatch(/^pggate \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown), bun \d+\.\d+\.\d+\)$/);
    const help = await run([BINARY, "--help"]);
    for (const word of ["check FILE", "PGGATE_CONFIG", "PGGATE_<SECTION>__<KEY>", "SIGHUP", "Exit codes"]) expect(help.stdout).toContain(word);
    // PgBouncer users type the file positionally.
    expect((await run([BINARY, "check", writeConfig()])).code).toBe(0);
    // The files the config names are checked too (here an hba rule PgGate cannot apply).
    const hba = scratchPath("check.hba");
    writeFileSync(hba, "host all all 0.0.0.0/0 peer\n");
    const badHba = await run([BINARY, "check", writeConfig({ auth: { hba } })]);
    expect(badHba.code).toBe(1);
    expect(badHba.stderr).toContain('line 1: authentication method "peer" is not supported by PgGate');
    // Keys from the environment, as in a container.
    const fromEnv = await run([BINARY, "check", writeConfig()], { PGGATE_POOL__SIZE: "zero" });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain('pool.size: must be an integer between 1 and 10000, got "zero" (from PGGATE_POOL__SIZE)');
    const bad = await run([BINARY, "check", "--config", writeConfig({ pool: { mode: "trasaction" } })]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('pool.mode: "trasaction" is not one of transaction, session');
    const good = await run([BINARY, "check", "--config", writeConfig()]);
    expect(good.code).toBe(0);
  });

  test("serves queries with --config FILE", async () => {
    expect(await psql(port, cluster().users.md5, "SELECT 'from the binary'")).toBe("from the binary");
  });

  test("a 500 MB result streams through with PgGate's RSS under 150 MB", async () => {
    const u = cluster().users.scram;
    // COPY TO STDOUT streams in psql too, so only PgGate's buffering is measured.
    const sql = "COPY (SELECT repeat('x', 1000) FROM generate_series(1, 500000)) TO STDOUT";
    const p = Bun.spawn(["psql", `host=127.0.0.1 port=${port} user=${u.user} dbname=app sslmode=disable`, "-Atq", "-c", sql], {
      env: { ...process.env, PGPASSWORD: u.password },
      stdout: "pipe",
      stderr: "pipe",
    });
    let bytes = 0;
    for await (const chunk of p.stdout) bytes += chunk.length;
    expect(await p.exited).toBe(0);
    expect(bytes).toBe(500000 * 1001);
    const rss = peakRssMb(proc!.pid);
    console.log(`500 MB result: PgGate peak RSS ${rss.toFixed(1)} MB`);
    expect(rss).toBeLessThan(150);
  }, 120_000);

  test("SIGTERM shuts down cleanly with exit code 0", async () => {
    const p = proc!;
    proc = null;
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    const stderr = await new Response(p.stderr as ReadableStream).text();
    expect(stderr).toContain("event=shutdown_complete");
  });
});

describe("the scratch container's root filesystem", () => {
  test("scripts/rootfs.ts: the executable, its loader and libraries only; it serves select 1 under chroot as a non-root UID, configured by file and environment", async () => {
    // dist/pggate was built by the describe above.
    const root = scratchPath("rootfs");
    const built = await run([process.execPath, "run", "scripts/rootfs.ts", root, BINARY]);
    expect(built.code).toBe(0);
    const files = (await run(["find", root, "-type", "f"])).stdout.split("\n").filter(Boolean).map((f) => f.slice(root.length)).sort();
    expect(files).toContain("/pggate");
    expect(files.filter((f) => f.startsWith("/lib") || f.startsWith("/usr/lib")).length).toBeGreaterThan(0);
    expect(files.every((f) => f === "/pggate" || f.startsWith("/etc/") || /\/lib[^/]*\/|\.so/.test(f))).toBe(true);
    const port = freePort();
    writeFileSync(`${root}/etc/pggate/pggate.yaml`, readFileSync(writeConfig({ listen: { host: "0.0.0.0", port: 1 } }), "utf8"));
    mkdirSync(`${root}/proc`, { recursive: true });
    // A container runtime mounts /proc (Bun's executable reads itself through /proc/self/exe).
    const proc = Bun.spawn(
      ["unshare", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "sh", "-c", `mount -t proc proc ${root}/proc && exec chroot --userspec=${ROOTFS_UID}:${ROOTFS_UID} ${root} /pggate --config /etc/pggate/pggate.yaml`],
      { env: { ...process.env, PGGATE_LISTEN__PORT: String(port) }, stdout: "ignore", stderr: "pipe" },
    );
    try {
      await waitForPort(port, 20_000).catch(async (e: Error) => {
        proc.kill("SIGKILL");
        throw new Error(`${e.message}; stderr: ${await new Response(proc.stderr as ReadableStream).text()}`);
      });
      expect(await psql(port, cluster().users.md5, "SELECT 1")).toBe("1");
      const uids = (await run(["ps", "-o", "uid=", "-C", "pggate"])).stdout.split("\n").map((l) => l.trim()).filter(Boolean);
      expect(uids).toContain(String(ROOTFS_UID));
    } finally {
      // (--kill-child takes PgGate down with unshare.)
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 60_000);
});

/** The final stage of the Dockerfile: ENV pairs, USER, ENTRYPOINT and CMD (exec form) as written. */
function dockerfileRuntime(): { env: Record<string, string>; user: string; argv: string[] } {
  const text = readFileSync("Dockerfile", "utf8").replace(/\\\n\s*/g, " ");
  const stage = text.slice(text.lastIndexOf("\nFROM "));
  const env: Record<string, string> = {};
  for (const line of stage.split("\n").filter((l) => l.startsWith("ENV "))) {
    for (const m of line.slice(4).matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, "");
  }
  const user = /^USER (\S+)/m.exec(stage)?.[1] ?? "0:0";
  const exec = (kw: string): string[] => {
    const m = new RegExp(`^${kw} (\\[.*\\])`, "m").exec(stage);
    return m ? (JSON.parse(m[1]) as string[]) : [];
  };
  return { env, user, argv: [...exec("ENTRYPOINT"), ...exec("CMD")] };
}

describe("the container image run with environment variables only", () => {
  test("the Dockerfile's exact ENTRYPOINT + CMD, ENV and USER under chroot, no config file: serves, reads reach a replica, RELOAD and admin SET work", async () => {
    const root = scratchPath("rootfs-env");
    expect((await run([process.execPath, "run", "scripts/rootfs.ts", root, BINARY])).code).toBe(0);
    mkdirSync(`${root}/proc`, { recursive: true });
    const image = dockerfileRuntime();
    expect(image.argv[0]).toBe("/pggate");
    const c = cluster();
    const port = freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      ...image.env,
      PGGATE_LISTEN__PORT: String(port),
      PGGATE_METRICS__ENABLED: "false",
      PGGATE_NODES__PRIMARY: `{host: 127.0.0.1, port: ${c.primary.port}}`,
      PGGATE_NODES__REPLICAS: JSON.stringify(c.replicas.map((r) => ({ host: "127.0.0.1", port: r.port }))),
      PGGATE_NODES__TLS__MODE: "disable",
      PGGATE_AUTH__AUTH_USER: c.authUser.user,
      PGGATE_AUTH_PASSWORD: c.authUser.password,
      PGGATE_AUTH__AUTH_QUERY: c.authQuery,
      PGGATE_AUTH__AUTH_DATABASE: "postgres",
      PGGATE_ADMIN__USERS: `[${c.users.md5.user}]`,
    };
    const quoted = image.argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const proc = Bun.spawn(
      ["unshare", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "sh", "-c", `mount -t proc proc ${root}/proc && exec chroot --userspec=${image.user} ${root} ${quoted}`],
      { env, stdout: "ignore", stderr: "pipe" },
    );
    try {
      await waitForPort(port, 20_000).catch(async (e: Error) => {
        proc.kill("SIGKILL");
        throw new Error(`${e.message}; stderr: ${await new Response(proc.stderr as ReadableStream).text()}`);
      });
      expect(await psql(port, c.users.md5, "SELECT 1")).toBe("1");
      const replicaPorts = c.replicas.map((r) => String(r.port));
      expect(replicaPorts).toContain(await psql(port, c.users.md5, "SELECT inet_server_port()"));
      expect(await psql(port, c.users.md5, "RELOAD", { db: "pggate" })).toBe("");
      await psql(port, c.users.md5, "SET pool.size = 7", { db: "pggate" });
      expect(await psql(port, c.users.md5, "SHOW CONFIG", { db: "pggate" })).toMatch(/pool\.size\|7\|/);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 60_000);
});

test("npm run dev prints a URL that psql can use, and Ctrl-C cleans up", async () => {
  const dev = Bun.spawn([process.execPath, "run", "scripts/dev.ts"], { stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reader = dev.stdout.getReader();
  const deadline = Date.now() + 60_000;
  let url = "";
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
    const m = out.match(/psql "(postgresql:\/\/[^"]+)"/);
    if (m) {
      url = m[1];
      break;
    }
  }
  expect(url).not.toBe("");
  const r = await run(["psql", url, "-Atc", "SELECT current_user"]);
  expect(r.stdout.trim()).toBe("pggate_scram");
  // The demo it prints: a SELECT answers with the replica's port, the INSERT with the primary's.
  const ports = out.match(/primary :(\d+), replica :(\d+)/)!;
  const read = await run(["psql", url, "-Atc", "select inet_server_port()"]);
  expect(read.stdout.trim()).toBe(ports[2]);
  const write = await run(["psql", url, "-Atc", "insert into demo (note) values ('hi') returning inet_server_port()"]);
  expect(write.stdout.trim().split("\n")[0]).toBe(ports[1]);
  const metricsUrl = out.match(/metrics: +(\S+)/)![1];
  const metrics = await (await fetch(metricsUrl)).text();
  expect(metrics).toMatch(/pggate_queries_total\{[^}]*route="replica"[^}]*\} [1-9]/);
  const admin = out.match(/admin console: psql "([^"]+)"/)![1];
  expect((await run(["psql", admin, "-Atc", "show version"])).code).toBe(0);
  const dir = out.match(/throwaway cluster/) ? true : false;
  expect(dir).toBe(true);
  dev.kill("SIGINT");
  expect(await dev.exited).toBe(0);
}, 90_000);
