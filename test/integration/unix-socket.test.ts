// Issue 25 item 6: listen.unix_socket_dir, as PgBouncer's unix_socket_dir. psql and pg reach the
// cluster through <dir>/.s.PGSQL.<port>; its clients never use TLS, show as "unix", and auth.hba
// local lines (not host lines) apply to them; a stale socket file is replaced at start, a live one
// refuses the start; the file is gone after shutdown.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { configFromObject } from "../../src/config/index.ts";
import { Gateway } from "../../src/gateway.ts";
import { baseConfig, cluster, freePort, run, scratchPath, type YamlObject } from "./harness.ts";

// Short: a socket path must fit in 107 bytes.
const dirs: string[] = [];
function socketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pggate-sock-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface SocketGateway {
  gateway: Gateway;
  port: number;
  dir: string;
  path: string;
}

async function startWithSocket(overrides: YamlObject = {}, dir = socketDir()): Promise<SocketGateway> {
  const listen = { unix_socket_dir: dir, ...((overrides.listen as YamlObject | undefined) ?? {}) };
  const config = configFromObject(baseConfig({ ...overrides, listen }), { source: scratchPath("pggate.yaml"), env: {} });
  const gateway = new Gateway(config);
  await gateway.start();
  return { gateway, port: gateway.port, dir, path: gateway.unixSocketPath };
}

const nodePorts = (): number[] => [cluster().primary.port, ...cluster().replicas.map((r) => r.port)];

/** psql -Atq with a libpq connection string; { code, out, err }. */
async function psqlConn(conn: string, sql: string, password = ""): Promise<{ code: number; out: string; err: string }> {
  const r = await run(["psql", conn, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql], { PGPASSWORD: password });
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** Sends an SSLRequest over the Unix socket at `path`; the one-byte answer. */
async function sslAnswer(path: string): Promise<string> {
  const request = new Uint8Array(8);
  new DataView(request.buffer).setInt32(0, 8);
  new DataView(request.buffer).setInt32(4, 80877103);
  return new Promise((resolve, reject) => {
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(request);
        },
        data(s, d) {
          resolve(String.fromCharCode(d[0]));
          s.end();
        },
        close() {
          reject(new Error("closed without an answer"));
        },
        error(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

describe("listen.unix_socket_dir", () => {
  test("psql -h <dir> and pg with host=<dir> run queries on the cluster through <dir>/.s.PGSQL.<port>; the file has the configured mode and group; clients show as unix", async () => {
    const u = cluster().users.scram;
    const gw = await startWithSocket({ auth: { mode: "auth_query" }, listen: { unix_socket_mode: "0770", unix_socket_group: "postgres" } });
    try {
      expect(gw.path).toBe(join(gw.dir, `.s.PGSQL.${gw.port}`));
      const st = statSync(gw.path);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o770);
      expect(st.gid).toBe(Number((await run(["getent", "group", "postgres"])).stdout.split(":")[2]));

      const r = await psqlConn(`host=${gw.dir} port=${gw.port} user=${u.user} dbname=app`, "SELECT current_user || ' ' || inet_server_port()", u.password);
      expect(r.err).toBe("");
      const [user, port] = r.out.split(" ");
      expect(user).toBe(u.user);
      expect(nodePorts()).toContain(Number(port));

      const c = new pg.Client({ host: gw.dir, port: gw.port, user: u.user, password: u.password, database: "app" });
      c.on("error", () => {});
      await c.connect();
      try {
        const row = (await c.query("SELECT inet_server_port() AS port, pg_is_in_recovery() AS replica")).rows[0];
        expect(nodePorts()).toContain(row.port);
        // What SHOW CLIENTS and the logs print for it: PgBouncer's "unix", with the listen port.
        const mine = [...gw.gateway.ctx.clients].filter((cl) => cl.state !== "closed");
        expect(mine.map((cl) => [cl.remoteAddress, cl.remotePort, cl.tls])).toEqual([["unix", gw.port, false]]);
      } finally {
        await c.end();
      }
    } finally {
      await gw.gateway.shutdown();
    }
  });

  test("an SSLRequest on the socket is answered N, and listen.tls.mode require does not apply to it; TCP still requires TLS", async () => {
    const u = cluster().users.scram;
    const tls = cluster().tls;
    const gw = await startWithSocket({ auth: { mode: "auth_query" }, listen: { tls: { mode: "require", cert: tls.cert, key: tls.key } } });
    try {
      const viaSocket = `host=${gw.dir} port=${gw.port} user=${u.user} dbname=app`;
      expect((await psqlConn(`${viaSocket} sslmode=disable`, "SELECT 1", u.password)).out).toBe("1");
      // prefer: libpq sends SSLRequest, hears N, carries on in plaintext.
      expect((await psqlConn(`${viaSocket} sslmode=prefer`, "SELECT 2", u.password)).out).toBe("2");
      // libpq never asks for TLS on a Unix socket (sslmode is ignored there); other clients may.
      expect(await sslAnswer(gw.path)).toBe("N");
      const tcpPlain = await psqlConn(`host=127.0.0.1 port=${gw.port} user=${u.user} dbname=app sslmode=disable`, "SELECT 4", u.password);
      expect(tcpPlain.err).toContain("PgGate accepts only TLS connections");
    } finally {
      await gw.gateway.shutdown();
    }
  });

  test("auth.hba: local lines decide for socket clients, host lines for TCP clients", async () => {
    const u = cluster().users.scram;
    const hba = (text: string): string => {
      const path = scratchPath("hba.conf");
      writeFileSync(path, text);
      return path;
    };
    const run2 = async (gw: SocketGateway) => ({
      socket: await psqlConn(`host=${gw.dir} port=${gw.port} user=${u.user} dbname=app`, "SELECT 'in'", u.password),
      tcp: await psqlConn(`host=127.0.0.1 port=${gw.port} user=${u.user} dbname=app sslmode=disable`, "SELECT 'in'", u.password),
    });

    const rejectLocal = await startWithSocket({ auth: { mode: "auth_query", hba: hba("local all all reject\nhost all all 127.0.0.1/32 scram-sha-256\n") } });
    try {
      const r = await run2(rejectLocal);
      expect(r.socket.err).toContain('pg_hba.conf rejects connection for host "[local]"');
      expect(r.tcp.out).toBe("in");
    } finally {
      await rejectLocal.gateway.shutdown();
    }

    // trust on the socket (no password asked), reject over TCP; an empty PGPASSWORD proves trust.
    // (The MD5 role: PgGate can log a trusted client in to the node with its stored MD5 hash.)
    const m = cluster().users.md5;
    const trustLocal = await startWithSocket({ auth: { mode: "auth_query", hba: hba("local all all trust\nhost all all all reject\n") } });
    try {
      const socket = await psqlConn(`host=${trustLocal.dir} port=${trustLocal.port} user=${m.user} dbname=app`, "SELECT 'in'", "");
      expect(socket.err).toBe("");
      expect(socket.out).toBe("in");
      const tcp = await psqlConn(`host=127.0.0.1 port=${trustLocal.port} user=${u.user} dbname=app sslmode=disable`, "SELECT 'in'", u.password);
      expect(tcp.err).toContain('pg_hba.conf rejects connection for host "127.0.0.1"');
    } finally {
      await trustLocal.gateway.shutdown();
    }
  });

  test("the socket file is removed at shutdown", async () => {
    const gw = await startWithSocket();
    expect(existsSync(gw.path)).toBe(true);
    await gw.gateway.shutdown();
    expect(existsSync(gw.path)).toBe(false);
  });

  test("a stale socket file (its process died) is replaced at start", async () => {
    const u = cluster().users.scram;
    const dir = socketDir();
    const port = freePort();
    const path = join(dir, `.s.PGSQL.${port}`);
    // A listener killed with SIGKILL leaves its socket file behind, as a crashed PgGate would.
    const child = Bun.spawn([process.execPath, "-e", `Bun.listen({ unix: ${JSON.stringify(path)}, socket: { data() {} } }); process.kill(process.pid, "SIGKILL");`]);
    await child.exited;
    expect(statSync(path).isSocket()).toBe(true);
    const gw = await startWithSocket({ auth: { mode: "auth_query" }, listen: { port } }, dir);
    try {
      expect(gw.path).toBe(path);
      expect((await psqlConn(`host=${dir} port=${port} user=${u.user} dbname=app`, "SELECT 'replaced'", u.password)).out).toBe("replaced");
    } finally {
      await gw.gateway.shutdown();
    }
    expect(existsSync(path)).toBe(false);
  });

  test("a live socket (something answers a connect) or a file that is no socket refuses the start, and is left alone", async () => {
    const dir = socketDir();
    const port = freePort();
    const path = join(dir, `.s.PGSQL.${port}`);
    const startFails = async (): Promise<string> => {
      const gateway = new Gateway(configFromObject(baseConfig({ listen: { port, unix_socket_dir: dir } }), { source: scratchPath("pggate.yaml"), env: {} }));
      const err = await gateway.start().then(() => null, (e: Error) => e);
      await gateway.shutdown();
      return err?.message ?? "started";
    };
    const live = Bun.listen({ unix: path, socket: { data() {} } });
    try {
      expect(await startFails()).toBe(`another process is listening on the Unix socket ${path} (is another PgGate or a PostgreSQL using this port?)`);
      expect(statSync(path).isSocket()).toBe(true);
    } finally {
      live.stop(true);
    }
    writeFileSync(path, "not a socket");
    expect(await startFails()).toBe(`${path} exists and is not a socket; PgGate will not remove it`);
    expect(statSync(path).isFile()).toBe(true);
  });
});
