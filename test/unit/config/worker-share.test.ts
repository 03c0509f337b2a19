// workerShare: with `workers: N` each worker enforces its part of the group's connection counts,
// the parts adding up to the configured value (or at least 1 each where 0 would serve nobody).

import { describe, expect, test } from "bun:test";
import { configFromObject, workerLimit, workerPart, workerShare } from "../../../src/config/index.ts";

const config = (over: Record<string, unknown> = {}) =>
  configFromObject({ nodes: { primary: { host: "db", port: 5432 } }, auth: { mode: "passthrough" }, ...over }, { source: "", env: {} });

describe("workerPart / workerLimit", () => {
  test.each([
    [20, 2, [10, 10]],
    [5, 2, [3, 2]],
    [7, 3, [3, 2, 2]],
    [1, 2, [1, 0]],
    [0, 4, [0, 0, 0, 0]],
  ])("%i over %i workers: %j, adding up to the total", (total, count, parts) => {
    const got = parts.map((_, i) => workerPart(total, i, count));
    expect(got).toEqual(parts);
    expect(got.reduce((a, b) => a + b, 0)).toBe(total);
  });

  test("a limit is never 0 unless it is 0 (no limit): 1 over 2 workers lets each have 1", () => {
    expect([0, 1].map((i) => workerLimit(1, i, 2))).toEqual([1, 1]);
    expect([0, 1].map((i) => workerLimit(0, i, 2))).toEqual([0, 0]);
    expect([0, 1, 2].map((i) => workerLimit(10, i, 3))).toEqual([4, 3, 3]);
  });
});

describe("workerShare", () => {
  test("one worker: the config itself", () => {
    const cfg = config();
    expect(workerShare(cfg, 0, 1)).toBe(cfg);
  });

  test("every connection count is divided; everything else is the file's", () => {
    const cfg = config({
      listen: { max_client_connections: 1001, max_pending_logins: 64, max_pending_logins_per_source: 4 },
      nodes: { primary: { host: "db", port: 5432 }, max_connections: 9 },
      pool: { size: 4, min_idle: 3, reserve_size: 1, users: { alice: { size: 5 } }, databases: { app: { size: 2, mode: "session" } } },
      metrics: { ready_max_waiting: 100 },
    });
    const shares = [0, 1].map((i) => workerShare(cfg, i, 2));
    expect(shares.map((s) => s.listen.maxClientConnections)).toEqual([501, 500]);
    expect(shares.map((s) => s.listen.maxPendingLogins)).toEqual([32, 32]);
    expect(shares.map((s) => s.listen.maxPendingLoginsPerSource)).toEqual([2, 2]);
    expect(shares.map((s) => s.nodes.maxConnections)).toEqual([5, 4]);
    expect(shares.map((s) => s.pool.size)).toEqual([2, 2]);
    expect(shares.map((s) => s.pool.minIdle)).toEqual([2, 1]);
    expect(shares.map((s) => s.pool.reserveSize)).toEqual([1, 0]);
    expect(shares.map((s) => s.pool.users[0].size)).toEqual([3, 2]);
    expect(shares.map((s) => s.pool.databases[0])).toEqual([{ name: "app", size: 1, mode: "session" }, { name: "app", size: 1, mode: "session" }]);
    expect(shares.map((s) => s.metrics.readyMaxWaiting)).toEqual([50, 50]);
    for (const s of shares) {
      expect(s.pool.mode).toBe(cfg.pool.mode);
      expect(s.listen.port).toBe(cfg.listen.port);
      expect(s.nodes.primary).toBe(cfg.nodes.primary);
      expect(Object.isFrozen(s.pool)).toBe(true);
    }
  });

  test("nodes.max_connections 0 (no limit) stays 0", () => {
    expect(workerShare(config(), 1, 2).nodes.maxConnections).toBe(0);
  });
});
