// auth.hba matching: the first rule that fits a client, the way PostgreSQL's check_hba picks one,
// and the refusals worded as PostgreSQL words them. Parsing is hba.ts's. Client names are
// attacker-chosen: only compared with === or tested against the administrator's regexes.
import { RESERVED_DATABASE_NAMES } from "../config/schema.ts";
import { truncateName } from "../protocol/index.ts";
import { clientIp, inNet, type ClientIp } from "./hba-address.ts";
import type { HbaClient, HbaNameMatcher, HbaRule } from "./hba-types.ts";

/** `all`, an exact name or a regex; the keywords that need the other name (sameuser) or never match ordinary connections (replication) do not match here. */
function nameMatches(m: HbaNameMatcher, name: string): boolean {
  switch (m.kind) {
    case "all":
      return true;
    case "name":
      return m.name === name;
    case "regex":
      return m.regex.test(name);
    case "sameuser":
    case "replication":
      return false;
  }
}

/** The client's database and every name that reaches the same place: both admin console names are one database. */
function databaseNames(database: string): readonly string[] {
  return RESERVED_DATABASE_NAMES.includes(database) ? RESERVED_DATABASE_NAMES : [database];
}

function databaseMatches(matchers: readonly HbaNameMatcher[], databases: readonly string[], user: string): boolean {
  return matchers.some((m) => (m.kind === "sameuser" ? databases.includes(user) : databases.some((d) => nameMatches(m, d))));
}

function userMatches(matchers: readonly HbaNameMatcher[], user: string): boolean {
  return matchers.some((m) => nameMatches(m, user));
}

function connectionMatches(rule: HbaRule, client: HbaClient, ip: ClientIp): boolean {
  if (rule.type === "local") return client.local === true;
  if (client.local === true || rule.address === null) return false;
  if (rule.type === "hostssl" && !client.ssl) return false;
  if (rule.type === "hostnossl" && client.ssl) return false;
  return rule.address.kind === "all" || inNet(ip, rule.address);
}

/**
 * First matching rule, as PostgreSQL does; null when no rule matches (PostgreSQL then refuses).
 * The names are matched as the server will know them: cut to 63 bytes (the session has already
 * cut them; this keeps matchHba right for any caller), else a reject line for a 63-byte role is
 * passed by that name plus two characters, which logs in as the same role. pggate and pgbouncer
 * are one database: a line about either applies to both, else a line refusing the console under
 * one name is passed by asking for it under the other.
 */
export function matchHba(rules: readonly HbaRule[], client: HbaClient): HbaRule | null {
  const ip = clientIp(client.address);
  const user = truncateName(client.user);
  const databases = databaseNames(truncateName(client.database));
  for (const rule of rules) {
    if (connectionMatches(rule, client, ip) && databaseMatches(rule.databases, databases, user) && userMatches(rule.users, user)) {
      return rule;
    }
  }
  return null;
}

function encryptionState(client: HbaClient): string {
  return client.ssl ? "SSL encryption" : "no encryption";
}

/** The host as PostgreSQL names it in these messages: "[local]" for a Unix-socket client. */
function hostOf(client: HbaClient): string {
  return client.local === true ? "[local]" : client.address;
}

/** PostgreSQL's message when no rule matches, e.g. `no pg_hba.conf entry for host "10.1.2.3", user "bob", database "app", SSL encryption`. */
export function noEntryMessage(client: HbaClient): string {
  return `no pg_hba.conf entry for host "${hostOf(client)}", user "${client.user}", database "${client.database}", ${encryptionState(client)}`;
}

/** PostgreSQL's message for a reject line: 'pg_hba.conf rejects connection for host "%s", user "%s", database "%s", %s'. */
export function rejectMessage(client: HbaClient): string {
  return `pg_hba.conf rejects connection for host "${hostOf(client)}", user "${client.user}", database "${client.database}", ${encryptionState(client)}`;
}
