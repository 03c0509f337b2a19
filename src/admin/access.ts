// Who may run which console command: admin.users everything, admin.stats_users only what reads
// (PgBouncer's stats_users). Pure; decided per command against the live config, so a RELOAD that
// moves a user between the lists applies to open console sessions at once.
import type { Config } from "../config/types.ts";
import { error, SqlState, type PgError } from "../errors/index.ts";
import type { AdminCommand } from "./commands.ts";

export type ConsoleRole = "admin" | "stats" | "none";

export function consoleRole(admin: Config["admin"], user: string): ConsoleRole {
  if (admin.users.includes(user)) return "admin";
  if (admin.statsUsers.includes(user)) return "stats";
  // Dropped from both lists by a reload since logging in.
  return "none";
}

/** Commands that only read: SHOW (every table, none holds a secret) and the empty query. */
export function isReadOnly(cmd: AdminCommand): boolean {
  return cmd.kind === "show" || cmd.kind === "empty";
}

export function mayRun(role: ConsoleRole, cmd: AdminCommand): boolean {
  if (role === "admin") return true;
  if (role === "stats") return isReadOnly(cmd);
  return cmd.kind === "empty";
}

/**
 * PgBouncer's text, so scripts matching it keep working. PgBouncer 1.18 sends it with SQLSTATE
 * 08P01 (protocol violation), which drivers may take for a broken connection; PgGate sends 42501
 * insufficient_privilege, which is what happened.
 */
export function accessDenied(): PgError {
  return error(SqlState.InsufficientPrivilege, "admin access needed", "This user is in admin.stats_users: SHOW commands only.");
}
