// The credential-free health check against fake servers: which first answers prove a node accepts
// connections, which do not, and that the probe never sends more than its StartupMessage.
import { afterEach, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { PROBE_USER, startupProbe } from "../../../src/health/startup-probe.ts";
import { cat, cstr, fieldsBody, i32, typed } from "../../frames.ts";

let server: TCPSocketListener<undefined> | null = null;
let received: Uint8Array[] = [];

afterEach(() => {
  server?.stop(true);
  server = null;
  received = [];
});

/** A fake node that answers the first packet it receives with `answer` (null: never answers; "close": hangs up). */
function fakeNode(answer: Uint8Array | null | "close"): number {
  server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s: Socket<undefined>, chunk: Uint8Array) {
        received.push(new Uint8Array(chunk));
        if (answer === "close") s.end();
        else if (answer) s.write(answer);
      },
    },
  });
  return server.port;
}

const probe = (port: number) =>
  startupProbe({ name: "primary", host: "127.0.0.1", port }, { database: "postgres", tls: { mode: "disable", ca: "", serverName: "" }, connectTimeoutMs: 300, maxMessageSize: 1 << 20 });

const error = (code: string, message: string) => typed("E", fieldsBody([["S", "FATAL"], ["C", code], ["M", message]]));
const authSasl = typed("R", i32(10), cstr("SCRAM-SHA-256"), cstr(""));

test.each([
  ["an authentication request (a made-up role gets a mock SCRAM exchange)", authSasl],
  ["an MD5 request", typed("R", i32(5), Uint8Array.of(1, 2, 3, 4))],
  ["AuthenticationOk (trust)", typed("R", i32(0))],
  ["28000 role does not exist / no pg_hba.conf entry", error("28000", 'role "pggate_health_probe" does not exist')],
  ["53300 too many clients", error("53300", "sorry, too many clients already")],
])("alive: %s", async (_, answer) => {
  await probe(fakeNode(answer));
  // Only the StartupMessage went out: no password, not even a Terminate.
  const sent = cat(...received);
  const startup = new DataView(sent.buffer, sent.byteOffset).getInt32(0);
  expect(sent.length).toBe(startup);
  expect(new TextDecoder().decode(sent)).toContain(`user\0${PROBE_USER}\0`);
});

test("57P03 (starting up, shutting down, hot standby off) fails the check", async () => {
  await expect(probe(fakeNode(error("57P03", "the database system is starting up")))).rejects.toThrow("starting up");
});

test("no answer fails within nodes.connect_timeout_ms", async () => {
  const t0 = performance.now();
  await expect(probe(fakeNode(null))).rejects.toThrow("nodes.connect_timeout_ms");
  expect(performance.now() - t0).toBeLessThan(2000);
});

test("a hang-up without an answer fails", async () => {
  await expect(probe(fakeNode("close"))).rejects.toThrow();
});

test("nothing listening fails", async () => {
  const port = fakeNode(null);
  server!.stop(true);
  server = null;
  await expect(probe(port)).rejects.toThrow();
});
