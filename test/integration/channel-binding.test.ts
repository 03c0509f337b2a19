// Issue 24 item 6: a client that supports channel binding but was not offered it (gs2 flag 'y',
// node-postgres enableChannelBinding without TLS) logs in as it does directly: PostgreSQL accepts
// the flag on a connection without TLS. Through a passthrough relay whose server leg uses TLS the
// server would refuse it as a downgrade, so PgGate relays it over a connection without TLS where
// nodes.tls.mode prefer allows one.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway } from "./harness.ts";

async function loginWithBindingFlag(port: number): Promise<string> {
  const u = cluster().users.scram;
  const c = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", enableChannelBinding: true } as pg.ClientConfig);
  c.on("error", () => {});
  try {
    await c.connect();
    return (await c.query("SELECT current_user AS u")).rows[0].u as string;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
}

describe("SCRAM gs2 flag 'y' from a client without TLS", () => {
  test("direct to PostgreSQL (the oracle): accepted", async () => {
    expect(await loginWithBindingFlag(cluster().primary.port)).toBe(cluster().users.scram.user);
  });

  for (const mode of ["passthrough", "auth_query"] as const) {
    test(`${mode}, nodes.tls.mode prefer (the server leg uses TLS): accepted`, async () => {
      const g = startGateway({ auth: { mode }, nodes: { tls: { mode: "prefer" } } });
      try {
        expect(await loginWithBindingFlag(g.port)).toBe(cluster().users.scram.user);
      } finally {
        await g.stop();
      }
    });
  }

  test("passthrough, nodes.tls.mode require: refused with a message that says what happened", async () => {
    const g = startGateway({ auth: { mode: "passthrough" }, nodes: { tls: { mode: "require" } } });
    try {
      const r = await loginWithBindingFlag(g.port);
      expect(r).toContain("error");
      expect(r).not.toContain("the client uses TLS");
    } finally {
      await g.stop();
    }
  });
});
