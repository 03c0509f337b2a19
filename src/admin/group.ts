// With several workers, an admin command typed on any worker's console runs on every worker (the
// Gateway carries it there through the supervisor); this file turns their outcomes into one reply.
import { PgError, SqlState, error, type Severity } from "../errors/index.ts";
import type { AdminCommand } from "./commands.ts";
import type { AdminResult } from "./result.ts";
import { mergeShow } from "./show-merge.ts";

/** One worker's outcome of a command, as it crosses the IPC channel (no class instances). */
export type CommandOutcome =
  | { ok: AdminResult }
  | { error: { severity: Severity; code: string; message: string; detail?: string; hint?: string } };

/** Runs a command on every live worker (this one included); null for a worker that did not answer. */
export interface AdminGroup {
  runEverywhere(cmd: AdminCommand, who: string): Promise<(CommandOutcome | null)[]>;
}

/** Commands answered by the worker the console is on: nothing to gather or to apply elsewhere. */
export function isLocalCommand(cmd: AdminCommand): boolean {
  if (cmd.kind === "empty" || cmd.kind === "suspend") return true;
  return cmd.kind === "show" && (cmd.what === "config" || cmd.what === "version" || cmd.what === "help" || cmd.what === "dns_hosts" || cmd.what === "dns_zones");
}

export async function outcomeOf(run: Promise<AdminResult>): Promise<CommandOutcome> {
  try {
    return { ok: await run };
  } catch (e) {
    const err = e instanceof PgError ? e : error(SqlState.InternalError, `admin command failed: ${(e as Error).message}`);
    return { error: { severity: err.severity, code: err.code, message: err.message, detail: err.detail, hint: err.hint } };
  }
}

/**
 * The group's reply: a SHOW merges every worker's table (show-merge.ts); KILL_CLIENT succeeds where
 * the client is (ids are unique across workers); any other command succeeds only if it did on
 * every worker that answered, else the first error is the reply. No worker answering is an error.
 */
export function combineOutcomes(cmd: AdminCommand, outcomes: readonly (CommandOutcome | null)[]): AdminResult {
  const answered = outcomes.filter((o): o is CommandOutcome => o !== null);
  const failed = answered.filter((o): o is Extract<CommandOutcome, { error: unknown }> => "error" in o);
  const succeeded = answered.filter((o): o is Extract<CommandOutcome, { ok: unknown }> => "ok" in o);
  const raise = (o: Extract<CommandOutcome, { error: unknown }>): never => {
    const e = o.error;
    throw new PgError(e.severity, e.code, e.message, e.detail, e.hint);
  };
  if (answered.length === 0) throw error(SqlState.InternalError, "no worker answered the admin command");
  if (cmd.kind === "kill_client") return succeeded.length > 0 ? succeeded[0].ok : raise(failed[0]);
  if (failed.length > 0) raise(failed[0]);
  if (cmd.kind === "show") return mergeShow(cmd.what, succeeded.map((o) => o.ok));
  return succeeded[0].ok;
}
