// Raw-socket logins for integration tests that speak the protocol by hand: an MD5 login of the
// test cluster's md5 user, and a request/ReadyForQuery round trip.
import { expect } from "bun:test";
import { createHash } from "node:crypto";
import { cat, cstr, messages, startupMessage, typed } from "../frames.ts";
import { cluster } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const users = () => cluster().users;

const md5hex = (s: string | Uint8Array): string => createHash("md5").update(s).digest("hex");

/** Logs in with MD5 over a raw socket (the md5 test user), ready for hand-built frames. */
export async function rawMd5Login(port: number, database: string, startup: Record<string, string> = {}): Promise<RawClient> {
  const u = users().md5;
  const c = await RawClient.connect(port);
  await c.write(startupMessage({ user: u.user, database, ...startup }));
  expect(await c.waitFor((b) => messages(b).some((m) => m.type === "R"))).toBe(true);
  const req = messages(c.bytes).find((m) => m.type === "R")!;
  const code = new DataView(req.body.buffer, req.body.byteOffset).getInt32(0);
  expect(code).toBe(5); // AuthenticationMD5Password
  const salt = req.body.subarray(4, 8);
  const inner = md5hex(u.password + u.user);
  const response = "md5" + md5hex(cat(new TextEncoder().encode(inner), salt));
  c.received.length = 0;
  await c.write(typed("p", cstr(response)));
  expect(await c.waitFor((b) => messages(b).some((m) => m.type === "Z"))).toBe(true);
  c.received.length = 0;
  return c;
}

/** Sends frames and waits for the ReadyForQuery that ends them; returns the messages and clears. */
export async function roundTrip(c: RawClient, ...frames: Uint8Array[]): Promise<ReturnType<typeof messages>> {
  await c.write(cat(...frames));
  expect(await c.waitFor((b) => messages(b).some((m) => m.type === "Z"))).toBe(true);
  const out = messages(c.bytes);
  c.received.length = 0;
  return out;
}

