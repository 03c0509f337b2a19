// Opens N client connections that complete a full login (StartupMessage, cleartext / MD5 /
// SCRAM-SHA-256, ReadyForQuery) and then stay idle until this process is terminated. Run as its
// own process by the memory scenario: `bun scripts/bench/idle-clients.ts PORT USER PASSWORD DB N`.
// Prints one JSON line when every connection is either logged in or failed.

import { createHash } from "node:crypto";
import type { Socket } from "bun";
import { ScramClient } from "../../src/auth/scram.ts";

const [portArg, user, password, database, countArg, concurrencyArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const concurrency = Number(concurrencyArg ?? 200);
if (!port || !user || !database || !count) {
  console.error("usage: bun scripts/bench/idle-clients.ts PORT USER PASSWORD DB N [CONCURRENCY]");
  process.exit(2);
}

const utf8 = new TextEncoder();

function frame(type: string | null, body: Uint8Array): Uint8Array {
  const head = type === null ? 0 : 1;
  const out = new Uint8Array(head + 4 + body.length);
  if (type !== null) out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(head, 4 + body.length);
  out.set(body, head + 4);
  return out;
}

function cstrings(...parts: string[]): Uint8Array {
  return utf8.encode(parts.map((p) => `${p}\0`).join(""));
}

function startupMessage(): Uint8Array {
  const params = cstrings("user", user, "database", database, "application_name", "pggate-bench-idle");
  const body = new Uint8Array(4 + params.length + 1);
  new DataView(body.buffer).setInt32(0, 196608); // protocol 3.0
  body.set(params, 4);
  return frame(null, body);
}

const md5hex = (s: string | Uint8Array) => createHash("md5").update(s).digest("hex");

interface ConnState {
  buf: Uint8Array;
  scram: ScramClient | null;
  done: boolean;
}

let ok = 0;
let failed = 0;
let started = 0;
const errors = new Map<string, number>();
const sockets: Socket<ConnState>[] = [];
const t0 = performance.now();

function finish(s: Socket<ConnState>, error: string | null): void {
  if (s.data.done) return;
  s.data.done = true;
  s.data.buf = new Uint8Array(0);
  s.data.scram = null;
  if (error === null) ok++;
  else {
    failed++;
    errors.set(error, (errors.get(error) ?? 0) + 1);
    s.end();
  }
  launch();
  if (ok + failed === count) {
    console.log(JSON.stringify({ event: "done", ok, failed, ms: Math.round(performance.now() - t0), errors: Object.fromEntries(errors) }));
  }
}

function errorText(body: Uint8Array): string {
  // ErrorResponse fields: code byte + cstring, ...; keep the SQLSTATE (C) and message (M).
  let code = "";
  let msg = "";
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const t = String.fromCharCode(body[i]);
    const end = body.indexOf(0, i + 1);
    const v = new TextDecoder().decode(body.subarray(i + 1, end));
    if (t === "C") code = v;
    if (t === "M") msg = v;
    i = end + 1;
  }
  return `${code} ${msg}`;
}

function onMessage(s: Socket<ConnState>, type: number, body: Uint8Array): void {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (String.fromCharCode(type)) {
    case "R": {
      const code = dv.getInt32(0);
      if (code === 0) return; // AuthenticationOk
      if (code === 3) s.write(frame("p", cstrings(password)));
      else if (code === 5) {
        const salt = body.subarray(4, 8);
        const inner = md5hex(password + user);
        const outer = md5hex(new Uint8Array([...utf8.encode(inner), ...salt]));
        s.write(frame("p", cstrings(`md5${outer}`)));
      } else if (code === 10) {
        s.data.scram = new ScramClient({ password });
        const first = utf8.encode(s.data.scram.clientFirst());
        const mech = cstrings("SCRAM-SHA-256");
        const msg = new Uint8Array(mech.length + 4 + first.length);
        msg.set(mech, 0);
        new DataView(msg.buffer).setInt32(mech.length, first.length);
        msg.set(first, mech.length + 4);
        s.write(frame("p", msg));
      } else if (code === 11) {
        const reply = (s.data.scram as ScramClient).handleServerFirst(body.subarray(4));
        s.write(frame("p", utf8.encode(reply)));
      } else if (code === 12) {
        (s.data.scram as ScramClient).verifyServerFinal(body.subarray(4));
      } else finish(s, `unsupported authentication request ${code}`);
      return;
    }
    case "E":
      finish(s, errorText(body));
      return;
    case "Z":
      finish(s, null);
      return;
    default:
      return; // ParameterStatus, BackendKeyData, NoticeResponse
  }
}

function launch(): void {
  while (started < count && started - ok - failed < concurrency) {
    started++;
    Bun.connect<ConnState>({
      hostname: "127.0.0.1",
      port,
      data: { buf: new Uint8Array(0), scram: null, done: false },
      socket: {
        open(s) {
          sockets.push(s);
          s.write(startupMessage());
        },
        data(s, chunk) {
          if (s.data.done) return;
          let buf = s.data.buf.length === 0 ? new Uint8Array(chunk) : new Uint8Array([...s.data.buf, ...chunk]);
          try {
            while (buf.length >= 5) {
              const len = new DataView(buf.buffer, buf.byteOffset).getInt32(1);
              if (buf.length < 1 + len) break;
              onMessage(s, buf[0], buf.subarray(5, 1 + len));
              buf = buf.subarray(1 + len);
              if (s.data.done) return;
            }
          } catch (e) {
            finish(s, (e as Error).message);
            return;
          }
          s.data.buf = buf;
        },
        close(s) {
          finish(s, "connection closed during login");
        },
        error(s, e) {
          finish(s, e.message);
        },
      },
    }).catch((e: Error) => {
      failed++;
      errors.set(`connect: ${e.message}`, (errors.get(`connect: ${e.message}`) ?? 0) + 1);
      launch();
    });
  }
}

process.on("SIGTERM", () => {
  for (const s of sockets) s.end();
  process.exit(0);
});
launch();
// Stay alive (idle) until SIGTERM.
setInterval(() => {}, 1 << 30);
