// ReplicaBalancer: weighted round robin among equally loaded replicas, the least loaded (relative
// to its weight) otherwise; banned and refused replicas skipped.
import { describe, expect, test } from "bun:test";
import { ReplicaBalancer } from "../../../src/pool/balancer.ts";
import type { NodeTarget } from "../../../src/server/node-target.ts";

function balancer(weights: number[]): { b: ReplicaBalancer; t: readonly NodeTarget[] } {
  const b = new ReplicaBalancer();
  b.setNodes(weights.map((weight, i) => ({ host: "127.0.0.1", port: 7000 + i, weight })) as never);
  return { b, t: b.targets };
}

const all = (): boolean => true;

describe("ReplicaBalancer.pick", () => {
  test("idle replicas: smooth weighted round robin (2:1)", () => {
    const { b, t } = balancer([2, 1]);
    const picks = Array.from({ length: 6 }, () => b.pick(all, 0, 0, () => 0)!.port);
    expect(picks.filter((p) => p === t[0].port).length).toBe(4);
    expect(picks.filter((p) => p === t[1].port).length).toBe(2);
  });

  test("the least loaded replica relative to its weight wins", () => {
    const { b, t } = balancer([1, 1]);
    const load = new Map([[t[0].port, 5], [t[1].port, 1]]);
    for (let i = 0; i < 4; i++) expect(b.pick(all, 0, 0, (x) => load.get(x.port)!)!.port).toBe(t[1].port);
    const weighted = balancer([4, 1]);
    const w = new Map([[weighted.t[0].port, 3], [weighted.t[1].port, 1]]);
    // 3/4 < 1/1: the heavier-weighted replica takes more load.
    expect(weighted.b.pick(all, 0, 0, (x) => w.get(x.port)!)!.port).toBe(weighted.t[0].port);
  });

  test("banned, zero-weight and refused replicas are skipped; none left is null", () => {
    const { b, t } = balancer([1, 0, 1]);
    b.ban(t[0]);
    expect(b.pick(all, 0, 0, () => 0)!.port).toBe(t[2].port);
    expect(b.pick((x) => x.port !== t[2].port, 0, 0, () => 0)).toBeNull();
  });
});
