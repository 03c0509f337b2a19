import { classify, createRouter, type ClassifyContext } from "../../../src/router/index.ts";

const ctx: ClassifyContext = {
  writeFunctions: new Set(),
  readFunctions: new Set(),
  volatility: () => "s",
  relationKind: () => "other",
};

const cases: Array<[string, string]> = [
  ["simple select", "SELECT id, name, email, created_at FROM users WHERE id = $1 AND deleted_at IS NULL LIMIT 1"],
  ["insert", "INSERT INTO events (user_id, kind, payload) VALUES ($1, $2, $3) RETURNING id"],
  ["cte + functions", "WITH recent AS (SELECT user_id, count(*) AS n FROM events WHERE created_at > now() - interval '1 day' GROUP BY user_id) SELECT u.id, coalesce(r.n, 0) FROM users u LEFT JOIN recent r ON r.user_id = u.id ORDER BY 2 DESC LIMIT 50"],
];

function bench(label: string, fn: () => unknown, iterations: number): void {
  for (let i = 0; i < iterations / 10; i++) fn();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, (Bun.nanoseconds() - start) / iterations);
  }
  console.log(`${label.padEnd(34)} ${best.toFixed(0).padStart(6)} ns/op (best of 5)`);
}

const router = createRouter({ ...ctx, catalog: { volatility: () => "s", relationKind: () => "other" }, capacity: 1000 });
for (const [name, sql] of cases) {
  console.log(`${name} (${sql.length} chars)`);
  bench("  cold (classify)", () => classify(sql, ctx), 200_000);
  bench("  cached (createRouter)", () => router.classify(sql, "app"), 2_000_000);
}
