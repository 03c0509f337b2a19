// Statement texts a server accepted, shared by the clients that would see exactly the same
// catalog: same database, same user, same startup parameters (search_path via options, ...).
// Only those may have a Parse answered without a server: a text that parsed for another user or
// database can fail there (privileges, search_path, objects that exist only there), and sharing
// wider would tell one user what another prepared. Clients that changed session state are
// pinned and always have a server, so they never use this. Nested maps: no name can alias.

import { paramsKey } from "./params.ts";

/** Texts per (user, database, parameters) at most; past it the set starts afresh. */
const MAX_TEXTS = 10_000;

export class AcceptedTexts {
  private readonly byDatabase = new Map<string, Map<string, Map<string, Set<string>>>>();

  /** The shared set for clients of (user, database) with startup parameters `params`. */
  setFor(user: string, database: string, params: ReadonlyMap<string, string>): BoundedSet {
    let users = this.byDatabase.get(database);
    if (!users) this.byDatabase.set(database, (users = new Map()));
    let byParams = users.get(user);
    if (!byParams) users.set(user, (byParams = new Map()));
    const key = paramsKey(params);
    let set = byParams.get(key);
    if (!set) byParams.set(key, (set = new Set()));
    return new BoundedSet(set);
  }
}

/** A view of one shared set that keeps it bounded. */
export class BoundedSet {
  constructor(private readonly set: Set<string> = new Set()) {}

  has(name: string): boolean {
    return this.set.has(name);
  }

  add(name: string): void {
    if (this.set.size >= MAX_TEXTS) this.set.clear();
    this.set.add(name);
  }
}
