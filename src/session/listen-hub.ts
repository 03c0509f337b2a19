// The listening connection of one (cluster, database, user): a server connection to the primary,
// not a pool member, that holds the union of its clients' LISTENs (LISTEN when the first client
// subscribes to a channel, UNLISTEN when the last leaves) and fans each notification out to the
// subscribed clients. Knows no client protocol: a subscriber is handed frames and told of the loss.
import { BodyReader, decodeUtf8 } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import { connectServer, type ConnectDeps } from "../pool/server-connect.ts";
import { quoteChannel } from "../router/index.ts";
import type { NodeTarget, ServerConn } from "../server/server-conn.ts";
import type { Cluster } from "./cluster.ts";

/** A client as the hub sees it. */
export interface ListenSubscriber {
  /** The pid in the client's BackendKeyData (its own notifications carry it). */
  readonly processId: number;
  /** The client session, as named to ListenHubs.noteNotifier. */
  readonly owner: object;
  /** A NotificationResponse for this client; the frame may be shared with others and must not change. */
  notify(frame: Uint8Array): void;
  /** The listening connection is gone: every subscription through it is over. */
  listenLost(why: string): void;
}

/** How long a hub without channels keeps its connection (a client re-LISTENing soon reuses it). */
const LINGER_MS = 5_000;

/** Who last sent NOTIFY (or pg_notify) through a backend: its notifications are that client's own. */
interface Notifier {
  client: object;
  at: number;
}

/** How long a backend's last notifier is believed: notifications arrive within milliseconds of the commit. */
const NOTIFIER_TTL_MS = 10_000;

/** application_name of hub connections: how pg_stat_activity (and an operator) tells them apart. */
export const LISTEN_APPLICATION_NAME = "pggate_listen";

export class ListenHub {
  state: "idle" | "connecting" | "ready" | "closed" = "idle";
  private conn: ServerConn | null = null;
  /** Subscribers per channel (only channels someone is subscribed to). */
  private readonly channels = new Map<string, Set<ListenSubscriber>>();
  /** Channels the server has confirmed LISTENing to (and not been told to UNLISTEN since). */
  private readonly active = new Set<string>();
  /** LISTEN sent, answer not in yet. */
  private readonly inflight = new Set<string>();
  /** Subscribers waiting for a channel's LISTEN to take effect on the server. */
  private readonly waiters = new Map<string, ((ok: boolean) => void)[]>();
  private lingerTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly hubs: ListenHubs,
    readonly key: string,
    private readonly cluster: Cluster,
    readonly user: string,
    readonly dbname: string,
  ) {}

  get node(): NodeTarget | null {
    return this.conn?.node ?? null;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /**
   * Adds `sub` to `channel`. `ready(true)` once the server LISTENs to it (at once if it already
   * does): only then would a NOTIFY committed afterwards reach the client, as PostgreSQL promises
   * after LISTEN returns. `ready(false)`: the connection could not be opened or was lost.
   */
  subscribe(channel: string, sub: ListenSubscriber, ready: (ok: boolean) => void): void {
    this.cancelLinger();
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    set.add(sub);
    if (this.active.has(channel)) {
      ready(true);
      return;
    }
    const list = this.waiters.get(channel);
    if (list) list.push(ready);
    else this.waiters.set(channel, [ready]);
    if (this.state === "ready") this.sendListen(channel);
    else if (this.state === "idle") void this.connect();
  }

  unsubscribe(channel: string, sub: ListenSubscriber): void {
    const set = this.channels.get(channel);
    if (!set || !set.delete(sub) || set.size > 0) return;
    this.channels.delete(channel);
    // A LISTEN still in flight is undone when its answer arrives (see sendListen).
    if (this.active.delete(channel) && this.state === "ready") this.conn!.sendInternal(`UNLISTEN ${quoteChannel(channel)}`);
    if (this.channels.size === 0) this.startLinger();
  }

  private sendListen(channel: string): void {
    if (this.inflight.has(channel)) return;
    this.inflight.add(channel);
    this.conn!.sendInternal(`LISTEN ${quoteChannel(channel)}`, undefined, (ok) => {
      this.inflight.delete(channel);
      if (this.state !== "ready") return;
      if (ok && !this.channels.has(channel)) {
        // Everyone left while it was on its way.
        this.conn!.sendInternal(`UNLISTEN ${quoteChannel(channel)}`);
        return;
      }
      if (ok) this.active.add(channel);
      const list = this.waiters.get(channel) ?? [];
      this.waiters.delete(channel);
      for (const w of list) w(ok);
      if (!ok) this.dropChannel(channel);
    });
  }

  /** A channel whose LISTEN failed: nobody is subscribed to it any more. */
  private dropChannel(channel: string): void {
    this.channels.delete(channel);
    if (this.channels.size === 0) this.startLinger();
  }

  private async connect(): Promise<void> {
    this.state = "connecting";
    const node = this.cluster.primary;
    let conn: ServerConn;
    try {
      conn = await connectServer(this.hubs.deps, { node, user: this.user, dbname: this.dbname }, new Map([["application_name", LISTEN_APPLICATION_NAME]]));
    } catch (e) {
      log.warn("listen_connect_failed", { node: node.name, user: this.user, db: this.dbname, error: (e as Error).message });
      this.fail(`could not open the listening connection to ${node.name} (${node.host}:${node.port}): ${(e as Error).message}`);
      return;
    }
    if (this.state !== "connecting") {
      conn.terminate();
      return;
    }
    this.conn = conn;
    this.state = "ready";
    conn.onNotification = (buf, start, end) => this.onNotification(buf, start, end);
    conn.onIdleClose = () => this.fail(`listening connection to ${node.name} (${node.host}:${node.port}) was lost`);
    log.info("listen_connected", { server: conn.id, node: node.name, user: this.user, db: this.dbname, pid: conn.processId });
    for (const channel of this.waiters.keys()) this.sendListen(channel);
    if (this.channels.size === 0) this.startLinger();
  }

  /**
   * The connection could not be opened or is gone. Notifications committed meanwhile are lost, as
   * they would be for a session on a server that restarted: every subscriber is told, and the hub
   * leaves the registry (the next LISTEN opens a new one, on the primary of that moment).
   */
  private fail(why: string): void {
    if (this.state === "closed") return;
    const conn = this.detach();
    if (conn) {
      conn.destroy();
      log.warn("listen_lost", { server: conn.id, node: conn.node.name, user: this.user, db: this.dbname, channels: this.channels.size, why });
    }
    const waiting = new Set<(ok: boolean) => void>();
    for (const list of this.waiters.values()) for (const w of list) waiting.add(w);
    // Subscribers of channels the server was listening to lose notifications; one still waiting
    // for its first LISTEN hears ready(false) only (its LISTEN fails, or its COMMIT ends the session).
    const subs = new Set<ListenSubscriber>();
    for (const [channel, set] of this.channels) if (this.active.has(channel)) for (const s of set) subs.add(s);
    this.waiters.clear();
    this.channels.clear();
    this.active.clear();
    this.inflight.clear();
    for (const w of waiting) w(false);
    for (const s of subs) s.listenLost(why);
  }

  /** Closes the connection without telling anyone (no subscribers left, or PgGate shuts down). */
  close(): void {
    if (this.state === "closed") return;
    this.detach()?.terminate();
  }

  /** Ends the hub: out of the registry, its connection unhooked and handed to the caller to close. */
  private detach(): ServerConn | null {
    this.state = "closed";
    this.cancelLinger();
    this.hubs.forget(this);
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      conn.onIdleClose = null;
      conn.onNotification = null;
    }
    return conn;
  }

  /**
   * After a failover the hub's node may still answer, but NOTIFYs now commit on the new primary:
   * the hub is as good as lost.
   */
  followPrimary(): void {
    const n = this.conn?.node;
    const p = this.cluster.primary;
    if (n && (n.host !== p.host || n.port !== p.port)) this.fail(`the primary moved from ${n.name} (${n.host}:${n.port}) to ${p.name} (${p.host}:${p.port})`);
  }

  inCluster(c: Cluster): boolean {
    return this.cluster === c;
  }

  /** Sends an empty query; `done` at its ReadyForQuery (or the connection's end). False when not connected. */
  sync(done: () => void): boolean {
    if (this.state !== "ready") return false;
    this.conn!.sendInternal("", undefined, () => done());
    return true;
  }

  /** The server's node was marked down by the health checks: the connection is as good as lost. */
  nodeDown(node: NodeTarget): void {
    const n = this.conn?.node;
    if (n && n.host === node.host && n.port === node.port) this.fail(`the primary ${n.name} (${n.host}:${n.port}) was marked down`);
  }

  private startLinger(): void {
    if (this.lingerTimer !== null || this.waiters.size > 0) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.channels.size === 0 && this.waiters.size === 0) this.close();
    }, LINGER_MS);
    this.lingerTimer.unref?.();
  }

  private cancelLinger(): void {
    if (this.lingerTimer === null) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  /**
   * NotificationResponse: Int32 pid, String channel, String payload ("Message Formats"). Each
   * subscriber of the channel gets it in arrival order (the server's commit order); the one that
   * sent the NOTIFY through that backend gets its own BackendKeyData pid instead (see
   * ListenHubs.notifierOf).
   */
  private onNotification(buf: Uint8Array, start: number, end: number): void {
    const pid = new BodyReader(buf, start + 5, end).int32();
    const set = this.channels.get(notificationChannel(buf, start, end));
    if (!set) return;
    const frame = buf.slice(start, end);
    const own = this.hubs.notifierOf(this.conn!.node, pid);
    for (const sub of set) {
      if (sub.owner === own) {
        const mine = frame.slice();
        new DataView(mine.buffer, mine.byteOffset + 5, 4).setInt32(0, sub.processId);
        sub.notify(mine);
      } else sub.notify(frame);
    }
  }
}

/** The hubs of this process, one per (cluster, database, user), and who notified through which backend. */
export class ListenHubs {
  private readonly hubs = new Map<string, ListenHub>();
  private readonly notifiers = new Map<string, Notifier>();
  private notifierSweepAt = 0;

  constructor(readonly deps: ConnectDeps) {}

  /** The hub of (cluster, database, user), made (not yet connected) on first use. */
  hub(cluster: Cluster, dbname: string, user: string): ListenHub {
    const key = `${cluster.label}\u0000${dbname}\u0000${user}`;
    let h = this.hubs.get(key);
    if (!h) this.hubs.set(key, (h = new ListenHub(this, key, cluster, user, dbname)));
    return h;
  }

  forget(h: ListenHub): void {
    if (this.hubs.get(h.key) === h) this.hubs.delete(h.key);
  }

  get all(): Iterable<ListenHub> {
    return this.hubs.values();
  }

  nodeDown(node: NodeTarget): void {
    for (const h of [...this.hubs.values()]) h.nodeDown(node);
  }

  /**
   * Runs `done` once every ready hub of (cluster, dbname) has answered an empty query sent now:
   * notifications committed before this call have then reached PgGate (a listening backend sends
   * pending notifications before its ReadyForQuery). Returns false, without calling `done`, when
   * no hub of that database listens.
   */
  afterDelivery(cluster: Cluster, dbname: string, done: () => void): boolean {
    let waiting = 0;
    const one = (): void => {
      if (--waiting === 0) done();
    };
    for (const h of this.hubs.values()) if (h.dbname === dbname && h.inCluster(cluster) && h.sync(one)) waiting++;
    return waiting > 0;
  }

  /** Health changed (a failover may have moved a primary): hubs on a former primary are lost. */
  followPrimaries(): void {
    for (const h of [...this.hubs.values()]) h.followPrimary();
  }

  closeAll(): void {
    for (const h of [...this.hubs.values()]) h.close();
  }

  /**
   * `client` sent a NOTIFY (or anything naming pg_notify) through backend `pid` of `node`: a
   * notification from that backend is taken to be its own, until another client notifies through
   * the same backend or NOTIFIER_TTL_MS pass.
   */
  noteNotifier(node: NodeTarget, pid: number, client: object): void {
    const now = Date.now();
    this.notifiers.set(`${node.host}:${node.port}/${pid}`, { client, at: now });
    if (now - this.notifierSweepAt > NOTIFIER_TTL_MS) {
      this.notifierSweepAt = now;
      for (const [k, n] of this.notifiers) if (now - n.at > NOTIFIER_TTL_MS) this.notifiers.delete(k);
    }
  }

  notifierOf(node: NodeTarget, pid: number): object | null {
    const n = this.notifiers.get(`${node.host}:${node.port}/${pid}`);
    return n && Date.now() - n.at <= NOTIFIER_TTL_MS ? n.client : null;
  }
}

/** A NotificationResponse's channel (after its Int32 pid), decoded from the frame. */
export function notificationChannel(buf: Uint8Array, start: number, end: number): string {
  const at = start + 9;
  let nul = at;
  while (nul < end && buf[nul] !== 0) nul++;
  return decodeUtf8(buf, at, nul);
}
