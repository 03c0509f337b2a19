// A client's RESET / SET ... TO DEFAULT / DISCARD ALL bookkeeping: on a dedicated connection
// those return the startup parameters to the values the client gave at startup; PgGate applied
// them with set_config(), so it applies them again before the client's next message. Seen while
// a batch is sent, acted on once it is on its way, forgotten when the connection goes back to
// the pool.
import type { ServerConn } from "../server/server-conn.ts";
import { literal, syncSql } from "./params.ts";
import { discardsAll, resetTargets, type ResetTargets } from "./resets.ts";

export class StartupResets {
  /** Seen in the batch being sent: startup parameters to apply again after it. */
  private seen: ResetTargets | null = null;
  /** DISCARD ALL seen in the batch being sent: it also drops the connection's prepared statements. */
  private discarded = false;
  /** Startup parameters to apply again before the next message on the attached connection. */
  private reapply: ResetTargets | null = null;

  /** Notes what `sql` resets of `startup` (the client's startup parameters). */
  noteIn(sql: string, startup: ReadonlyMap<string, string>): void {
    if (discardsAll(sql)) this.discarded = true;
    const t = resetTargets(sql, startup);
    if (t !== null) this.seen = this.seen === null ? t : merge(this.seen, t);
  }

  /**
   * The batch with the RESET / DISCARD ALL is on its way (a Query or Sync was sent on `s`).
   * DISCARD ALL also drops PgGate's prepared statements and applied parameters there, so they are
   * forgotten now; the startup values go back before the client's next message.
   */
  batchSent(s: ServerConn): void {
    if (this.seen === null && !this.discarded) return;
    if (this.discarded) {
      this.discarded = false;
      s.forgetSessionState();
    }
    const seen = this.seen;
    this.seen = null;
    if (seen !== null) this.reapply = this.reapply === null ? seen : merge(this.reapply, seen);
  }

  /** Whether startup parameters must be applied again before the next message. */
  get pending(): boolean {
    return this.reapply !== null;
  }

  /**
   * Applies them on `s` (PgGate's own query, written before the client's next message): session
   * values first, then the transaction-local ones (set_config(..., true) ends with the transaction
   * as SET LOCAL does; outside a transaction block it ends with this very query).
   */
  reapplyOn(s: ServerConn, startup: ReadonlyMap<string, string>): void {
    const which = this.reapply!;
    this.reapply = null;
    const wanted = new Map<string, string>();
    for (const [k, v] of startup) if (which.session === "all" || which.session.includes(k)) wanted.set(k, v);
    const local: string[] = [];
    for (const k of which.local) {
      const v = startup.get(k);
      if (v !== undefined) local.push(`pg_catalog.set_config(${literal(k)}, ${literal(v)}, true)`);
    }
    const parts: string[] = [];
    if (wanted.size > 0) parts.push(syncSql(new Map(), wanted));
    if (local.length > 0) parts.push(`SELECT ${local.join(", ")}`);
    if (parts.length === 0) return;
    s.sendInternalReported(parts.join("; "));
    for (const [k, v] of wanted) s.applied.set(k, v);
  }

  /** The connection went back to the pool: the next one gets the startup parameters when attached. */
  released(): void {
    this.reapply = null;
  }
}

function merge(a: ResetTargets, b: ResetTargets): ResetTargets {
  const session = a.session === "all" || b.session === "all" ? "all" : [...new Set([...a.session, ...b.session])];
  return { session, local: [...new Set([...a.local, ...b.local])] };
}
