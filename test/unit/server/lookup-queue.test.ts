// LookupQueue: at most `limit` lookups run, at most `maxQueued` wait, and a lookup whose client
// left is dropped before it runs (also to make room in a full line).
import { describe, expect, test } from "bun:test";
import { LookupAbandoned, LookupQueue, LookupQueueFull } from "../../../src/server/lookup-queue.ts";

/** A piece of work that runs until finish() is called; `started` says whether it began. */
function held(): { work: () => Promise<string>; finish: () => void; started: () => boolean } {
  let finish = (): void => {};
  let started = false;
  const done = new Promise<void>((r) => (finish = r));
  return {
    work: async () => {
      started = true;
      await done;
      return "ok";
    },
    finish: () => finish(),
    started: () => started,
  };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const present = (): boolean => false;

describe("LookupQueue", () => {
  test("runs `limit` at once; the rest start in order as slots free", async () => {
    const q = new LookupQueue(() => 2, () => 10);
    const jobs = [held(), held(), held(), held()];
    const results = jobs.map((j) => q.run(present, j.work));
    await settle();
    expect(jobs.map((j) => j.started())).toEqual([true, true, false, false]);
    expect(q.waiting).toBe(2);
    jobs[1].finish();
    await settle();
    expect(jobs.map((j) => j.started())).toEqual([true, true, true, false]);
    for (const j of jobs) j.finish();
    expect(await Promise.all(results)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(q.active).toBe(0);
  });

  test("past maxQueued waiting, a lookup is refused at once instead of queued", async () => {
    const q = new LookupQueue(() => 1, () => 2);
    const jobs = [held(), held(), held()];
    const results = jobs.map((j) => q.run(present, j.work));
    const refused = q.run(present, async () => "never");
    await expect(refused).rejects.toBeInstanceOf(LookupQueueFull);
    await settle();
    for (const j of jobs) j.finish();
    expect(await Promise.all(results)).toEqual(["ok", "ok", "ok"]);
  });

  test("a waiting lookup whose client left is dropped when its turn comes, never run", async () => {
    const q = new LookupQueue(() => 1, () => 10);
    const first = held();
    const running = q.run(present, first.work);
    let left = false;
    const skipped = held();
    const dropped = q.run(() => left, skipped.work);
    const last = held();
    const after = q.run(present, last.work);
    left = true;
    first.finish();
    await expect(dropped).rejects.toBeInstanceOf(LookupAbandoned);
    await settle();
    expect(skipped.started()).toBe(false);
    expect(last.started()).toBe(true);
    last.finish();
    expect(await Promise.all([running, after])).toEqual(["ok", "ok"]);
  });

  test("a full line first drops lookups whose clients left, then takes the new one", async () => {
    const q = new LookupQueue(() => 1, () => 2);
    const first = held();
    const running = q.run(present, first.work);
    let left = false;
    const gone = Promise.allSettled([q.run(() => left, async () => "x"), q.run(() => left, async () => "y")]);
    left = true;
    const fresh = held();
    const taken = q.run(present, fresh.work);
    for (const g of await gone) expect(g.status === "rejected" && g.reason instanceof LookupAbandoned).toBe(true);
    expect(q.waiting).toBe(1);
    first.finish();
    await settle();
    fresh.finish();
    expect(await Promise.all([running, taken])).toEqual(["ok", "ok"]);
  });

  test("a client already gone does not even queue", async () => {
    const q = new LookupQueue(() => 1, () => 1);
    await expect(q.run(() => true, async () => "never")).rejects.toBeInstanceOf(LookupAbandoned);
    expect(q.active + q.waiting).toBe(0);
  });
});
