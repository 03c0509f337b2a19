// Issue 24 items 2 and 3, with the primary itself as the oracle: SQL DEALLOCATE of protocol-level
// statements over both protocols answers what PostgreSQL answers, message by message; and every
// spelling of SET ... TO DEFAULT returns a setting to the client's startup value, as on a
// dedicated connection started with the same startup parameters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { Bind, Describe, Execute, Parse, Query, Sync, cat, fieldsOf, messages, type Message } from "../frames.ts";
import { cluster, connString, run, startGateway, type RunningGateway } from "./harness.ts";
import { rawMd5Login } from "./raw-login.ts";
import type { RawClient } from "./raw-client.ts";

let gw: RunningGateway;

beforeAll(() => {
  gw = startGateway({ auth: { mode: "auth_query" }, pool: { size: 4 } });
});

afterAll(async () => {
  await gw.stop();
});

const primaryPort = (): number => cluster().primary.port;

/**
 * A message as compared: ErrorResponse and NoticeResponse by severity, SQLSTATE and text (their
 * source file and line fields are the server's build, not the protocol's); everything else byte
 * for byte.
 */
function shown(m: Message): string {
  if (m.type === "E" || m.type === "N") {
    const f = fieldsOf(m.body);
    return `${m.type} ${f.get("V") ?? f.get("S")} ${f.get("C")} ${f.get("M")}`;
  }
  return `${m.type} ${Buffer.from(m.body).toString("hex")}`;
}

/** Sends `frames` and waits for `readies` ReadyForQuery messages; returns what came, shown. */
async function exchange(c: RawClient, frames: Uint8Array[], readies = 1): Promise<string[]> {
  await c.write(cat(...frames));
  const done = await c.waitFor((b) => messages(b).filter((m) => m.type === "Z").length >= readies, 5000);
  // PgGate's own reports (pggate.write_lsn after a write) are not the server's to compare.
  const out = messages(c.bytes)
    .filter((m) => !(m.type === "S" && Buffer.from(m.body).toString().startsWith("pggate.")))
    .map(shown);
  c.received.length = 0;
  if (!done) throw new Error(`no ReadyForQuery ×${readies}: ${out.join(" | ")}`);
  return out;
}

type Step = { frames: Uint8Array[]; readies?: number };
const step = (frames: Uint8Array[], readies = 1): Step => ({ frames, readies });

/** Runs the same steps on a fresh raw connection to `port`; the replies of each step. */
async function script(port: number, steps: Step[], startup: Record<string, string> = {}): Promise<string[][]> {
  const c = await rawMd5Login(port, "app", startup);
  try {
    const out: string[][] = [];
    for (const s of steps) out.push(await exchange(c, s.frames, s.readies));
    return out;
  } finally {
    c.close();
  }
}

/** The steps through PgGate answer exactly what the primary answers directly. */
async function sameAsPrimary(steps: Step[], startup: Record<string, string> = {}): Promise<string[][]> {
  const direct = await script(primaryPort(), steps, startup);
  const through = await script(gw.port, steps, startup);
  expect(through).toEqual(direct);
  return direct;
}

/** Extended-protocol SQL as libpq's PQsendQueryParams (psycopg) sends it. */
const ext = (sql: string): Uint8Array[] => [Parse("", sql), Bind("", ""), Describe("P", ""), Execute(""), Sync()];
const prepare = (name: string, sql = "SELECT 1"): Step => step([Parse(name, sql), Sync()]);
/** Uses statement `name`: BindComplete and a row if it exists, 26000 if it does not. */
const use = (name: string): Step => step([Bind("", name), Execute(""), Sync()]);
const types = (replies: string[]): string => replies.map((r) => r[0]).join("");

describe("DEALLOCATE of a protocol-level statement, extended and simple (the primary is the oracle)", () => {
  test("PQsendQueryParams of DEALLOCATE s1: ParseComplete, BindComplete, NoData, DEALLOCATE, and s1 is gone", async () => {
    const r = await sameAsPrimary([prepare("s1"), step(ext("DEALLOCATE s1")), use("s1")]);
    expect(types(r[1])).toBe("12nCZ");
    expect(r[2][0]).toContain("26000");
  });

  test("DEALLOCATE PREPARE name, and the statement Describe (ParameterDescription + NoData)", async () => {
    await sameAsPrimary([
      prepare("s1"),
      step([Parse("", "DEALLOCATE PREPARE s1"), Describe("S", ""), Bind("", ""), Describe("P", ""), Execute(""), Sync()]),
      use("s1"),
    ]);
  });

  test("DEALLOCATE ALL and DEALLOCATE PREPARE ALL, both protocols", async () => {
    const r = await sameAsPrimary([
      prepare("a"),
      prepare("b"),
      step(ext("DEALLOCATE ALL")),
      use("a"),
      prepare("c"),
      step(ext("deallocate prepare all")),
      use("c"),
      prepare("d"),
      step([Query("DEALLOCATE PREPARE ALL")]),
      use("d"),
    ]);
    expect(r[2]).toContain(`C ${Buffer.from("DEALLOCATE ALL\0").toString("hex")}`);
  });

  test("quoted, upper-case and folded names", async () => {
    await sameAsPrimary([
      prepare("S 1"),
      prepare("S2"),
      prepare("s3"),
      step(ext('DEALLOCATE "S 1"')),
      step(ext('DEALLOCATE "S2"')),
      step(ext("DEALLOCATE S3")),
      use("S 1"),
      use("S2"),
      use("s3"),
    ]);
  });

  test("without an Execute nothing is deallocated", async () => {
    const r = await sameAsPrimary([prepare("s1"), step([Parse("", "DEALLOCATE s1"), Bind("", ""), Describe("P", ""), Sync()]), use("s1")]);
    expect(types(r[2])).toBe("2DCZ");
  });

  test("inside a transaction the answer keeps status T", async () => {
    const r = await sameAsPrimary([prepare("s1"), step([Query("BEGIN")]), step(ext("DEALLOCATE s1")), step([Query("DEALLOCATE s1")]), step([Query("COMMIT")])]);
    expect(r[2].at(-1)).toBe("Z 54");
    expect(r[3][0]).toContain("26000");
  });

  test("in a failed transaction: 25P02 over both protocols, and the statement survives", async () => {
    const r = await sameAsPrimary([
      prepare("s1"),
      step([Query("BEGIN")]),
      step([Query("SELECT 1/0")]),
      step(ext("DEALLOCATE s1")),
      step([Query("DEALLOCATE s1")]),
      step(ext("DEALLOCATE ALL")),
      step([Query("ROLLBACK")]),
      use("s1"),
    ]);
    expect(r[3][0]).toContain("25P02");
    expect(r[4][0]).toContain("25P02");
    expect(types(r[7])).toBe("2DCZ");
  });

  test("a name the client does not have: 26000, also inside a transaction (which it aborts)", async () => {
    await sameAsPrimary([step(ext("DEALLOCATE nope")), step([Query("BEGIN")]), step(ext("DEALLOCATE nope")), step([Query("SELECT 1")]), step([Query("ROLLBACK")])]);
  });

  test("pipelined: several Syncs before the first ReadyForQuery keep their order", async () => {
    await sameAsPrimary([
      prepare("s1"),
      step(
        [
          Parse("s2", "SELECT 2"),
          Bind("", "s2"),
          Execute(""),
          Sync(),
          ...ext("DEALLOCATE s1"),
          Bind("", "s1"),
          Execute(""),
          Sync(),
          Query("SELECT 3"),
          Query("DEALLOCATE s2"),
          ...ext("DEALLOCATE s2"),
        ],
        6,
      ),
    ]);
  });

  test("a pinned session: the client's names answered here, SQL PREPARE'd ones and DEALLOCATE ALL by the server", async () => {
    await sameAsPrimary([
      prepare("s1"),
      step([Query("SET application_name = 'pinned'")]),
      step(ext("DEALLOCATE s1")),
      use("s1"),
      step([Query("PREPARE q AS SELECT 2")]),
      step(ext("DEALLOCATE q")),
      step([Query("EXECUTE q")]),
      prepare("s2"),
      step([Query("PREPARE r AS SELECT 3")]),
      step(ext("DEALLOCATE ALL")),
      use("s2"),
      step([Query("EXECUTE r")]),
      prepare("s3"),
      use("s3"),
    ]);
  });

  test("pipelined simple Queries: DEALLOCATE right behind a query still in flight", async () => {
    await sameAsPrimary([prepare("s1"), step([Query("SELECT pg_sleep(0.05)"), Query("DEALLOCATE s1")], 2), use("s1")]);
  });
});

// --- SET ... TO DEFAULT -------------------------------------------------------------------------

const scram = () => cluster().users.scram;

/** psql -c per command (each its own simple Query), with libpq environment `env`. */
async function psqlLines(port: number, env: Record<string, string>, commands: string[]): Promise<string> {
  const args = ["psql", connString(port, scram().user), "-X", "-At"];
  for (const c of commands) args.push("-c", c);
  const r = await run(args, { PGPASSWORD: scram().password, ...env });
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return r.stdout.trim();
}

/** What psql shows through PgGate equals what it shows connected to the primary directly. */
async function psqlSameAsPrimary(env: Record<string, string>, commands: string[], expected: string): Promise<void> {
  const direct = await psqlLines(primaryPort(), env, commands);
  expect(direct.split("\n").at(-1)).toBe(expected);
  expect(await psqlLines(gw.port, env, commands)).toBe(direct);
}

const TZ = { PGTZ: "PST8PDT" };
const DS = { PGDATESTYLE: "Postgres, MDY" };
const SP = { PGOPTIONS: "-c search_path=pg_catalog,public -c work_mem=3MB" };

describe("SET ... TO DEFAULT returns to the client's startup value (psql, direct psql is the oracle)", () => {
  const cases: [string, Record<string, string>, string[], string][] = [
    ["RESET TIME ZONE", TZ, ["SET TIME ZONE 'UTC'", "RESET TIME ZONE", "SHOW timezone"], "PST8PDT"],
    ["SET TIME ZONE DEFAULT", TZ, ["SET TIME ZONE 'UTC'", "SET TIME ZONE DEFAULT", "SHOW timezone"], "PST8PDT"],
    ["SET TIME ZONE LOCAL", TZ, ["SET TIME ZONE 'UTC'", "SET TIME ZONE LOCAL", "SHOW timezone"], "PST8PDT"],
    ["SET SESSION TIME ZONE DEFAULT", TZ, ["SET TIME ZONE 'UTC'", "SET SESSION TIME ZONE DEFAULT", "SHOW timezone"], "PST8PDT"],
    ["SET timezone = DEFAULT", TZ, ["SET timezone = 'UTC'", "SET timezone = DEFAULT", "SHOW timezone"], "PST8PDT"],
    ["SET datestyle TO DEFAULT", DS, ["SET datestyle=ISO", "SET datestyle TO DEFAULT", "SHOW datestyle"], "Postgres, MDY"],
    ["SET SESSION \"DateStyle\" = DEFAULT", DS, ["SET datestyle=ISO", 'SET SESSION "DateStyle" = DEFAULT', "SHOW datestyle"], "Postgres, MDY"],
    ["a multi-statement string", DS, ["SET datestyle=ISO; SELECT 1; SET datestyle TO DEFAULT", "SHOW datestyle"], "Postgres, MDY"],
    ["options: search_path TO DEFAULT", SP, ["SET search_path TO public", "SET search_path TO DEFAULT", "SHOW search_path"], "pg_catalog,public"],
    ["options: work_mem = DEFAULT", SP, ["SET work_mem = '8MB'", "SET work_mem = DEFAULT", "SHOW work_mem"], "3MB"],
    ["SET NAMES DEFAULT (client_encoding)", { PGCLIENTENCODING: "LATIN1" }, ["SET NAMES 'UTF8'", "SET NAMES DEFAULT", "SHOW client_encoding"], "LATIN1"],
    [
      "SET LOCAL ... TO DEFAULT: the startup value for the transaction, the session's after it",
      DS,
      ["SET datestyle=ISO", "BEGIN", "SET LOCAL datestyle TO DEFAULT", "SHOW datestyle", "COMMIT", "SHOW datestyle"],
      "ISO, MDY",
    ],
    ["set_config(name, NULL, false) resets to the startup value", TZ, ["SET TIME ZONE 'UTC'", "SELECT count(*) FROM (SELECT set_config('TimeZone', NULL, false)) s", "SHOW timezone"], "PST8PDT"],
    [
      "set_config(name, NULL, true) for the transaction",
      TZ,
      ["SET TIME ZONE 'UTC'", "BEGIN", "SELECT count(*) FROM (SELECT set_config('TimeZone', NULL, true)) s", "SHOW timezone", "COMMIT", "SHOW timezone"],
      "UTC",
    ],
  ];
  for (const [what, env, commands, expected] of cases) test(what, () => psqlSameAsPrimary(env, commands, expected));

});

describe("SET ... TO DEFAULT over the extended protocol", () => {
  const startup = { TimeZone: "PST8PDT", DateStyle: "Postgres, MDY" };
  const show = (what: string): Step => step([Query(`SHOW ${what}`)]);
  /** The DataRow of a SHOW step (its value, hex), or what came instead. */
  const value = (replies: string[]): string => replies.find((r) => r.startsWith("D ")) ?? replies.join(" | ");

  test("Parse/Bind/Execute of SET TIME ZONE DEFAULT, and of a named statement run again by Bind alone", async () => {
    const steps = [
      step([Query("SET TIME ZONE 'UTC'")]),
      step(ext("SET TIME ZONE DEFAULT")),
      show("timezone"),
      step([Parse("sd", "SET datestyle TO DEFAULT"), Bind("", "sd"), Execute(""), Sync()]),
      step([Query("SET datestyle = ISO")]),
      step([Bind("", "sd"), Execute(""), Sync()]),
      show("datestyle"),
    ];
    const direct = await script(primaryPort(), steps, startup);
    const through = await script(gw.port, steps, startup);
    expect(value(through[2])).toBe(value(direct[2]));
    expect(value(through[6])).toBe(value(direct[6]));
    expect(value(direct[6])).toContain(Buffer.from("Postgres, MDY").toString("hex"));
  });

  test("the client is told the startup value again (ParameterStatus), as the server tells it directly", async () => {
    const statusOf = (all: string[][], name: string): string | undefined =>
      all
        .flat()
        .filter((r) => r.startsWith("S ") && r.startsWith(`S ${Buffer.from(name + "\0").toString("hex")}`))
        .at(-1);
    const steps = [step([Query("SET TIME ZONE 'UTC'")]), step(ext("SET TIME ZONE DEFAULT")), show("timezone")];
    const direct = await script(primaryPort(), steps, startup);
    const through = await script(gw.port, steps, startup);
    expect(statusOf(through, "TimeZone")).toBe(statusOf(direct, "TimeZone"));
  });

  test("postgres (npm, prepared statements): SET timezone TO DEFAULT twice", async () => {
    const read = async (port: number): Promise<string[]> => {
      const sql = postgres({ host: "127.0.0.1", port, user: scram().user, password: scram().password, database: "app", max: 1, connection: { TimeZone: "PST8PDT" }, onnotice: () => {} });
      try {
        const seen: string[] = [];
        for (let i = 0; i < 2; i++) {
          await sql`SET TIME ZONE 'UTC'`;
          await sql`SET timezone TO DEFAULT`;
          seen.push((await sql`SELECT current_setting('TimeZone') AS tz`)[0].tz);
        }
        return seen;
      } finally {
        await sql.end();
      }
    };
    const direct = await read(primaryPort());
    expect(direct).toEqual(["PST8PDT", "PST8PDT"]);
    expect(await read(gw.port)).toEqual(direct);
  });
});
