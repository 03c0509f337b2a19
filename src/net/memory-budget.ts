// One process-wide budget for bytes held on behalf of clients (partial messages being received,
// batches queued before they are forwarded). Each client charges what it holds after handling
// its input; past the limit, clients that hold bytes stop reading until the total drains below
// 90 % of it. Bounded memory instead of growth: a handful of clients sending huge messages wait
// their turn rather than exhausting the host. No I/O; the session pauses and resumes sockets.
import { totalmem } from "node:os";

/** A client that stops reading while the budget is exhausted. */
export interface BudgetMember {
  /** Resumes reading (the budget has room again). */
  budgetResumed(): void;
}

/** See MemoryBudget.noteLargeInput. */
const LARGE_INPUT_GC_BYTES = 32 * 1024 * 1024;

/** A partial message this big counts as large input (see noteLargeInput). */
export const LARGE_MESSAGE_BYTES = 4 * 1024 * 1024;

export class MemoryBudget {
  used = 0;
  private limitBytes: number;
  private readonly waiting = new Set<BudgetMember>();
  /** Members holding bytes now. */
  private readonly holding = new Set<BudgetMember>();

  constructor(limit: number) {
    this.limitBytes = MemoryBudget.effective(limit);
  }

  /** limits.max_buffered_bytes; 0 = a quarter of RAM. */
  static effective(limit: number): number {
    return limit > 0 ? limit : Math.floor(totalmem() / 4);
  }

  get limit(): number {
    return this.limitBytes;
  }

  setLimit(limit: number): void {
    this.limitBytes = MemoryBudget.effective(limit);
    this.relieve();
  }

  /** Whether `bytes` more may be taken now (a message may be allocated whole). */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.limitBytes;
  }

  /** fits() as one function shared by every reader (no closure per client). */
  readonly fitsFn = (bytes: number): boolean => this.fits(bytes);

  /**
   * `member` now holds `delta` bytes more (or fewer), `holds` in all. Returns true when it must
   * stop reading: the budget is exhausted, it holds something (a client holding nothing may
   * always read), and another holder still reads — someone must go on, or a budget full of
   * partial messages would wait for ever (the budget is then exceeded by at most one message).
   */
  charge(member: BudgetMember, delta: number, holds: number): boolean {
    this.used += delta;
    if (holds > 0) this.holding.add(member);
    else this.holding.delete(member);
    if (delta < 0) this.relieve();
    if (this.used <= this.limitBytes || holds === 0) return false;
    let othersRead = false;
    for (const m of this.holding) {
      if (m !== member && !this.waiting.has(m)) {
        othersRead = true;
        break;
      }
    }
    if (!othersRead) return false;
    this.waiting.add(member);
    return true;
  }

  /**
   * `bytes` of a large message arrived (copied into its frame). Every data event comes in a
   * fresh socket buffer; once copied it is garbage, but until a collection runs it still counts
   * in RSS — a 200 MB message would peak at twice its size. So a collection is forced every
   * LARGE_INPUT_GC_BYTES of such input: a few milliseconds per 32 MB received.
   */
  noteLargeInput(bytes: number): void {
    this.largeInput += bytes;
    if (this.largeInput < LARGE_INPUT_GC_BYTES) return;
    this.largeInput = 0;
    Bun.gc(true);
  }

  private largeInput = 0;

  /** A member that left no longer waits. */
  forget(member: BudgetMember): void {
    this.waiting.delete(member);
    this.holding.delete(member);
  }

  private relieve(): void {
    if (this.waiting.size === 0 || this.used > this.limitBytes * 0.9) return;
    const members = [...this.waiting];
    this.waiting.clear();
    for (const m of members) m.budgetResumed();
  }
}
