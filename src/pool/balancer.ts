// Chooses a replica for a read: the least loaded relative to its weight (reads in flight divided
// by the weight), smooth weighted round robin among equals (an idle cluster spreads reads
// by weight); replicas that are banned are skipped. A replica that failed is banned with
// exponential backoff; a success clears its record.
import type { NodeConfig } from "../config/types.ts";
import { nodeName, type NodeTarget } from "../server/node-target.ts";

interface ReplicaState {
  target: NodeTarget;
  weight: number;
  /** Smooth WRR running weight (nginx's algorithm: even spread, no bursts). */
  current: number;
  bannedUntil: number;
  failures: number;
}

const BAN_BASE_MS = 1000;
const BAN_MAX_MS = 30_000;

export class ReplicaBalancer {
  private replicas: ReplicaState[] = [];
  /** The primary as a read target (routing.primary_read_weight > 0); its weight comes with each pick. */
  private primary: ReplicaState | null = null;

  /**
   * Installs the configured replicas, keeping the state of those that stay. Nodes of a cluster
   * other than the default one are named `<cluster>/replica<i>`, so names stay unique.
   */
  setNodes(nodes: readonly NodeConfig[], cluster?: string): void {
    const old = new Map(this.replicas.map((r) => [`${r.target.host}:${r.target.port}`, r]));
    this.replicas = nodes.map((n, i) => {
      const prev = old.get(`${n.host}:${n.port}`);
      const name = nodeName(cluster, `replica${i}`);
      const target: NodeTarget = prev && prev.target.name === name ? prev.target : { name, host: n.host, port: n.port, cluster };
      return { target, weight: n.weight, current: 0, bannedUntil: prev?.bannedUntil ?? 0, failures: prev?.failures ?? 0 };
    });
    this.targetList = this.replicas.map((r) => r.target);
  }

  /** The configured replicas (a stable array: read on every pool release). */
  get targets(): readonly NodeTarget[] {
    return this.targetList;
  }

  private targetList: readonly NodeTarget[] = [];

  /** Whether any replica with weight > 0 is out of its ban and passes `accept`. */
  any<A, B>(accept: (t: NodeTarget, a: A, b: B) => boolean, a: A, b: B): boolean {
    const now = Date.now();
    for (const r of this.replicas) if (r.weight > 0 && r.bannedUntil <= now && accept(r.target, a, b)) return true;
    return false;
  }

  /**
   * The replica for the next read among those passing `accept` (extra arguments avoid a closure
   * per call): the lowest load / weight, where `load` is its reads in flight; among equals (all
   * idle, say)
   * the next by smooth weighted round robin. Round robin alone sends a replica its share whether
   * or not it keeps up: a slower or busier replica queues reads while another idles (measured:
   * two quota-bound replicas busy 78 % and 60 % of the time under round robin).
   */
  pick<A, B>(
    accept: (t: NodeTarget, a: A, b: B) => boolean,
    a: A,
    b: B,
    load: ((t: NodeTarget) => number) | null = null,
    /** With routing.primary_read_weight > 0: the primary competes for the read with that weight. */
    primary: NodeTarget | null = null,
    primaryWeight = 0,
  ): NodeTarget | null {
    const now = Date.now();
    let total = 0;
    let best: ReplicaState | null = null;
    let bestScore = Number.POSITIVE_INFINITY;
    const withPrimary = primary !== null && primaryWeight > 0;
    if (withPrimary && (this.primary === null || this.primary.target !== primary)) this.primary = { target: primary, weight: 0, current: 0, bannedUntil: 0, failures: 0 };
    if (withPrimary) this.primary!.weight = primaryWeight;
    // The replicas, then the primary when it competes: no array built per read.
    const n = this.replicas.length + (withPrimary ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const r = i < this.replicas.length ? this.replicas[i] : this.primary!;
      if (r.weight <= 0 || r.bannedUntil > now || !accept(r.target, a, b)) continue;
      r.current += r.weight;
      total += r.weight;
      const score = load === null ? 0 : load(r.target) / r.weight;
      if (!best || score < bestScore || (score === bestScore && r.current > best.current)) {
        best = r;
        bestScore = score;
      }
    }
    if (!best) return null;
    best.current -= total;
    return best.target;
  }

  ban(target: NodeTarget): void {
    const r = this.replicas.find((x) => x.target === target);
    if (!r) return;
    r.failures++;
    r.bannedUntil = Date.now() + Math.min(BAN_MAX_MS, BAN_BASE_MS * 2 ** (r.failures - 1));
  }

  succeeded(target: NodeTarget): void {
    const r = this.replicas.find((x) => x.target === target);
    if (r) r.failures = 0;
  }

  /** Health checks found the replica good again: its connect-failure ban no longer applies. */
  unban(target: NodeTarget): void {
    const r = this.replicas.find((x) => x.target === target);
    if (!r) return;
    r.failures = 0;
    r.bannedUntil = 0;
  }
}
