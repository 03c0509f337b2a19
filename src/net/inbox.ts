// An async queue of frames for the startup and authentication phases, where code reads best as
// "await the next message". The hot path after login never goes through here.

export interface InboxFrame {
  type: number;
  /** The frame body (header stripped); a view that stays valid (see FrameSink). */
  body: Uint8Array;
}

export class Inbox {
  private frames: InboxFrame[] = [];
  private waiter: { resolve: (f: InboxFrame) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  /** Body bytes of frames received and not yet read: what an unauthenticated client costs us. */
  bufferedBytes = 0;

  push(frame: InboxFrame): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(frame);
      return;
    }
    this.frames.push(frame);
    this.bufferedBytes += frame.body.length;
  }

  /** Fails the pending and all future reads (peer closed, timeout, protocol error). */
  fail(error: Error): void {
    if (!this.failure) this.failure = error;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }

  next(): Promise<InboxFrame> {
    const f = this.frames.shift();
    if (f) {
      this.bufferedBytes -= f.body.length;
      return Promise.resolve(f);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Frames that arrived but were not read (handed to the hot path when the phase ends). */
  drain(): InboxFrame[] {
    const out = this.frames;
    this.frames = [];
    this.bufferedBytes = 0;
    return out;
  }
}
