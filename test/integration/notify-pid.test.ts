// Issue 24 item 5: a client's own NOTIFY reaches it with the pid PgGate gave it in BackendKeyData
// (drivers compare the two to tell their own notifications from others'); another client's
// notification keeps the notifying backend's pid, which is never the listener's.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { cluster, startGateway } from "./harness.ts";

function client(port: number): pg.Client {
  const u = cluster().users.scram;
  return new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app" });
}

describe("NOTIFY and the pid a client was given", () => {
  test("own NOTIFY carries the client's BackendKeyData pid; another client's carries a different one", async () => {
    const g = startGateway({});
    const listener = client(g.port);
    const other = client(g.port);
    try {
      await listener.connect();
      await other.connect();
      const got: { processId: number; payload?: string }[] = [];
      listener.on("notification", (n) => got.push({ processId: n.processId, payload: n.payload }));
      await listener.query("LISTEN pid_check");
      await listener.query("NOTIFY pid_check, 'mine'");
      await other.query("NOTIFY pid_check, 'theirs'");
      await listener.query("SELECT 1");
      for (let i = 0; i < 50 && got.length < 2; i++) await Bun.sleep(20);
      const own = (listener as unknown as { processID: number }).processID;
      expect(got.find((n) => n.payload === "mine")?.processId).toBe(own);
      const theirs = got.find((n) => n.payload === "theirs");
      expect(theirs).toBeDefined();
      expect(theirs!.processId).not.toBe(own);
    } finally {
      await listener.end();
      await other.end();
      await g.stop();
    }
  });
});
