// Coalesces consecutive frames that sit back to back in one received chunk into a single view,
// so a chunk of 200 DataRows becomes one send(), not 200. No copying.
import type { Link } from "./link.ts";

export class ForwardRun {
  private buf: Uint8Array | null = null;
  private start = 0;
  private end = 0;
  private target: Link | null = null;

  /** Adds `buf[start, end)` for `target`; extends the current run when contiguous. */
  add(target: Link, buf: Uint8Array, start: number, end: number): void {
    if (this.buf === buf && this.end === start && this.target === target) {
      this.end = end;
      return;
    }
    this.flush();
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.target = target;
  }

  /** Whether the pending run goes to `target`. */
  isFor(target: Link): boolean {
    return this.buf !== null && this.target === target;
  }

  /** Forgets the pending run without sending it (its frames are being withheld for good). */
  discard(): void {
    this.buf = null;
    this.target = null;
  }

  /** Moves the pending run into `out` (a hold that outlives this chunk) instead of sending it. */
  spillInto(out: { buf: Uint8Array; start: number; end: number }[]): void {
    if (!this.buf) return;
    out.push({ buf: this.buf, start: this.start, end: this.end });
    this.discard();
  }

  /** Sends the pending run (call before anything that must come after it, and at chunk end). */
  flush(): void {
    if (!this.buf || !this.target) return;
    this.target.sendRange(this.buf, this.start, this.end);
    this.buf = null;
    this.target = null;
  }
}
