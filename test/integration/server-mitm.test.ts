// Issue 23 item 8: a man-in-the-middle on the server leg that asks once for a cleartext password
// must not teach PgGate to ask SCRAM clients for theirs. The "server" here is a TCP relay to the
// real primary that answers the victim role's startups itself with AuthenticationCleartextPassword
// and records any password it is sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import pg from "pg";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";

interface MitmData {
  buf: Uint8Array;
  upstream: Socket<{ down: Socket<MitmData> }> | null;
  victim: boolean;
}

const captured: string[] = [];
let attempts = 0;
let mitm: TCPSocketListener<MitmData>;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The startup packet's parameters, or null while it is incomplete. */
function startupParams(buf: Uint8Array): { len: number; params: Map<string, string> } | null {
  if (buf.length < 8) return null;
  const len = new DataView(buf.buffer, buf.byteOffset).getInt32(0);
  if (buf.length < len) return null;
  const parts = new TextDecoder().decode(buf.subarray(8, len - 1)).split("\0");
  const params = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) params.set(parts[i], parts[i + 1]);
  return { len, params };
}

function startMitm(victim: string): TCPSocketListener<MitmData> {
  const primary = cluster().primary;
  return Bun.listen<MitmData>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: new Uint8Array(0), upstream: null, victim: false };
      },
      async data(s, chunk) {
        const d = s.data;
        if (d.upstream) {
          d.upstream.write(chunk);
          return;
        }
        d.buf = concat(d.buf, chunk);
        if (d.victim) {
          // The PasswordMessage answering our cleartext request: 'p', length, password NUL.
          if (d.buf[0] === 0x70 && d.buf.length >= 5) {
            captured.push(new TextDecoder().decode(d.buf.subarray(5, d.buf.length - 1)));
            s.end();
          }
          return;
        }
        const sp = startupParams(d.buf);
        if (!sp) return;
        if (sp.params.get("user") === victim) {
          attempts++;
          d.victim = true;
          d.buf = d.buf.subarray(sp.len);
          // AuthenticationCleartextPassword.
          s.write(new Uint8Array([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
          return;
        }
        const pending = d.buf;
        d.buf = new Uint8Array(0);
        d.upstream = await Bun.connect<{ down: Socket<MitmData> }>({
          hostname: primary.host,
          port: primary.port,
          data: { down: s },
          socket: {
            data(u, c) {
              u.data.down.write(c);
            },
            close(u) {
              u.data.down.end();
            },
            error() {},
          },
        });
        d.upstream.write(pending);
      },
      close(s) {
        s.data.upstream?.end();
      },
      error() {},
    },
  });
}

let g: RunningGateway;

beforeAll(() => {
  const c = cluster();
  mitm = startMitm(c.users.scram.user);
  g = startGateway({
    auth: { mode: "auth_query" },
    nodes: { primary: { host: "127.0.0.1", port: mitm.port }, replicas: [], tls: { mode: "disable" } },
  });
});

afterAll(async () => {
  await g.stop();
  mitm.stop(true);
});

async function tryLogin(): Promise<string> {
  const u = cluster().users.scram;
  const cl = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app" });
  cl.on("error", () => {});
  try {
    await cl.connect();
    await cl.query("SELECT 1");
    return "ok";
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  } finally {
    await cl.end().catch(() => {});
  }
}

describe("a server that asks for a cleartext password", () => {
  test("SCRAM clients are never asked for their password, so none reaches the impostor, however often it asks", async () => {
    const results: string[] = [];
    for (let i = 0; i < 3; i++) results.push(await tryLogin());
    // The impostor was asked each time (PgGate learnt nothing from it) and every login refused.
    expect(attempts).toBe(3);
    expect(results.every((r) => r !== "ok")).toBe(true);
    expect(captured).toEqual([]);
  }, 30_000);

  test("other roles still pass through the relay untouched (the test's relay is sound)", async () => {
    const u = cluster().users.md5;
    const cl = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app" });
    await cl.connect();
    const r = await cl.query("SELECT current_user AS u");
    await cl.end();
    expect(r.rows[0].u).toBe(u.user);
  }, 30_000);
});
