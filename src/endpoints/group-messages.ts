// The IPC messages between the supervisor and its workers (`workers: N`). Types only: the
// supervisor (supervisor.ts) and each worker (gateway.ts) implement the two ends.
import type { AdminCommand, CommandOutcome } from "../admin/index.ts";

/** What the supervisor asks every worker for, to answer an HTTP request or an admin console. */
export type Report = { kind: "metrics" } | { kind: "status" } | { kind: "ready" } | { kind: "command"; command: AdminCommand; who: string };

/** A worker's readiness: null = ready, else why not (as /readyz says it). */
export interface Readiness {
  notReady: string | null;
}

export interface WorkerMessage {
  /** The worker listens (client port and cancel exchange); forwarded cancels go to this port. */
  cancelPort?: number;
  /** Answers the supervisor's `ask` of the same number. */
  answer?: number;
  body?: unknown;
  /** The admin console on this worker asks for `report` from every worker; `gathered` answers. */
  gather?: number;
  report?: Report;
}

export interface SupervisorMessage {
  cancelPorts?: number[];
  /** Asks this worker for `report`; answer with `answer` = this number. */
  ask?: number;
  report?: Report;
  /** Every live worker's answer to this worker's `gather` (null: that worker did not answer in time). */
  gathered?: number;
  bodies?: (CommandOutcome | null)[];
}
