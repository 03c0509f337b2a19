// Issue 24 item 1: every ParameterStatus a client receives equals what the connection serving it
// would answer at that moment. Clients with random startup values (application_name, TimeZone,
// DateStyle, search_path via options) log in and query interleaved over a small pool, so pooled
// connections pass from one client's settings to another's; each compares what it was told with
// current_setting() on every query, on the primary and on replicas.
import { describe, expect, test } from "bun:test";
import pg from "pg";
import { prng } from "../unit/prng.ts";
import { cluster, startGateway } from "./harness.ts";

const APP_NAMES = ["alpha", "bravo", "charlie"];
const TIME_ZONES = ["UTC", "Europe/Paris", "Asia/Tokyo", "PST8PDT"];
const DATE_STYLES = ["ISO, MDY", "Postgres, DMY", "SQL, YMD", "German, DMY"];
const SEARCH_PATHS = ["public", "pg_catalog, public", '"$user", public'];
/** Reported by the server (GUC_REPORT) and so told to the client at login and on change. */
const REPORTED = [
  ["application_name", "application_name"],
  ["TimeZone", "TimeZone"],
  ["DateStyle", "DateStyle"],
] as const;

interface Outcome {
  queries: number;
  mismatches: string[];
  ports: Set<number>;
}

/** One client: logs in with `startup`, runs `rounds` queries, checks every reported value each time. */
async function oneClient(port: number, startup: Record<string, string>, rounds: number, rnd: () => number, out: Outcome): Promise<void> {
  const u = cluster().users.scram;
  const cl = new pg.Client({ host: "127.0.0.1", port, user: u.user, password: u.password, database: "app", ...startup });
  const told = new Map<string, string>();
  (cl as unknown as { connection: { on(ev: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection.on("parameterStatus", (m) => told.set(m.parameterName, m.parameterValue));
  await cl.connect();
  try {
    for (let i = 0; i < rounds; i++) {
      const where = rnd() < 0.3 ? " /* pggate:primary */" : "";
      const r = await cl.query(
        `SELECT current_setting('application_name') AS application_name, current_setting('TimeZone') AS "TimeZone", current_setting('DateStyle') AS "DateStyle", current_setting('search_path') AS search_path, inet_server_port() AS port${where}`,
      );
      const row = r.rows[0] as Record<string, string | number>;
      out.queries++;
      out.ports.add(Number(row.port));
      for (const [name, column] of REPORTED) {
        if (told.get(name) !== row[column]) out.mismatches.push(`${name}: told ${JSON.stringify(told.get(name))}, server has ${JSON.stringify(row[column])} (startup ${JSON.stringify(startup)})`);
      }
      const wantPath = startup.options?.match(/search_path=(.*)$/)?.[1]?.replace(/\\ /g, " ");
      if (wantPath !== undefined && row.search_path !== wantPath) out.mismatches.push(`search_path: asked ${wantPath}, server has ${row.search_path}`);
      if (rnd() < 0.2) await Bun.sleep(Math.floor(rnd() * 5));
    }
  } finally {
    await cl.end();
  }
}

function randomStartup(rnd: () => number): Record<string, string> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const s: Record<string, string> = {};
  const opts: string[] = [];
  if (rnd() < 0.8) s.application_name = pick(APP_NAMES);
  if (rnd() < 0.6) opts.push(`-c TimeZone=${pick(TIME_ZONES)}`);
  if (rnd() < 0.6) opts.push(`-c DateStyle=${pick(DATE_STYLES).replace(/ /g, "\\ ")}`);
  if (rnd() < 0.5) opts.push(`-c search_path=${pick(SEARCH_PATHS).replace(/ /g, "\\ ")}`);
  if (opts.length > 0) s.options = opts.join(" ");
  return s;
}

describe.each(["auth_query", "passthrough"] as const)("ParameterStatus is never stale (%s)", (mode) => {
  test("the issue's repro: a, b and a primary query, then c told what SHOW says", async () => {
    const g = startGateway({ auth: { mode }, pool: { size: 1 } });
    const out: Outcome = { queries: 0, mismatches: [], ports: new Set() };
    try {
      const u = cluster().users.scram;
      const a = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app", application_name: "foo", options: "-c TimeZone=Europe/Paris" });
      const b = new pg.Client({ host: "127.0.0.1", port: g.port, user: u.user, password: u.password, database: "app", application_name: "bar", options: "-c TimeZone=Asia/Tokyo" });
      await a.connect();
      await b.connect();
      await a.query("SELECT 1 /* pggate:primary */");
      await a.end();
      await b.end();
      await oneClient(g.port, { application_name: "foo", options: "-c TimeZone=Europe/Paris" }, 3, () => 0.1, out);
    } finally {
      await g.stop();
    }
    expect(out.mismatches).toEqual([]);
  });

  test("200 clients with random startup values, 10 at a time over pool.size 2: every reported value equals current_setting()", async () => {
    const g = startGateway({ auth: { mode }, pool: { size: 2 } });
    const rnd = prng(Number(process.env.PGGATE_FUZZ_SEED ?? Date.now() % 1_000_000));
    const out: Outcome = { queries: 0, mismatches: [], ports: new Set() };
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 200) {
          next++;
          await oneClient(g.port, randomStartup(rnd), 1 + Math.floor(rnd() * 4), rnd, out);
        }
      };
      await Promise.all(Array.from({ length: 10 }, worker));
    } finally {
      await g.stop();
    }
    console.log(`ParameterStatus fuzz (${mode}): ${out.queries} queries on ports ${[...out.ports].join(", ")}, ${out.mismatches.length} mismatches`);
    expect(out.mismatches.slice(0, 5)).toEqual([]);
    // Both the primary and the replicas served.
    expect(out.ports.has(cluster().primary.port)).toBe(true);
    expect(cluster().replicas.some((r) => out.ports.has(r.port))).toBe(true);
  }, 60_000);
});
