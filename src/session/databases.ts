// The `databases:` section at run time: which cluster and real database serve each name a client
// connects to, and the clusters themselves. A reload keeps every cluster whose primary address
// stays and every entry whose cluster and real database stay, so their clients, pools and
// floors carry on; what moved or went is reported for the context to close. No sockets here.
import type { Config, ClusterNodes, DatabaseConfig } from "../config/types.ts";
import { DEFAULT_CLUSTER, type NodeTarget } from "../server/node-target.ts";
import { Cluster, primaryAddress, type ClusterDeps } from "./cluster.ts";


/** The wildcard entry name: any database not listed. */
export const ANY_DATABASE = "*";

export class DatabaseEntry {
  /** Set when a reload removed the entry or moved it to another cluster or real database. */
  removed = false;

  constructor(
    /** Replaced in place by a reload that keeps the cluster and real database (routing, pool settings). */
    public config: DatabaseConfig,
    readonly cluster: Cluster,
  ) {}

  get name(): string {
    return this.config.name;
  }

  get routing(): DatabaseConfig["routing"] {
    return this.config.routing;
  }

  /** The database a server connection for a client of `clientName` opens. */
  serverDatabase(clientName: string): string {
    return this.config.dbname || clientName;
  }
}

/** What a reload took away, for the context to close and drain. */
export interface DatabasesChange {
  readonly removedEntries: readonly DatabaseEntry[];
  readonly removedClusters: readonly Cluster[];
}

export class Databases {
  private readonly clusters = new Map<string, Cluster>();
  private entries = new Map<string, DatabaseEntry>();
  private wildcard: DatabaseEntry | null = null;
  /** Each node object of every cluster (by identity: the per-release "still configured?" check allocates nothing). */
  private readonly byTarget = new Map<NodeTarget, Cluster>();

  constructor(private readonly deps: ClusterDeps) {}

  /** Installs `config`'s databases; returns what is gone (nothing on the first call). */
  apply(config: Config): DatabasesChange {
    const top: ClusterNodes | null = config.nodes.primary ? { primary: config.nodes.primary, replicas: config.nodes.replicas } : null;
    // With no databases: section every name is served by the top-level nodes.
    const list: readonly DatabaseConfig[] =
      config.databases.length > 0 ? config.databases : [{ name: ANY_DATABASE, dbname: "", nodes: null, routing: config.routing }];

    // A cluster is known by its primary's address; the top-level one by being the default, so
    // a reload may move its primary (clients carry on, as before databases: existed).
    const idOf = (nodes: ClusterNodes): string => (top && primaryAddress(nodes) === primaryAddress(top) ? DEFAULT_CLUSTER : `@${primaryAddress(nodes)}`);
    const wanted = new Map<string, { label: string; nodes: ClusterNodes }>();
    if (top) wanted.set(DEFAULT_CLUSTER, { label: DEFAULT_CLUSTER, nodes: top });
    for (const d of list) {
      const nodes = d.nodes ?? top;
      if (!nodes) throw new Error(`internal: database ${d.name} has no nodes`);
      const id = idOf(nodes);
      if (!wanted.has(id)) wanted.set(id, { label: d.name, nodes });
    }
    const removedClusters: Cluster[] = [];
    for (const [k, c] of this.clusters) {
      if (wanted.has(k)) continue;
      removedClusters.push(c);
      this.clusters.delete(k);
    }
    for (const [k, w] of wanted) {
      const c = this.clusters.get(k);
      if (c) c.setNodes(w.nodes);
      else this.clusters.set(k, new Cluster(w.label, w.nodes, this.deps));
    }

    const removedEntries: DatabaseEntry[] = [];
    const next = new Map<string, DatabaseEntry>();
    for (const d of list) {
      const cluster = this.clusters.get(idOf(d.nodes ?? top!))!;
      const old = this.entries.get(d.name);
      if (old && old.cluster === cluster && old.config.dbname === d.dbname) {
        old.config = d;
        next.set(d.name, old);
      } else next.set(d.name, new DatabaseEntry(d, cluster));
    }
    for (const [name, e] of this.entries) {
      if (next.get(name) === e) continue;
      e.removed = true;
      removedEntries.push(e);
    }
    this.entries = next;
    this.wildcard = this.entries.get(ANY_DATABASE) ?? null;
    this.byTarget.clear();
    for (const c of this.clusters.values()) for (const t of c.targets) this.byTarget.set(t, c);
    return { removedEntries, removedClusters };
  }

  /**
   * The entry serving a client that asked for `name`: its own entry, else the wildcard; null
   * when neither exists (the client is refused). Names are matched exactly, as PostgreSQL does.
   */
  resolve(name: string): DatabaseEntry | null {
    return this.entries.get(name) ?? this.wildcard;
  }

  /** The cluster `t` belongs to, if it is still configured. */
  clusterOf(t: NodeTarget): Cluster | undefined {
    return this.byTarget.get(t);
  }

  /** Whether `t` is still one of a configured cluster's nodes (removed nodes drain). */
  isCurrentNode(t: NodeTarget): boolean {
    // byTarget holds exactly the configured nodes of the current clusters (an elected primary
    // is one of its cluster's replicas).
    return this.byTarget.has(t);
  }

  allClusters(): IterableIterator<Cluster> {
    return this.clusters.values();
  }

  allEntries(): IterableIterator<DatabaseEntry> {
    return this.entries.values();
  }

  /** The cluster of the top-level nodes, else the first one: where the admin console logs in. */
  get firstCluster(): Cluster {
    const c = this.clusters.values().next().value;
    if (!c) throw new Error("internal: no cluster configured");
    return c;
  }
}
