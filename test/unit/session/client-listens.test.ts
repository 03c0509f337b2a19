// A client's LISTENs without sockets: transaction outcomes decide what reaches the hub, the hub's
// confirmation is waited for, notifications wait until the client is between transactions.
import { describe, expect, test } from "bun:test";
import { ClientListens, type ListenHost } from "../../../src/session/client-listens.ts";
import type { ListenHub, ListenSubscriber } from "../../../src/session/listen-hub.ts";
import type { ListenOp } from "../../../src/router/index.ts";
import type { PgError } from "../../../src/errors/index.ts";

/** A hub that records calls; LISTEN is confirmed only when the test says so. */
class FakeHub {
  state = "ready";
  log: string[] = [];
  active = new Set<string>();
  pending: [string, (ok: boolean) => void][] = [];
  subscribe(ch: string, _s: ListenSubscriber, ready: (ok: boolean) => void): void {
    this.log.push(`+${ch}`);
    if (this.active.has(ch)) ready(true);
    else this.pending.push([ch, ready]);
  }
  unsubscribe(ch: string): void {
    this.log.push(`-${ch}`);
  }
  confirmAll(ok = true): void {
    for (const [ch, r] of this.pending.splice(0)) {
      if (ok) this.active.add(ch);
      r(ok);
    }
  }
}

function setup() {
  const hub = new FakeHub();
  const sent: string[] = [];
  const failed: PgError[] = [];
  const host: ListenHost & { betweenTransactions: boolean } = {
    processId: 7,
    betweenTransactions: true,
    listenHub: () => hub as unknown as ListenHub,
    sendToClient: (f) => sent.push(new TextDecoder().decode(f)),
    fail: (e) => failed.push(e),
  };
  return { hub, sent, failed, host, l: new ClientListens(host) };
}

const L = (channel: string): ListenOp => ({ kind: "listen", channel });
const U = (channel: string): ListenOp => ({ kind: "unlisten", channel });

describe("ClientListens", () => {
  test("outside a transaction: applied at once, the reply waits for the hub's LISTEN", () => {
    const { hub, l } = setup();
    let ready: boolean | null = null;
    expect(l.apply([L("a"), L("b"), U("b")], (ok) => (ready = ok))).toBe(true);
    expect(l.holding).toBe(true);
    expect(hub.log).toEqual(["+a"]);
    hub.confirmAll();
    expect(ready).toBe(true as never);
    expect(l.holding).toBe(false);
    // Already active at the hub: nothing to wait for.
    expect(l.apply([U("a"), L("a")], () => {})).toBe(false);
    expect(l.apply([{ kind: "unlisten_all" }], () => {})).toBe(false);
    expect(hub.log).toEqual(["+a", "-a"]);
    expect(l.subscribed).toBe(0);
  });

  test.each<[string, (l: ClientListens) => void, boolean]>([
    ["COMMIT", (l) => l.noteTxn("commit"), true],
    ["ROLLBACK", (l) => l.noteTxn("rollback"), false],
    ["an error, then COMMIT (it rolls back)", (l) => (l.noteError(), l.noteTxn("commit")), false],
  ])("inside a transaction, %s decides", (_what, end, applied) => {
    const { hub, l } = setup();
    l.record([L("t")]);
    expect(hub.log).toEqual([]);
    end(l);
    const waits = l.endTransaction(() => {});
    expect(waits).toBe(applied);
    expect(hub.log).toEqual(applied ? ["+t"] : []);
    expect(l.hasPending).toBe(false);
  });

  test("notifications wait while the client is inside a transaction, then go in order", () => {
    const { hub, sent, host, l } = setup();
    l.apply([L("a")], () => {});
    hub.confirmAll();
    l.notify(new TextEncoder().encode("1"));
    host.betweenTransactions = false;
    l.notify(new TextEncoder().encode("2"));
    l.notify(new TextEncoder().encode("3"));
    l.flush();
    expect(sent).toEqual(["1"]);
    host.betweenTransactions = true;
    l.flush();
    expect(sent).toEqual(["1", "2", "3"]);
  });

  test("the hub's loss ends the session with 08006; leaving unsubscribes everything", () => {
    const { hub, failed, l } = setup();
    l.apply([L("a"), L("b")], () => {});
    hub.confirmAll();
    l.dispose();
    expect(hub.log.slice(2).sort()).toEqual(["-a", "-b"]);
    const other = setup();
    other.l.apply([L("a")], () => {});
    other.hub.confirmAll();
    other.l.listenLost("listening connection to p (h:1) was lost");
    expect(other.failed[0].code).toBe("08006");
    expect(other.failed[0].isFatal).toBe(true);
    expect(failed).toEqual([]);
  });

  test("a LISTEN the hub could not make is reported and not kept", () => {
    const { hub, l } = setup();
    let ready: boolean | null = null;
    l.apply([L("x")], (ok) => (ready = ok));
    hub.confirmAll(false);
    expect(ready).toBe(false as never);
    expect(l.has("x")).toBe(false);
  });
});
