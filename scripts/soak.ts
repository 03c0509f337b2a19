// Soak and memory checks (not part of `npm test`):
//   bun scripts/soak.ts churn [N=20000]   N TLS connections opened, used and closed, 50 at a time;
//                                          PgGate's open fds and RSS before/after.
//   bun scripts/soak.ts idle [N=5000]      N logged-in idle clients held open; RSS per connection.
// Starts its own cluster and PgGate (`bun src/main.ts`), and stops both.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ScramClient } from "../src/auth/scram.ts";
import { startCluster } from "./cluster.ts";

const [mode = "churn", countArg] = process.argv.slice(2);
const count = Number(countArg ?? (mode === "idle" ? 5000 : 20000));

function rssKb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = l.port;
  l.stop(true);
  return p;
}

/** A minimal protocol client: StartupMessage, SCRAM, optional TLS; resolves once ReadyForQuery arrives. */
function login(port: number, user: string, password: string, tls: boolean): Promise<{ query(sql: string): Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    let buf = new Uint8Array(0);
    let scram: ScramClient | null = null;
    let onReady: (() => void) | null = null;
    let ready = false;
    const enc = new TextEncoder();
    const frame = (type: number, body: Uint8Array): Uint8Array => {
      const out = new Uint8Array(body.length + 5);
      out[0] = type;
      new DataView(out.buffer).setInt32(1, body.length + 4);
      out.set(body, 5);
      return out;
    };
    const startup = (): Uint8Array => {
      const body = enc.encode(`user\0${user}\0database\0app\0\0`);
      const out = new Uint8Array(body.length + 8);
      new DataView(out.buffer).setInt32(0, out.length);
      new DataView(out.buffer).setInt32(4, 196608);
      out.set(body, 8);
      return out;
    };
    const handlers = {
      data(s: import("bun").Socket<undefined>, d: Uint8Array) {
        if (tls && !ready && buf.length === 0 && d.length === 1 && d[0] === 0x53) return; // handled in open path
        const merged = new Uint8Array(buf.length + d.length);
        merged.set(buf);
        merged.set(d, buf.length);
        buf = merged;
        while (buf.length >= 5) {
          const len = new DataView(buf.buffer, buf.byteOffset).getInt32(1);
          if (buf.length < len + 1) break;
          const type = buf[0];
          const body = buf.subarray(5, len + 1);
          buf = buf.slice(len + 1);
          if (type === 0x52) {
            const code = new DataView(body.buffer, body.byteOffset).getInt32(0);
            if (code === 10) {
              scram = new ScramClient({ password });
              const first = enc.encode(scram.clientFirst());
              const mech = enc.encode("SCRAM-SHA-256\0");
              const b = new Uint8Array(mech.length + 4 + first.length);
              b.set(mech);
              new DataView(b.buffer).setInt32(mech.length, first.length);
              b.set(first, mech.length + 4);
              s.write(frame(0x70, b));
            } else if (code === 11) s.write(frame(0x70, enc.encode(scram!.handleServerFirst(body.subarray(4)))));
            else if (code === 3) s.write(frame(0x70, enc.encode(password + "\0")));
          } else if (type === 0x45) reject(new Error(new TextDecoder().decode(body)));
          else if (type === 0x5a) {
            if (!ready) {
              ready = true;
              resolve({
                query: (sql) =>
                  new Promise<void>((r) => {
                    onReady = r;
                    s.write(frame(0x51, enc.encode(sql + "\0")));
                  }),
                close: () => {
                  s.write(frame(0x58, new Uint8Array(0)));
                  s.end();
                },
              });
            } else {
              const r = onReady;
              onReady = null;
              r?.();
            }
          }
        }
      },
      error(_s: unknown, e: Error) {
        reject(e);
      },
      close() {},
    };
    if (!tls) {
      Bun.connect({ hostname: "127.0.0.1", port, socket: { ...handlers, open: (s) => void s.write(startup()) } }).catch(reject);
      return;
    }
    // After upgradeTLS the raw socket's handlers still see the ciphertext (BUN-NOTES): ignore it.
    let upgraded = false;
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write(new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]));
        },
        data(s, d) {
          if (upgraded) return;
          upgraded = true;
          if (d[0] !== 0x53) return reject(new Error(`no TLS: ${new TextDecoder().decode(d)}`));
          s.upgradeTLS({ tls: { rejectUnauthorized: false }, socket: { ...handlers, open: (ts: import("bun").Socket<undefined>) => void ts.write(startup()) } as never });
        },
        error(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

const cluster = await startCluster({ replicas: 1 });
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), "pggate-soak-"));
const path = join(dir, "pggate.yaml");
writeFileSync(
  path,
  stringify({
    listen: { host: "127.0.0.1", port, max_client_connections: 100000, tls: { mode: "allow", cert: cluster.tls.cert, key: cluster.tls.key } },
    metrics: { enabled: false },
    nodes: { primary: { host: cluster.primary.host, port: cluster.primary.port }, replicas: cluster.replicas.map((r) => ({ host: r.host, port: r.port })), tls: { mode: "disable" } },
    auth: { mode: "auth_query", auth_user: cluster.authUser.user, auth_password: cluster.authUser.password, auth_query: cluster.authQuery },
    log: { level: "warn" },
  }),
);
const proc = Bun.spawn(["bash", "-c", `ulimit -n $(ulimit -Hn); exec ${process.execPath} run src/main.ts --config ${path}`], { stdout: "inherit", stderr: "inherit" });
try {
  await Bun.sleep(1500);
  const pid = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(" ")[0]) || proc.pid;
  const { user, password } = cluster.users.scram;
  const warm = await login(port, user, password, true);
  await warm.query("SELECT 1");
  warm.close();
  await Bun.sleep(500);
  const before = { rss: rssKb(pid), fds: fds(pid) };
  const started = Date.now();
  if (mode === "churn") {
    // Four quarters: growth that stops after the first quarter is heap warm-up, not a leak.
    console.log(`churn: start fds ${before.fds}, RSS ${(before.rss / 1024).toFixed(1)} MB`);
    for (let quarter = 1; quarter <= 4; quarter++) {
      let done = 0;
      const n = Math.ceil(count / 4);
      const worker = async (): Promise<void> => {
        while (done < n) {
          done++;
          const c = await login(port, user, password, true);
          await c.query("SELECT 1");
          c.close();
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
      await Bun.sleep(1500);
      console.log(`  after ${quarter * n} connections (${((Date.now() - started) / 1000).toFixed(1)} s): fds ${fds(pid)}, RSS ${(rssKb(pid) / 1024).toFixed(1)} MB`);
    }
  } else {
    const held: { close(): void }[] = [];
    for (let i = 0; i < count; i += 100) {
      held.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => login(port, user, password, false)))));
    }
    await Bun.sleep(1000);
    Bun.gc(true);
    const after = rssKb(pid);
    console.log(`idle: ${count} logged-in clients; RSS ${(before.rss / 1024).toFixed(1)} MB -> ${(after / 1024).toFixed(1)} MB = ${((after - before.rss) / count).toFixed(2)} KB per connection`);
    for (const h of held) h.close();
  }
} finally {
  proc.kill("SIGKILL");
  await cluster.stop();
}
