// The shapes of parsed auth.hba rules and of the client they are matched against: shared by the
// parser (hba.ts), the matcher (hba-match.ts) and the address helpers (hba-address.ts).
import type { HbaRegex } from "./hba-regex.ts";

export type HbaMethod = "trust" | "reject" | "scram-sha-256" | "md5" | "password";
export type HbaConnectionType = "local" | "host" | "hostssl" | "hostnossl";

/** One entry of a database or user field. `sameuser` and `replication` occur only for databases. */
export type HbaNameMatcher =
  | { readonly kind: "all" }
  | { readonly kind: "sameuser" }
  | { readonly kind: "replication" }
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "regex"; readonly regex: HbaRegex };

/** A host rule's address field. `address` and `mask` are network-order bytes (4 or 16 of them). */
export type HbaAddress =
  | { readonly kind: "all" }
  | { readonly kind: "net"; readonly family: 4 | 6; readonly address: readonly number[]; readonly mask: readonly number[] };

/** An option after the method, kept as written; PgGate acts on none (and refuses clientcert other than no-verify). */
export interface HbaOption {
  readonly name: string;
  readonly value: string;
}

export interface HbaRule {
  /** The line the record starts on (a continued record spans more). */
  readonly line: number;
  readonly type: HbaConnectionType;
  readonly databases: readonly HbaNameMatcher[];
  readonly users: readonly HbaNameMatcher[];
  /** null for local records, which have no address field. */
  readonly address: HbaAddress | null;
  readonly method: HbaMethod;
  readonly options: readonly HbaOption[];
}

export interface HbaClient {
  /** Connected over the Unix socket: only local lines match it; host lines only TCP clients. */
  local?: boolean;
  /** The peer address as the socket reports it: IPv4, IPv6, or IPv4-mapped IPv6; a %zone is ignored. Unused when local. */
  address: string;
  ssl: boolean;
  /** As PostgreSQL sees it: a client that sends no database name gets its user name. */
  database: string;
  user: string;
}
