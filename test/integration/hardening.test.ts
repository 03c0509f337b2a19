// Issue 23 item 10: small leaks and protocol gaps. An unknown message type is refused at once;
// admin.users cannot be enumerated before authentication; admin SET of a file-valued key does not
// echo the file; names sent by unauthenticated clients never reach /status, metrics or SHOW POOLS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pg from "pg";
import { cstr, messages, startupMessage, typed } from "../frames.ts";
import { cluster, startGateway, startGatewayFromFile, waitUntil, type RunningGateway } from "./harness.ts";
import { RawClient } from "./raw-client.ts";
import { rawMd5Login } from "./raw-login.ts";

const users = () => cluster().users;

async function loginError(port: number, user: string, password: string, database: string): Promise<{ code?: string; message: string }> {
  const c = new pg.Client({ host: "127.0.0.1", port, user, password, database });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.end();
    return { message: "ok" };
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

describe("an unknown message type after login", () => {
  let g: RunningGateway;
  beforeAll(() => {
    g = startGateway({ auth: { mode: "auth_query" } });
  });
  afterAll(() => g.stop());

  for (const [label, frame] of [
    ["type 'z'", typed("z", cstr("junk"))],
    ["a PasswordMessage", typed("p", cstr("secret"))],
  ] as const) {
    test(`${label}: FATAL 08P01 at once, then the connection closes (as PostgreSQL)`, async () => {
      const c = await rawMd5Login(g.port, "app");
      await c.write(frame);
      expect(await c.waitClosed(2000)).toBe(true);
      const errors = messages(c.bytes).filter((m) => m.type === "E");
      expect(errors.length).toBe(1);
      const text = new TextDecoder().decode(errors[0].body);
      expect(text).toContain("C08P01");
      expect(text).toContain("invalid frontend message type");
    });
  }
});

describe("admin.users membership before authentication", () => {
  test("with admin.password: a user outside admin.users is refused exactly like a wrong password", async () => {
    const g = startGateway({ auth: { mode: "auth_query" }, admin: { users: [users().md5.user], password: "console-pw" } });
    try {
      const outsider = await loginError(g.port, users().scram.user, "console-pw", "pggate");
      const wrong = await loginError(g.port, users().md5.user, "not-it", "pggate");
      expect(wrong.code).toBe("28P01");
      expect(outsider.code).toBe(wrong.code);
      expect(outsider.message).toBe(wrong.message.replace(users().md5.user, users().scram.user));
      expect((await loginError(g.port, users().md5.user, "console-pw", "pggate")).message).toBe("ok");
    } finally {
      await g.stop();
    }
  });

  test("without it: a wrong password is refused as such whether or not the user is an admin; only a proven user learns it is not one", async () => {
    const g = startGateway({ auth: { mode: "auth_query" }, admin: { users: [users().md5.user] } });
    try {
      expect((await loginError(g.port, users().scram.user, "wrong", "pggate")).code).toBe("28P01");
      expect((await loginError(g.port, users().md5.user, "wrong", "pggate")).code).toBe("28P01");
      const proven = await loginError(g.port, users().scram.user, users().scram.password, "pggate");
      expect(proven.code).toBe("28000");
      expect(proven.message).toContain("may not use the PgGate admin console");
    } finally {
      await g.stop();
    }
  });
});

describe("admin SET of a file-valued key", () => {
  test("SET auth.hba = '/etc/passwd' is rejected without quoting the file", async () => {
    const g = startGatewayFromFile({ auth: { mode: "auth_query" }, admin: { users: [users().md5.user] } });
    const c = new pg.Client({ host: "127.0.0.1", port: g.port, user: users().md5.user, password: users().md5.password, database: "pggate" });
    try {
      await c.connect();
      const e = await c.query("SET auth.hba = '/etc/passwd'").then(
        () => null,
        (err: Error & { code?: string }) => err,
      );
      expect(e).not.toBeNull();
      expect(e!.code).toBe("22023");
      expect(e!.message).toContain("not a usable file");
      expect(e!.message).not.toContain("root");
    } finally {
      await c.end().catch(() => {});
      await g.stop();
    }
  });
});

describe("names from clients that have not authenticated", () => {
  test("passthrough: a held login's user and database appear in neither /status, /metrics nor SHOW POOLS", async () => {
    const g = startGatewayFromFile({ auth: { mode: "passthrough" }, metrics: { enabled: true, port: 0 }, admin: { users: [users().md5.user] } });
    const held = await RawClient.connect(g.port);
    try {
      await held.write(startupMessage({ user: "invented_user_x", database: "invented_db_y" }));
      // The relay is in progress: the server has asked for a password.
      expect(await held.waitFor((b) => messages(b).some((m) => m.type === "R"))).toBe(true);
      await waitUntil("the login's pool exists", () => [...g.gateway.ctx.pools.pools.values()].some((p) => p.user === "invented_user_x"));
      const url = g.gateway.metricsUrl;
      expect(await (await fetch(`${url}/status`)).text()).not.toContain("invented_");
      expect(await (await fetch(`${url}/metrics`)).text()).not.toContain("invented_");
      const admin = new pg.Client({ host: "127.0.0.1", port: g.port, user: users().md5.user, password: users().md5.password, database: "pggate" });
      await admin.connect();
      const pools = await admin.query("SHOW POOLS");
      await admin.end();
      expect(JSON.stringify(pools.rows)).not.toContain("invented_");
    } finally {
      held.close();
      await g.stop();
    }
  });
});
