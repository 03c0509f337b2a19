// ReadIndex: one primary round trip per batch of reads; a read arriving while a fetch is in flight
// waits for the next one (the position in flight may predate it); withdrawn requests are not called.
import { describe, expect, test } from "bun:test";
import { ReadIndex } from "../../../src/session/read-index.ts";
import { recordBoundary } from "../../../src/health/lsn.ts";

function controlledFetch(): { fetch: () => Promise<bigint | null>; resolve(lsn: bigint | null): void; pending: number } {
  const waiting: ((v: bigint | null) => void)[] = [];
  const api = {
    fetch: () => new Promise<bigint | null>((r) => waiting.push(r)),
    resolve: (lsn: bigint | null) => waiting.shift()!(lsn),
    get pending() {
      return waiting.length;
    },
  };
  return api;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("ReadIndex", () => {
  test("reads that arrive together share one fetch; a read arriving during it gets the next", async () => {
    const f = controlledFetch();
    const idx = new ReadIndex(f.fetch);
    const got: [string, bigint | null][] = [];
    idx.request((l) => got.push(["a", l]));
    idx.request((l) => got.push(["b", l])); // before the fetch was answered, but after it was sent
    expect(idx.fetches).toBe(1);
    f.resolve(10n);
    await tick();
    // a's fetch was sent before b arrived: b waits for a fetch sent after it.
    expect(got).toEqual([["a", 10n]]);
    expect(idx.fetches).toBe(2);
    f.resolve(20n);
    await tick();
    expect(got).toEqual([["a", 10n], ["b", 20n]]);
  });

  test("a withdrawn request is not called; a failed fetch answers null", async () => {
    const f = controlledFetch();
    const idx = new ReadIndex(f.fetch);
    const got: (bigint | null)[] = [];
    const cancel = idx.request((l) => got.push(l));
    cancel();
    f.resolve(5n);
    await tick();
    expect(got).toEqual([]);
    const idx2 = new ReadIndex(() => Promise.reject(new Error("down")));
    idx2.request((l) => got.push(l));
    await tick();
    expect(got).toEqual([null]);
  });
});

describe("recordBoundary", () => {
  test("a position just past a page or segment header moves back to the boundary; others stay", () => {
    expect(recordBoundary(8192n * 5n + 24n)).toBe(8192n * 5n);
    expect(recordBoundary(16n * 1024n * 1024n * 3n + 40n)).toBe(16n * 1024n * 1024n * 3n);
    expect(recordBoundary(8192n * 5n + 32n)).toBe(8192n * 5n + 32n);
    expect(recordBoundary(123456n)).toBe(123456n);
  });
});
