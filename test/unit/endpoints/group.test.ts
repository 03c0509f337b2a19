// The supervisor's answers for the group (`workers: N`): metrics merged with prom-client's
// AggregatorRegistry from the workers' JSON, /status merged, /readyz ready only when every running
// worker is. Real worker registries (createRegistry on a GatewayContext), no sockets.

import { describe, expect, test } from "bun:test";
import { configFromObject } from "../../../src/config/index.ts";
import { createRegistry } from "../../../src/endpoints/metrics.ts";
import { groupMetrics, groupNotReady, groupStatus, type FamilyData, type WorkerStatus, type WorkerView } from "../../../src/endpoints/group.ts";
import { GatewayContext } from "../../../src/session/context.ts";

const config = () => configFromObject({ nodes: { primary: { host: "127.0.0.1", port: 1 } }, auth: { mode: "passthrough" } }, { source: "", env: {} });
const running = (index: number): WorkerView => ({ index, pid: 100 + index, state: "running", restarts: 0 });

/** A worker's metrics as it sends them over IPC. */
async function workerMetrics(ctx: GatewayContext): Promise<FamilyData[]> {
  const json = await createRegistry(ctx).getMetricsAsJSON();
  return structuredClone(json.map((m) => ({ name: m.name, help: m.help, type: String(m.type), aggregator: m.aggregator, values: m.values })));
}

function line(text: string, prefix: string): string | undefined {
  return text.split("\n").find((l) => l.startsWith(prefix));
}

describe("groupMetrics", () => {
  test("counters and histograms add up, one series per label set; the supervisor's families follow", async () => {
    const a = new GatewayContext(config());
    const b = new GatewayContext(config());
    a.stats.clientsAccepted = 3;
    b.stats.clientsAccepted = 4;
    a.stats.poolWait.observe(0.002);
    b.stats.poolWait.observe(0.002);
    b.stats.poolWait.observe(7);
    a.stats.cancels.forwarded = 2;
    b.stats.cancels.local = 5;
    const { text } = await groupMetrics([running(0), running(1), { index: 2, pid: null, state: "down", restarts: 1 }], [
      { index: 0, body: await workerMetrics(a) },
      { index: 1, body: await workerMetrics(b) },
    ]);
    expect(line(text, "pggate_client_connections_total ")).toBe("pggate_client_connections_total 7");
    expect(line(text, 'pggate_pool_wait_seconds_bucket{le="0.0025"}')).toBe('pggate_pool_wait_seconds_bucket{le="0.0025"} 2');
    expect(line(text, 'pggate_pool_wait_seconds_bucket{le="+Inf"}')).toBe('pggate_pool_wait_seconds_bucket{le="+Inf"} 3');
    expect(line(text, "pggate_pool_wait_seconds_count")).toBe("pggate_pool_wait_seconds_count 3");
    expect(line(text, 'pggate_cancel_requests_total{result="local"}')).toBe('pggate_cancel_requests_total{result="local"} 5');
    expect(line(text, 'pggate_cancel_requests_total{result="forwarded"}')).toBe('pggate_cancel_requests_total{result="forwarded"} 2');
    expect(line(text, "pggate_build_info{")).toMatch(/ 1$/);
    expect(line(text, 'pggate_workers{state="running"}')).toBe('pggate_workers{state="running"} 2');
    expect(line(text, 'pggate_workers{state="down"}')).toBe('pggate_workers{state="down"} 1');
    expect(line(text, "pggate_workers_reporting")).toBe("pggate_workers_reporting 2");
    expect(line(text, "pggate_worker_restarts_total")).toBe("pggate_worker_restarts_total 1");
    expect(text).not.toContain("worker=");
    a.pools.stop();
    b.pools.stop();
  });

  test("a worker that did not answer is left out, and the count of reporting workers says so", async () => {
    const a = new GatewayContext(config());
    a.stats.clientsAccepted = 3;
    const { text } = await groupMetrics([running(0), running(1)], [{ index: 0, body: await workerMetrics(a) }, { index: 1, body: null }]);
    expect(line(text, "pggate_client_connections_total ")).toBe("pggate_client_connections_total 3");
    expect(line(text, "pggate_workers_reporting")).toBe("pggate_workers_reporting 1");
    a.pools.stop();
  });
});

describe("groupNotReady", () => {
  test("ready only when every running worker is", () => {
    expect(groupNotReady(false, [running(0), running(1)], [{ index: 0, body: { notReady: null } }, { index: 1, body: { notReady: null } }])).toBeNull();
    expect(groupNotReady(false, [running(0), running(1)], [{ index: 0, body: { notReady: null } }, { index: 1, body: { notReady: "overloaded: 5 clients wait" } }])).toBe("worker 1: overloaded: 5 clients wait");
    expect(groupNotReady(false, [running(0), running(1)], [{ index: 0, body: { notReady: null } }, { index: 1, body: null }])).toBe("worker 1 did not answer");
  });

  test("a worker that exited gets no connections (its socket is gone): the others decide", () => {
    expect(groupNotReady(false, [running(0), { index: 1, pid: null, state: "down", restarts: 0 }], [{ index: 0, body: { notReady: null } }])).toBeNull();
  });

  test("no worker running yet, or shutting down: not ready", () => {
    expect(groupNotReady(false, [{ index: 0, pid: 1, state: "starting", restarts: 0 }], [])).toBe("no worker is running yet");
    expect(groupNotReady(true, [running(0)], [{ index: 0, body: { notReady: null } }])).toBe("shutting down");
  });
});

describe("groupStatus", () => {
  const worker = (clients: number, pools: WorkerStatus["pools"], up: boolean): WorkerStatus => ({
    nodes: [{ name: "primary", cluster: "c", host: "db", port: 5432, role: "primary", up, lag_seconds: null, lag_bytes: null, last_error: up ? null : "refused", reason: null }],
    pools,
    clients: { total: clients, idle: clients },
    paused: { all: false, databases: clients > 1 ? ["app"] : [] },
    shutting_down: false,
    not_ready: up ? null : "primary unreachable",
  });
  const pool = (size: number, active: number) => ({ node: "primary", user: "u", database: "app", dbname: "app", size, idle: 0, active, connecting: 0, waiting: 0 });

  test("clients and pools add up; a node is up when every worker sees it up; each worker listed", () => {
    const s = groupStatus(false, [running(0), running(1)], [
      { index: 0, body: worker(2, [pool(10, 2)], true) },
      { index: 1, body: worker(1, [pool(10, 1)], false) },
    ]) as Record<string, unknown>;
    expect(s.clients).toEqual({ total: 3, idle: 3 });
    expect(s.pools).toEqual([pool(20, 3)]);
    expect((s.nodes as { up: boolean; last_error: string | null }[]).map((n) => [n.up, n.last_error])).toEqual([[false, "refused"]]);
    expect(s.paused).toEqual({ all: false, databases: ["app"] });
    expect(s.workers).toEqual([
      { worker: 0, pid: 100, state: "running", restarts: 0, answered: true, clients: 2, ready: true, not_ready: null },
      { worker: 1, pid: 101, state: "running", restarts: 0, answered: true, clients: 1, ready: false, not_ready: "primary unreachable" },
    ]);
  });
});
