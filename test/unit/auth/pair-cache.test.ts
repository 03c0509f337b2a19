// PairCache: (database, user) keys that cannot alias, expiry, a bound, and one fetch per pair.
import { describe, expect, test } from "bun:test";
import { PairCache } from "../../../src/auth/pair-cache.ts";

describe("PairCache", () => {
  test("concurrent misses for a pair share one fetch; set() entries are served until they expire", async () => {
    let ttl = 60_000;
    const c = new PairCache<string>(10, () => ttl);
    let fetches = 0;
    const fetch = async () => {
      fetches++;
      await Bun.sleep(5);
      return "v";
    };
    expect(await Promise.all([c.get("db", "u", fetch), c.get("db", "u", fetch)])).toEqual(["v", "v"]);
    expect(fetches).toBe(1);
    c.set("db", "u", "cached");
    expect(await c.get("db", "u", fetch)).toBe("cached");
    ttl = -1;
    c.set("db", "u", "stale");
    expect(await c.get("db", "u", fetch)).toBe("v");
  });

  test("a shared fetch is abandoned only once every caller sharing it has left", async () => {
    const c = new PairCache<string>(10, () => 60_000);
    let abandoned = (): boolean => false;
    let release = (): void => {};
    const fetch = (a: () => boolean): Promise<string> => {
      abandoned = a;
      return new Promise((r) => (release = () => r("v")));
    };
    let firstLeft = false;
    let secondLeft = false;
    const both = Promise.all([c.get("db", "u", fetch, () => firstLeft), c.get("db", "u", fetch, () => secondLeft)]);
    expect(abandoned()).toBe(false);
    firstLeft = true;
    expect(abandoned()).toBe(false);
    secondLeft = true;
    expect(abandoned()).toBe(true);
    release();
    expect(await both).toEqual(["v", "v"]);
  });

  test("names that would collide when joined stay apart", async () => {
    const c = new PairCache<string>(10, () => 60_000);
    c.set("a:b", "c", "first");
    c.set("a", "b:c", "second");
    expect(await c.get("a:b", "c", async () => "miss")).toBe("first");
    expect(await c.get("a", "b:c", async () => "miss")).toBe("second");
  });

  test("bounded: past the cap the oldest entry goes", async () => {
    const c = new PairCache<number>(3, () => 60_000);
    for (let i = 0; i < 5; i++) c.set("db", `u${i}`, i);
    expect(c.size).toBe(3);
    expect(await c.get("db", "u0", async () => -1)).toBe(-1);
    expect(await c.get("db", "u4", async () => -1)).toBe(4);
    c.delete("db", "u4");
    c.clear();
    expect(c.size).toBe(0);
  });
});
