// Runs admin console commands against the live gateway: SHOW (show.ts), RELOAD, PAUSE/RESUME,
// SHUTDOWN, KILL_CLIENT, ... once access.ts says this user may. With several workers it runs them
// on every worker through an AdminGroup (group.ts) and replies for the group.
import { error, fatal, SqlState } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { GatewayContext, GatewayControl } from "../session/context.ts";
import { accessDenied, consoleRole, mayRun } from "./access.ts";
import type { AdminCommand } from "./commands.ts";
import type { AdminBackend } from "./console.ts";
import type { AdminResult } from "./result.ts";
import { show } from "./show.ts";
import { combineOutcomes, isLocalCommand, type AdminGroup } from "./group.ts";

export class GatewayAdmin implements AdminBackend {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly control: GatewayControl,
    private readonly who: string,
    /** The other workers, when there are: commands then run on every worker. */
    private readonly group: AdminGroup | null = null,
  ) {}

  async execute(cmd: AdminCommand): Promise<AdminResult> {
    if (!mayRun(consoleRole(this.ctx.config.admin, this.who), cmd)) throw accessDenied();
    if (this.group && !isLocalCommand(cmd)) return combineOutcomes(cmd, await this.group.runEverywhere(cmd, this.who));
    return this.executeHere(cmd);
  }

  /** Runs `cmd` on this worker alone (a command another worker's console sent here, or one process). */
  async executeHere(cmd: AdminCommand): Promise<AdminResult> {
    switch (cmd.kind) {
      case "empty":
        return { tag: "" };
      case "show":
        return show(this.ctx, cmd.what);
      case "reload": {
        const why = this.control.reload();
        if (why) throw error(SqlState.InvalidParameterValue, `config rejected, the old one stays in effect: ${why}`);
        return { tag: "RELOAD" };
      }
      case "pause":
        return this.pause(cmd.database);
      case "resume":
        return this.resume(cmd.database);
      case "shutdown":
        log.info("admin_shutdown", { by: this.who, wait_for_clients: cmd.waitForClients });
        setTimeout(() => this.control.shutdown(cmd.waitForClients), 50);
        return { tag: "SHUTDOWN" };
      case "suspend":
        // PgBouncer's SUSPEND flushes and freezes every socket so `pgbouncer -R` can take them
        // over. PgGate has no takeover: a SUSPEND that returned would leave a restart script
        // believing it could hand the sockets on. Refused, naming what does the job here.
        throw error(
          SqlState.FeatureNotSupported,
          "SUSPEND is not supported: PgGate has no online restart (pgbouncer -R) to hand sockets to",
          "To stop traffic use PAUSE [db] (running transactions finish, new ones wait), then RESUME; for restarts without a gap, workers processes share the port: restart them one at a time.",
        );
      case "reconnect": {
        const n = this.ctx.pools.retire(cmd.database);
        log.info("admin_reconnect", { by: this.who, db: cmd.database ?? undefined, connections: n });
        return { tag: "RECONNECT" };
      }
      case "wait_close":
        return this.waitClose(cmd.database);
      case "kill": {
        log.info("admin_kill", { by: this.who, db: cmd.database });
        for (const c of [...this.ctx.clients]) {
          if (c.database === cmd.database) c.fail(fatal(SqlState.AdminShutdown, `terminating connection due to administrator command (KILL ${cmd.database})`));
        }
        this.ctx.pools.retire(cmd.database);
        return { tag: "KILL" };
      }
      case "disable":
        this.ctx.disabled.add(cmd.database);
        log.info("admin_disable", { by: this.who, db: cmd.database });
        return { tag: "DISABLE" };
      case "enable":
        this.ctx.disabled.delete(cmd.database);
        log.info("admin_enable", { by: this.who, db: cmd.database });
        return { tag: "ENABLE" };
      case "set": {
        const why = this.control.set(cmd.key, cmd.value);
        if (why) throw error(SqlState.InvalidParameterValue, why);
        log.info("admin_set", { by: this.who, key: cmd.key });
        return { tag: "SET" };
      }
      case "kill_client": {
        const c = [...this.ctx.clients].find((x) => x.id === cmd.id);
        if (!c) throw error(SqlState.InvalidParameterValue, `no client with id ${cmd.id} (see SHOW CLIENTS)`);
        log.info("admin_kill_client", { by: this.who, client: cmd.id });
        c.fail(fatal(SqlState.AdminShutdown, "terminating connection due to administrator command (KILL_CLIENT)"));
        return { tag: "KILL_CLIENT" };
      }
    }
  }

  /** WAIT_CLOSE: returns once the connections RECONNECT (or KILL) marked are gone, or the shutdown timeout passed. */
  private async waitClose(database: string | null): Promise<AdminResult> {
    const deadline = Date.now() + this.ctx.config.shutdownTimeoutMs;
    while (Date.now() < deadline && this.ctx.pools.retiring(database) > 0) await Bun.sleep(20);
    return { tag: "WAIT_CLOSE" };
  }

  /** PAUSE: new transactions wait; returns once the running ones have finished (or the shutdown timeout passed). */
  private async pause(database: string | null): Promise<AdminResult> {
    this.ctx.paused.pause(database);
    log.info("admin_pause", { by: this.who, db: database ?? undefined, all: database === null });
    const deadline = Date.now() + this.ctx.config.shutdownTimeoutMs;
    while (Date.now() < deadline && [...this.ctx.clients].some((c) => c.state === "active" && (database === null || c.database === database))) {
      await Bun.sleep(20);
    }
    return { tag: "PAUSE" };
  }

  private async resume(database: string | null): Promise<AdminResult> {
    this.ctx.paused.resume(database);
    log.info("admin_resume", { by: this.who, db: database ?? undefined, all: database === null });
    for (const c of this.ctx.clients) c.wake();
    return { tag: "RESUME" };
  }

}
