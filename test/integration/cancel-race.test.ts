// Issue 12 item 7: a CancelRequest reaches a server only while the sending client's own query runs
// there. With one pooled connection, client A cancels its own quick queries while client B's
// queries queue behind them; a cancel that lands after the hand-over would cancel B's query.
import { afterAll, beforeAll, expect, test } from "bun:test";
import pg from "pg";
import { cancelRequest } from "../frames.ts";
import { cluster, startGateway, type RunningGateway } from "./harness.ts";

const ITERATIONS = 400;
const QUERY_CANCELED = "57014";

let gw: RunningGateway;

beforeAll(() => {
  gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 1 }, nodes: { replicas: [] } });
});

afterAll(async () => {
  await gw.stop();
});

function client(): pg.Client {
  const u = cluster().users.scram;
  const c = new pg.Client({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "app", query_timeout: 10_000 });
  c.on("error", () => {});
  return c;
}

/** A CancelRequest on a fresh connection to PgGate; resolves when PgGate closes it. */
function sendCancelRequest(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write(cancelRequest(processId, secretKey));
        },
        data() {},
        close: () => resolve(),
        error: () => resolve(),
      },
    }).catch(() => resolve());
  });
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String(e);

test(`a cancel for A's query never cancels B's query on the handed-over connection (${ITERATIONS} rounds, pool of 1)`, async () => {
  const a = client();
  const b = client();
  await a.connect();
  await b.connect();
  const key = a as unknown as { processID: number; secretKey: number };
  const bErrors = new Map<string, number>();
  const cancels: Promise<void>[] = [];
  try {
    for (let i = 0; i < ITERATIONS; i++) {
      // A takes the idle connection; B queues behind it; A's cancel races A's query finishing.
      const qa = a.query("SELECT 1").then(
        () => null,
        (e) => codeOf(e),
      );
      const qb = b.query("SELECT pg_sleep(0.02)").then(
        () => null,
        (e) => codeOf(e),
      );
      cancels.push(sendCancelRequest(gw.port, key.processID, key.secretKey));
      const [ea, eb] = await Promise.all([qa, qb]);
      // A's own query may be cancelled (the signal came in time); anything else is a real failure.
      if (ea !== null && ea !== QUERY_CANCELED) throw new Error(`A's query failed with ${ea}`);
      if (eb !== null) bErrors.set(eb, (bErrors.get(eb) ?? 0) + 1);
    }
    await Promise.all(cancels);
    expect(Object.fromEntries(bErrors)).toEqual({});
    // Not passing by cancelling nothing: A's own long query still gets cancelled.
    const long = a.query("SELECT pg_sleep(10)").then(
      () => null,
      (e) => codeOf(e),
    );
    await Bun.sleep(200);
    await sendCancelRequest(gw.port, key.processID, key.secretKey);
    expect(await long).toBe(QUERY_CANCELED);
  } finally {
    await a.end();
    await b.end();
  }
}, 30_000);
