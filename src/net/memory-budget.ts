// One process-wide budget for bytes held on behalf of clients: partial messages being received,
// batches queued before they are forwarded (input, charge()), and the prepared statements they
// keep (retain()). Past the limit, clients that hold input stop reading until the total drains
// below 90 % of it. Bounded memory instead of growth: a handful of clients sending huge messages
// wait their turn rather than exhausting the host. No I/O; the session pauses and resumes sockets.
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
  private usedBytes = 0;
  private retainedBytes = 0;
  private limitBytes: number;
  /** Paused members, longest waiting first. */
  private readonly waiting = new Set<BudgetMember>();
  /** Members holding input now (the ones that may be paused). */
  private readonly holding = new Set<BudgetMember>();
  /** Input bytes each member holds; members holding none are absent. */
  private readonly input = new Map<BudgetMember, number>();
  /** Statement bytes each member keeps; members keeping none are absent. */
  private readonly kept = new Map<BudgetMember, number>();

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

  /** Bytes charged now, input and statements. */
  get used(): number {
    return this.usedBytes;
  }

  /** Of `used`, the bytes of prepared statements clients keep. */
  get retained(): number {
    return this.retainedBytes;
  }

  setLimit(limit: number): void {
    this.limitBytes = MemoryBudget.effective(limit);
    this.relieve();
  }

  /** Whether `bytes` more may be taken now (a message may be allocated whole). */
  fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.limitBytes;
  }

  /** fits() as one function shared by every reader (no closure per client). */
  readonly fitsFn = (bytes: number): boolean => this.fits(bytes);

  /**
   * `member` now holds `delta` bytes more (or fewer) of input, `holds` in all. Returns true when
   * it must stop reading: the budget is exhausted, it holds something (a client holding nothing
   * may always read), and another holder still reads — someone must go on, or a budget full of
   * partial messages would wait for ever (the budget is then exceeded by at most one message).
   */
  charge(member: BudgetMember, delta: number, holds: number): boolean {
    this.usedBytes += add(this.input, member, delta);
    if (holds > 0) this.holding.add(member);
    else this.holding.delete(member);
    if (delta < 0) this.relieve();
    if (this.usedBytes <= this.limitBytes || holds === 0) return false;
    if (!this.someoneReads(member)) return false;
    this.waiting.add(member);
    return true;
  }

  /**
   * `member` now keeps `delta` bytes more (or fewer) of prepared statements. They count against
   * the limit but never pause anyone (the member cannot free them without reading); whether
   * more may be kept is the caller's question (fits()).
   */
  retain(member: BudgetMember, delta: number): void {
    const change = add(this.kept, member, delta);
    this.usedBytes += change;
    this.retainedBytes += change;
    if (delta < 0) this.relieve();
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

  /**
   * A member left: everything it held is given back, and members paused for want of room
   * resume if there is room now (or if they are the only holders left).
   */
  forget(member: BudgetMember): void {
    this.waiting.delete(member);
    this.holding.delete(member);
    const kept = this.kept.get(member) ?? 0;
    this.usedBytes -= (this.input.get(member) ?? 0) + kept;
    this.retainedBytes -= kept;
    this.input.delete(member);
    this.kept.delete(member);
    this.relieve();
  }

  /** Whether a holder other than `member` is still reading. */
  private someoneReads(member: BudgetMember | null): boolean {
    for (const m of this.holding) if (m !== member && !this.waiting.has(m)) return true;
    return false;
  }

  private relieve(): void {
    if (this.waiting.size === 0) return;
    if (this.usedBytes <= this.limitBytes * 0.9) {
      const members = [...this.waiting];
      this.waiting.clear();
      for (const m of members) m.budgetResumed();
      return;
    }
    // Still full, but nobody holding input reads (the one who did left or finished; or kept
    // statements fill the budget): the longest waiting goes on, or they would wait for ever.
    if (this.someoneReads(null)) return;
    const [first] = this.waiting;
    this.waiting.delete(first);
    first.budgetResumed();
  }
}

/**
 * Adds `delta` to `member`'s entry in `tally`, never below 0: a member forgotten gives nothing
 * back twice (what it releases while closing was returned whole by forget()). Returns the change.
 */
function add(tally: Map<BudgetMember, number>, member: BudgetMember, delta: number): number {
  if (delta === 0) return 0;
  const had = tally.get(member) ?? 0;
  const now = Math.max(0, had + delta);
  if (now === 0) tally.delete(member);
  else tally.set(member, now);
  return now - had;
}
