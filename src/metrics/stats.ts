// Hot-path counters: plain numbers and fixed-bucket histograms, updated with integer increments
// and read at scrape time. No labels are built and nothing is allocated per query.

/** Upper bounds in seconds, 100 µs to 10 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class Histogram {
  /** counts[i] = observations <= LATENCY_BUCKETS[i] and > the previous bound; last = above all. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }

  /** Upper bound of the bucket holding quantile q (0..1): an estimate good to one bucket. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i] : Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** Per-node traffic, for SHOW STATS. */
export class NodeStats {
  queries = 0;
  transactions = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly latency = new Histogram();
}

/** The same counts for one pool (node, user, database), without the latency histogram. */
export class PoolCounters {
  queries = 0;
  transactions = 0;
  bytesIn = 0;
  bytesOut = 0;
}

export type RouteName = "primary" | "replica";

export class Stats {
  /** queries[route][reason]: reasons are a small fixed vocabulary (router reasons, pinned:*). */
  readonly queries: Record<RouteName, Record<string, number>> = { primary: Object.create(null), replica: Object.create(null) };
  readonly duration: Record<RouteName, Histogram> = { primary: new Histogram(), replica: new Histogram() };
  readonly poolWait = new Histogram();
  /** By kind; every kind present from the start, so rate() works before the first error. */
  readonly errors: Record<string, number> = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0]));
  readonly nodes = new Map<string, NodeStats>();
  clientsAccepted = 0;
  preparedHits = 0;
  preparedMisses = 0;
  reloads = { success: 0, error: 0 };
  /** Reads held for a replica to replay what their client wrote (read-your-writes). */
  rywWaits = 0;
  /**
   * CancelRequests: matched a client here, forwarded to the worker that issued the key, or
   * matched nothing (a wrong key, or a client already gone).
   */
  readonly cancels = { local: 0, forwarded: 0, no_match: 0 };

  query(route: RouteName, reason: string): void {
    const r = this.queries[route];
    r[reason] = (r[reason] ?? 0) + 1;
  }

  error(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  node(name: string): NodeStats {
    let n = this.nodes.get(name);
    if (!n) {
      n = new NodeStats();
      this.nodes.set(name, n);
    }
    return n;
  }
}

/** Every value errorKind() returns. */
export const ERROR_KINDS = ["protocol", "auth", "too_many_connections", "connect", "server_lost", "shutdown", "canceled", "other"] as const;

/** The error kind label for a SQLSTATE PgGate sent. */
export function errorKind(code: string): string {
  switch (code) {
    case "08P01":
      return "protocol";
    case "28P01":
    case "28000":
      return "auth";
    case "53300":
      return "too_many_connections";
    case "08001":
      return "connect";
    case "08006":
      return "server_lost";
    case "57P01":
      return "shutdown";
    case "57014":
      return "canceled";
    default:
      return "other";
  }
}
