// PgBouncer's authentication settings → PgGate's auth.mode and its keys. auth_type, auth_file,
// auth_user, auth_query and auth_hba_file only mean something together, so they are decided here
// as one. Reads the userlist and hba files through `read` to say now what `pggate check` would.

import { parseHba } from "../auth/hba.ts";
import { parseUserlist } from "../auth/userlist.ts";
import { verifierProblem, type Verifier } from "../auth/verifier.ts";
import { DEFAULT_MAX_SCRAM_ITERATIONS } from "../config/schema.ts";
import type { IniEntry } from "./ini.ts";
import { at, type Origin, type Plan } from "./plan.ts";

export interface AuthInput {
  readonly entries: ReadonlyMap<string, IniEntry>;
  /** The userlist named on the command line (absolute), which wins over auth_file. */
  readonly userlistArg: string | undefined;
  readonly resolvePath: (value: string, e: IniEntry) => string;
  readonly read: (path: string) => string;
}

/** auth_type values that check a password against auth_file / auth_query, as PgGate does. */
const PASSWORD_TYPES = ["md5", "scram-sha-256", "plain", "hba"];

export function mapAuth(input: AuthInput, plan: Plan): void {
  const { entries } = input;
  const origin = (key: string): Origin | null => {
    const e = entries.get(key);
    return e ? { file: e.file, line: e.line, key } : null;
  };
  const from = (key: string): string => {
    const e = entries.get(key);
    return e ? `${key} = ${e.value} (${at(e)})` : `${key} (PgBouncer's default)`;
  };
  const typeEntry = entries.get("auth_type");
  // PgBouncer 1.18's default auth_type.
  const authType = (typeEntry?.value ?? "md5").trim().toLowerCase();
  const authUser = entries.get("auth_user")?.value.trim() ?? "";

  let userlist: { path: string; comment: string } | undefined;
  const fileEntry = entries.get("auth_file");
  if (input.userlistArg) {
    userlist = { path: input.userlistArg, comment: `named on the command line${fileEntry ? `, instead of auth_file = ${fileEntry.value} (${at(fileEntry)})` : ""}` };
  } else if (fileEntry && fileEntry.value !== "") {
    userlist = { path: input.resolvePath(fileEntry.value, fileEntry), comment: from("auth_file") };
  }

  if (!PASSWORD_TYPES.includes(authType)) unsupportedType(authType, origin("auth_type"), plan);
  if (authType === "plain") plan.say(origin("auth_type"), "note", "plain: PgGate challenges each client with SCRAM or MD5 as its stored secret allows, never for a cleartext password unless auth.hba says password");

  const users = userlist ? readUserlist(userlist.path, input.read, plan) : undefined;

  if (authUser !== "") {
    // PgBouncer looks a user up in auth_file first and runs auth_query for the rest; PgGate has one
    // mode, and auth_query finds every role, so it is the one that keeps all logins working.
    plan.set("auth.mode", "auth_query", `${from("auth_user")}: PgGate runs auth_query as auth.auth_user`);
    plan.set("auth.auth_user", authUser, from("auth_user"));
    authUserPassword(authUser, users, userlist?.path, origin("auth_user"), plan);
    if (userlist) plan.say(origin("auth_file"), "note", `with auth_user, PgGate checks every client through auth_query; ${userlist.path} only supplied ${authUser}'s password (PgBouncer asked it first for every user)`);
    const query = entries.get("auth_query");
    if (query) plan.set("auth.auth_query", query.value, from("auth_query"));
    const db = entries.get("auth_dbname");
    if (db) plan.set("auth.auth_database", db.value, from("auth_dbname"));
  } else {
    for (const key of ["auth_query", "auth_dbname"]) {
      if (entries.has(key)) plan.say(origin(key), "dropped", "PgBouncer uses it only with auth_user, which is not set");
    }
    if (userlist) {
      plan.set("auth.mode", "userlist", `${from("auth_type")}: PgGate checks passwords against auth.userlist`);
      plan.set("auth.userlist", userlist.path, userlist.comment);
    } else {
      plan.set("auth.mode", "passthrough", "no auth_file or auth_user: the primary checks each client's password");
      plan.say(origin("auth_file"), "note", "no auth_file and no auth_user: auth.mode passthrough lets the primary check passwords (add auth.auth_user for SCRAM/MD5 users to reach replicas)");
    }
  }

  const hba = entries.get("auth_hba_file");
  if (authType === "hba") {
    if (hba && hba.value !== "") {
      const path = input.resolvePath(hba.value, hba);
      plan.set("auth.hba", path, from("auth_hba_file"));
      checkHba(path, input.read, origin("auth_hba_file"), plan);
    } else plan.say(origin("auth_type"), "unsupported", "hba without auth_hba_file: no client rules carried over");
  } else if (hba) {
    plan.say(origin("auth_hba_file"), "dropped", `PgBouncer reads it only with auth_type = hba (auth_type is ${authType})`);
  }
}

function unsupportedType(authType: string, origin: Origin | null, plan: Plan): void {
  const why: Record<string, string> = {
    trust: "PgGate checks every client's password in userlist and auth_query mode; to let clients in without one, point auth.hba at a file of `host all all 0.0.0.0/0 trust` lines (PgGate then needs each user's MD5 hash or password in the userlist, or a server that trusts it)",
    any: "PgGate needs each client's own user name and checks its password; there is no forced user to stand in for it",
    cert: "PgGate does not verify client certificates; clients authenticate with a password (auth.hba may require hostssl)",
    pam: "PgGate has no PAM; auth_query or userlist with stored verifiers, or passthrough to the server",
    peer: "PgGate has no Unix-socket clients to ask for their OS user",
  };
  plan.say(origin, "unsupported", `auth_type ${authType}: ${why[authType] ?? "not a method PgGate has"}; converted as a password method`);
}

/** Parses the userlist as PgGate will, naming every user it would refuse. */
function readUserlist(path: string, read: (p: string) => string, plan: Plan): Map<string, Verifier> | undefined {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    plan.say(null, "note", `${path} cannot be read here (${(e as Error).message}): pggate check fails until it exists`);
    return undefined;
  }
  let users: Map<string, Verifier>;
  try {
    users = parseUserlist(text, path);
  } catch (e) {
    plan.say(null, "unsupported", `${(e as Error).message}: PgGate refuses the file; fix that line`);
    return undefined;
  }
  if (users.size === 0) plan.say(null, "note", `${path} lists no users: nobody can log in until it does`);
  for (const [user, v] of users) {
    const problem = verifierProblem(v, DEFAULT_MAX_SCRAM_ITERATIONS);
    if (problem) plan.say(null, "note", `${path}: user ${JSON.stringify(user)} cannot log in through PgGate: ${problem}`);
  }
  return users;
}

/** auth_user's password: PgBouncer reads it from auth_file; PgGate needs it in auth.auth_password or the environment. */
function authUserPassword(user: string, users: Map<string, Verifier> | undefined, path: string | undefined, origin: Origin | null, plan: Plan): void {
  const v = users?.get(user);
  if (v?.kind === "plain") {
    plan.set("auth.auth_password", v.password, `${user}'s password from ${path} (or remove it and set PGGATE_AUTH_PASSWORD)`);
    return;
  }
  const why = v ? `${path} holds only its ${v.kind === "md5" ? "MD5 hash" : "SCRAM verifier"}` : "no userlist entry holds it";
  plan.say(origin, "note", `${user}'s password is not carried over (${why}): set PGGATE_AUTH_PASSWORD, or auth.auth_password, unless the server trusts ${user}`);
}

function checkHba(path: string, read: (p: string) => string, origin: Origin | null, plan: Plan): void {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    plan.say(origin, "note", `${path} cannot be read here (${(e as Error).message}): pggate check fails until it exists`);
    return;
  }
  try {
    if (parseHba(text).length === 0) plan.say(origin, "unsupported", `${path} has no rules; PgGate refuses such a file (it would let nobody in)`);
  } catch (e) {
    plan.say(origin, "unsupported", `${path}: ${(e as Error).message}; PgGate refuses the file until that line is changed`);
  }
}
