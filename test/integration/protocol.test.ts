// Issue 2 acceptance: TLS toward clients, cancel, COPY both ways, notifications, mid-session
// ParameterStatus, FunctionCall, pipelining drivers, and every bad input answered precisely.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import pg from "pg";
import postgres from "postgres";
import { cancelRequest, sqlstateIn, startupMessage } from "../frames.ts";
import { cluster, connString, psql, run, scratchPath, startGateway, startGatewayFromFile, type RunningGateway } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const scram = () => cluster().users.scram;

function pgClient(port: number, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const u = scram();
  return new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", ...extra });
}

/** The subject of the certificate PgGate presents (openssl s_client speaks the PostgreSQL STARTTLS). */
async function servedSubject(port: number): Promise<string> {
  const r = await run(["sh", "-c", `openssl s_client -starttls postgres -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -subject`]);
  return r.stdout.trim();
}

describe("TLS toward clients", () => {
  test("SIGHUP re-reads the certificate: new connections get the rotated one; a broken pair is refused and the old one stays", async () => {
    const c = cluster();
    const dir = scratchPath("rotate");
    const cert = `${dir}.crt`;
    const key = `${dir}.key`;
    writeFileSync(cert, readFileSync(c.tls.cert));
    writeFileSync(key, readFileSync(c.tls.key));
    const gw = startGatewayFromFile({ listen: { tls: { mode: "allow", cert, key } } });
    try {
      expect(await servedSubject(gw.port)).toBe("subject=CN = localhost");
      const made = await run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=rotated", "-days", "30", "-keyout", key, "-out", cert]);
      expect(made.code).toBe(0);
      expect(gw.gateway.reload()).toBe(true);
      expect(await servedSubject(gw.port)).toBe("subject=CN = rotated");
      expect(await psql(gw.port, scram(), "SELECT 'still in'", { extra: "sslmode=require" })).toBe("still in");
      writeFileSync(key, "not a key\n");
      expect(gw.gateway.reload()).toBe(false);
      expect(await servedSubject(gw.port)).toBe("subject=CN = rotated");
    } finally {
      await gw.stop();
    }
  });

  for (const mode of ["allow", "require"] as const) {
    test(`listen.tls.mode ${mode}: psql sslmode=require works and uses TLS`, async () => {
      const c = cluster();
      const gw = startGateway({ listen: { tls: { mode, cert: c.tls.cert, key: c.tls.key } } });
      try {
        const out = await psql(gw.port, scram(), "SELECT 'over tls'", { extra: "sslmode=require" });
        expect(out).toBe("over tls");
        const verified = await psql(gw.port, scram(), "SELECT 1", { extra: `sslmode=verify-full sslrootcert=${c.tls.ca} host=localhost` });
        expect(verified).toBe("1");
        if (mode === "require") {
          const plain = await run(["psql", connString(gw.port, scram().user), "-c", "SELECT 1"], { PGPASSWORD: scram().password });
          expect(plain.code).not.toBe(0);
          expect(plain.stderr).toContain("PgGate accepts only TLS connections");
        } else {
          expect(await psql(gw.port, scram(), "SELECT 'plain ok'")).toBe("plain ok");
        }
      } finally {
        await gw.stop();
      }
    });
  }

  test("disable: SSLRequest is answered N and psql sslmode=prefer falls back", async () => {
    const gw = startGateway();
    try {
      expect(await psql(gw.port, scram(), "SELECT 2", { extra: "sslmode=prefer" })).toBe("2");
      const r = await run(["psql", connString(gw.port, scram().user, "app", "sslmode=require"), "-c", "SELECT 1"], { PGPASSWORD: scram().password });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("server does not support SSL");
    } finally {
      await gw.stop();
    }
  });

  test("server leg: nodes.tls.mode verify-full with the cluster CA", async () => {
    const c = cluster();
    const gw = startGateway({ nodes: { tls: { mode: "verify-full", ca: c.tls.ca } } });
    try {
      expect(await psql(gw.port, scram(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toBe("t");
    } finally {
      await gw.stop();
    }
  });
});

describe("forwarding", () => {
  let gw: RunningGateway;
  beforeAll(() => {
    gw = startGateway();
  });
  afterAll(async () => {
    await gw.stop();
  });

  test("psql Ctrl-C (CancelRequest) stops pg_sleep(30) within a second or two", async () => {
    const u = scram();
    const proc = Bun.spawn(["psql", connString(gw.port, u.user), "-c", "SELECT pg_sleep(30)"], {
      env: { ...process.env, PGPASSWORD: u.password },
      stderr: "pipe",
      stdout: "pipe",
    });
    await Bun.sleep(800);
    const sent = Date.now();
    proc.kill("SIGINT");
    const code = await proc.exited;
    const elapsed = Date.now() - sent;
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain("canceling statement due to user request");
    expect(code).not.toBe(0);
    expect(elapsed).toBeLessThan(5000);
  });

  test("a CancelRequest with a wrong key cancels nothing", async () => {
    const client = pgClient(gw.port);
    await client.connect();
    try {
      const query = client.query("SELECT pg_sleep(0.5) AS slept");
      await Bun.sleep(100);
      await RawClient.exchange(gw.port, [cancelRequest(1, 2)], 200);
      const res = await query;
      expect(res.rows[0].slept).toBe("");
    } finally {
      await client.end();
    }
  });

  test("COPY FROM STDIN of 5,000 rows and COPY TO STDOUT round-trip intact", async () => {
    const input = scratchPath("in.tsv");
    const output = scratchPath("out.tsv");
    const lines: string[] = [];
    for (let i = 1; i <= 5000; i++) lines.push(`${i}\trow ${i} with tab\\tand unicode é ✓`);
    writeFileSync(input, lines.join("\n") + "\n");
    await psql(gw.port, scram(), "DROP TABLE IF EXISTS copy_rt; CREATE TABLE copy_rt (id int, t text)");
    const u = scram();
    const load = await run(["psql", connString(gw.port, u.user), "-v", "ON_ERROR_STOP=1", "-c", `\\copy copy_rt FROM '${input}'`], { PGPASSWORD: u.password });
    expect(load.stderr).toBe("");
    expect(load.stdout.trim()).toBe("COPY 5000");
    const dump = await run(["psql", connString(gw.port, u.user), "-v", "ON_ERROR_STOP=1", "-c", `\\copy (SELECT * FROM copy_rt ORDER BY id) TO '${output}'`], { PGPASSWORD: u.password });
    expect(dump.stdout.trim()).toBe("COPY 5000");
    expect(readFileSync(output, "utf8")).toBe(readFileSync(input, "utf8"));
  });

  test("COPY FROM STDIN failing mid-way (CopyFail / bad row) leaves the session usable", async () => {
    const client = pgClient(gw.port);
    await client.connect();
    try {
      await client.query("CREATE TEMP TABLE cf (id int)");
      const err = await client.query("COPY cf FROM STDIN").catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((await client.query("SELECT 41 + 1 AS x")).rows[0].x).toBe(42);
    } finally {
      await client.end();
    }
  });

  test("multi-statement simple query returns every result", async () => {
    expect(await psql(gw.port, scram(), "SELECT 1; SELECT 2; SELECT 'three'")).toBe("1\n2\nthree");
  });

  test("LISTEN/NOTIFY between two clients, notices, and ParameterStatus changes reach the client", async () => {
    const a = pgClient(gw.port);
    const b = pgClient(gw.port);
    await a.connect();
    await b.connect();
    try {
      const got = new Promise<string>((resolve) => a.on("notification", (n) => resolve(`${n.channel}:${n.payload}`)));
      await a.query("LISTEN pggate_chan");
      await b.query("NOTIFY pggate_chan, 'hello'");
      expect(await got).toBe("pggate_chan:hello");

      const notice = new Promise<string>((resolve) => a.on("notice", (n) => resolve(n.message ?? "")));
      await a.query("DO $$ BEGIN RAISE NOTICE 'noticed %', 42; END $$");
      expect(await notice).toBe("noticed 42");

      await a.query("SET application_name = 'changed_mid_session'");
      const conn = a as unknown as { connection: { on(ev: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } };
      const status = new Promise<string>((resolve) =>
        conn.connection.on("parameterStatus", (m) => {
          if (m.parameterName === "application_name") resolve(m.parameterValue);
        }),
      );
      await a.query("SET application_name = 'changed_again'");
      expect(await status).toBe("changed_again");
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("FunctionCall (libpq large-object fast path via \\lo_import / \\lo_export)", async () => {
    const src = scratchPath("blob.bin");
    const dst = scratchPath("back.bin");
    const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
    writeFileSync(src, data);
    const u = scram();
    const imp = await run(["psql", connString(gw.port, u.user), "-v", "ON_ERROR_STOP=1", "-c", `\\lo_import '${src}'`], { PGPASSWORD: u.password });
    expect(imp.code).toBe(0);
    const oid = imp.stdout.trim().split(" ").pop();
    const exp = await run(["psql", connString(gw.port, u.user), "-v", "ON_ERROR_STOP=1", "-c", `\\lo_export ${oid} '${dst}'`], { PGPASSWORD: u.password });
    expect(exp.code).toBe(0);
    expect(new Uint8Array(readFileSync(dst))).toEqual(data);
    await psql(gw.port, u, `SELECT lo_unlink(${oid})`);
  });

  test("node-postgres: extended protocol, parameters, named statements, errors then recovery", async () => {
    const client = pgClient(gw.port);
    await client.connect();
    try {
      const r = await client.query({ name: "add", text: "SELECT $1::int + $2::int AS sum", values: [2, 3] });
      expect(r.rows[0].sum).toBe(5);
      const again = await client.query({ name: "add", text: "SELECT $1::int + $2::int AS sum", values: [10, 20] });
      expect(again.rows[0].sum).toBe(30);
      const err = await client.query("SELECT 1/0").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("22012");
      await client.query("BEGIN");
      await client.query("SELECT nonexistent_column FROM pg_class").catch(() => null);
      const aborted = await client.query("SELECT 1").catch((e: pg.DatabaseError) => e);
      expect((aborted as pg.DatabaseError).code).toBe("25P02");
      await client.query("ROLLBACK");
      expect((await client.query("SELECT 'ok' AS s")).rows[0].s).toBe("ok");
    } finally {
      await client.end();
    }
  });

  test("postgres.js: pipelined queries and prepared statements", async () => {
    const u = scram();
    const sql = postgres({ host: "127.0.0.1", port: gw.port, user: u.user, password: u.password, database: "app", max: 1, onnotice: () => {} });
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sql`SELECT ${i}::int AS i, inet_server_port() AS port`));
      expect(results.map((r) => r[0].i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const [row] = await sql`SELECT current_user AS u`;
      expect(row.u).toBe(u.user);
      await sql.begin(async (tx) => {
        await tx`CREATE TEMP TABLE pj (x int)`;
        await tx`INSERT INTO pj VALUES (1), (2)`;
        const [{ n }] = await tx`SELECT count(*)::int AS n FROM pj`;
        expect(n).toBe(2);
      });
    } finally {
      await sql.end();
    }
  });
});

describe("bad input gets a precise error and loses nothing", () => {
  let gw: RunningGateway;
  beforeAll(() => {
    gw = startGateway({ listen: { max_message_size: 65536, handshake_timeout_ms: 700 } });
  });
  afterAll(async () => {
    await gw.stop();
  });

  test("garbage instead of a startup packet: closed without a reply, as PostgreSQL does", async () => {
    const r = await RawClient.exchange(gw.port, [new Uint8Array([0, 0, 0, 2, 1, 2, 3, 4])]);
    expect(r.bytes.length).toBe(0);
    expect(r.closed).toBe(true);
  });

  test("Terminate before the StartupMessage (node-postgres connect() then end()): closed silently", async () => {
    const r = await RawClient.exchange(gw.port, [new Uint8Array([0x58, 0, 0, 0, 4])]);
    expect(r.bytes.length).toBe(0);
    expect(r.closed).toBe(true);
  });

  test("unsupported protocol major version: 08P01", async () => {
    const r = await RawClient.exchange(gw.port, [new Uint8Array([0, 0, 0, 8, 0, 2, 0, 0])]);
    expect(sqlstateIn(r.bytes)).toBe("08P01");
  });

  test("a message with length < 4 after login: 08P01 and close; other clients unaffected", async () => {
    const client = pgClient(gw.port);
    await client.connect();
    const raw = await RawClient.connect(gw.port);
    await raw.write(startupMessage({ user: scram().user, database: "app" }));
    expect(await raw.waitFor((b) => b.length > 0, 15_000)).toBe(true);
    raw.close();
    expect(raw.bytes[0]).toBe(0x52); // an auth request: the startup was accepted
    // A logged-in session sending a broken frame: use pg's socket to inject bytes.
    const sock = (client as unknown as { connection: { stream: { write(b: Uint8Array): void } } }).connection.stream;
    const closed = new Promise<string>((resolve) => client.on("error", (e: Error & { code?: string }) => resolve(e.code ?? e.message)));
    sock.write(new Uint8Array([0x51, 0, 0, 0, 2]));
    expect(await closed).toBe("08P01");
    expect(await psql(gw.port, scram(), "SELECT 'still serving'")).toBe("still serving");
  });

  test("an oversized message: 08P01 naming listen.max_message_size", async () => {
    const client = pgClient(gw.port);
    client.on("error", () => {});
    await client.connect();
    const err = await client.query(`SELECT '${"x".repeat(70_000)}'`).catch((e: Error & { code?: string }) => e);
    expect(err).toBeInstanceOf(Error);
    const e = err as Error & { code?: string };
    expect(e.code ?? "").toBe("08P01");
    expect(e.message).toContain("listen.max_message_size");
  });

  test("a slow client that never finishes its startup is cut off by the handshake timeout", async () => {
    const r = await RawClient.exchange(gw.port, [new Uint8Array([0, 0, 0])], 15_000);
    expect(r.closed).toBe(true);
    expect(sqlstateIn(r.bytes)).toBe("08P01");
  });

  test("replication connections are refused with 0A000", async () => {
    const r = await run(["psql", `${connString(gw.port, scram().user)} replication=database`, "-c", "IDENTIFY_SYSTEM"], { PGPASSWORD: scram().password });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("replication connections are not supported");
  });

  test("max_client_connections: the next client gets 53300", async () => {
    const small = startGateway({ listen: { max_client_connections: 2 } });
    const a = pgClient(small.port);
    const b = pgClient(small.port);
    await a.connect();
    await b.connect();
    try {
      const c = pgClient(small.port);
      const err = await c.connect().then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe("53300");
      expect(err?.message).toContain("too many clients");
      await c.end().catch(() => null);
    } finally {
      await a.end();
      await b.end();
      await small.stop();
    }
  });

  test("unreachable primary: FATAL naming the node, 08001", async () => {
    const down = startGateway({ nodes: { primary: { host: "127.0.0.1", port: 1 }, replicas: [] } });
    try {
      const c = pgClient(down.port);
      const err = await c.connect().then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe("08001");
      expect(err?.message).toContain("PgGate could not connect to the primary (127.0.0.1:1)");
    } finally {
      await down.stop();
    }
  });
});
