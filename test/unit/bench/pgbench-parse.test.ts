// The bench's reading of pgbench output (scripts/bench/pgbench.ts): per-script throughput of a
// multi-script run, which scenario 11 reports as reads/s and writes/s.
import { expect, test } from "bun:test";
import { parsePgbench } from "../../../scripts/bench/pgbench.ts";

// PostgreSQL 15 pgbench, two -f scripts with weights 9 and 1.
const MULTI = `pgbench (15.14 (Debian 15.14-0+deb12u1))
transaction type: multiple scripts
scaling factor: 1
query mode: simple
number of clients: 20
number of threads: 2
maximum number of tries: 1
duration: 8 s
number of transactions actually processed: 80000
number of failed transactions: 0 (0.000%)
latency average = 2.000 ms
initial connection time = 12.345 ms
tps = 10000.123456 (without initial connection time)
SQL script 1: /tmp/pggate-bench-x/ryw-modes-read.sql
 - weight: 9 (targets 90.0% of total)
 - 72000 transactions (90.0% of total, tps = 9000.111111)
 - number of failed transactions: 0 (0.000%)
 - latency average = 1.800 ms
 - latency stddev = 0.500 ms
SQL script 2: /tmp/pggate-bench-x/ryw-modes-write.sql
 - weight: 1 (targets 10.0% of total)
 - 8000 transactions (10.0% of total, tps = 1000.222222)
 - number of failed transactions: 0 (0.000%)
 - latency average = 3.800 ms
 - latency stddev = 1.500 ms
`;

test("per-script tps of a multi-script run, by pgbench's 0-based script number", () => {
  const r = parsePgbench(MULTI, "");
  expect(r.tps).toBe(10000.123456);
  expect(r.transactions).toBe(80000);
  expect(r.tpsByScript).toEqual({ 0: 9000.111111, 1: 1000.222222 });
});

test("a single built-in script has no per-script figures", () => {
  const single = MULTI.slice(0, MULTI.indexOf("SQL script 1")).replace("multiple scripts", "<builtin: select only>");
  expect(parsePgbench(single, "").tpsByScript).toBeNull();
});
