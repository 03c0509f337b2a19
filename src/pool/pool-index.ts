// Lookup of values by (node, user, database) as nested maps, so no pair of names can ever collide:
// user "app" + database "x/c" and user "app/x" + database "c" are different entries because the
// names are never joined into one string. Pure data structure; no I/O.

export class PoolIndex<N, V> {
  private readonly byNode = new Map<N, Map<string, Map<string, V>>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(node: N, user: string, database: string): V | undefined {
    return this.byNode.get(node)?.get(user)?.get(database);
  }

  /** Stores `value` (replacing any entry with the same three parts). */
  set(node: N, user: string, database: string, value: V): void {
    let users = this.byNode.get(node);
    if (!users) this.byNode.set(node, (users = new Map()));
    let dbs = users.get(user);
    if (!dbs) users.set(user, (dbs = new Map()));
    if (!dbs.has(database)) this.count++;
    dbs.set(database, value);
  }

  /** Removes the entry; empty inner maps go too, so removed names cost no memory. */
  delete(node: N, user: string, database: string): boolean {
    const users = this.byNode.get(node);
    const dbs = users?.get(user);
    if (!users || !dbs || !dbs.delete(database)) return false;
    this.count--;
    if (dbs.size === 0) users.delete(user);
    if (users.size === 0) this.byNode.delete(node);
    return true;
  }

  *values(): IterableIterator<V> {
    for (const users of this.byNode.values()) for (const dbs of users.values()) yield* dbs.values();
  }
}
