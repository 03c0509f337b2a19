// A raw-socket PostgreSQL client for what no driver can express: split packets, lying lengths,
// held logins, malformed startups. Bytes in and out only; frames come from test/frames.ts.
import type { Socket } from "bun";

/** A connection that records everything received; write, wait for bytes or for the close. */
export class RawClient {
  received: number[] = [];
  closed = false;
  private socket: Socket<undefined> | null = null;

  static async connect(port: number): Promise<RawClient> {
    const c = new RawClient();
    c.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, d) => {
          for (const b of d) c.received.push(b);
        },
        close: () => {
          c.closed = true;
        },
        error: () => {
          c.closed = true;
        },
      },
    });
    return c;
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.received);
  }

  /** Writes all of `data`, waiting for the kernel to take it (large writes come back partial). */
  async write(data: Uint8Array): Promise<boolean> {
    let off = 0;
    while (off < data.length) {
      if (this.closed || !this.socket) return false;
      const n = this.socket.write(data.subarray(off));
      off += n;
      if (n === 0) await Bun.sleep(5);
    }
    return true;
  }

  /** Waits until `pred(bytes)` holds, the peer closes, or `ms` pass; returns whether it held. */
  async waitFor(pred: (b: Uint8Array) => boolean, ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (pred(this.bytes)) return true;
      if (this.closed) return pred(this.bytes);
      await Bun.sleep(10);
    }
    return pred(this.bytes);
  }

  async waitClosed(ms = 3000): Promise<boolean> {
    return this.waitFor(() => this.closed, ms);
  }

  /** Connects, writes `chunks`, waits up to `ms` for the peer to close, and closes: what came back. */
  static async exchange(port: number, chunks: Uint8Array[], ms = 3000): Promise<{ bytes: Uint8Array; closed: boolean }> {
    const c = await RawClient.connect(port);
    for (const chunk of chunks) await c.write(chunk);
    const closed = await c.waitClosed(ms);
    c.close();
    return { bytes: c.bytes, closed };
  }

  close(): void {
    this.socket?.end();
  }
}
