// One TCP/TLS socket with an outbound queue: Bun's write() drops what it does not accept, so every
// byte we owe a peer is kept here until the kernel takes it. Knows nothing about PostgreSQL.
import type { Socket, SocketHandler } from "bun";

/** What a link reports to whoever owns it (a client session or a server connection). */
export interface LinkOwner {
  onData(chunk: Uint8Array): void;
  /** The outbound queue crossed the high-water mark (true) or emptied again (false). */
  onBackpressure(backlogged: boolean): void;
  onClose(error: Error | undefined): void;
}

/** Per-socket data: `ignore` marks the raw half of a socket upgraded to TLS (BUN-NOTES). */
export interface LinkData {
  link: Link | null;
  ignore: boolean;
  /** Called from `open`: used to learn when an outgoing TLS handshake has finished. */
  onOpen?: (socket: LinkSocket) => void;
}

export type LinkSocket = Socket<LinkData>;

/** Above this many queued bytes the owner is told to pause whatever feeds us. */
const HIGH_WATER = 512 * 1024;

/**
 * Links that queued bytes while a socket handler runs: flushed when it returns, one write()
 * each, without a microtask per link (most sends happen inside a data handler). Sends from
 * anywhere else (timers, promises) schedule a microtask.
 */
const dirty: Link[] = [];
let inHandler = false;

/** Links that queued outside a handler: one microtask writes them all (no closure per link). */
const later: Link[] = [];

/** Writes each link of `list` (one may be added while it runs) and empties it. */
function flushEach(list: Link[]): void {
  for (let i = 0; i < list.length; i++) list[i].flushScheduledWrite();
  list.length = 0;
}

const flushLater = (): void => flushEach(later);

export class Link {
  socket: LinkSocket;
  owner: LinkOwner;
  /** Outbound byte ranges, oldest first: bufs[i][starts[i], ends[i]). Parallel arrays, no objects. */
  private readonly bufs: Uint8Array[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private backlogged = false;
  private closed = false;
  private closeReported = false;

  constructor(socket: LinkSocket, owner: LinkOwner) {
    this.socket = socket;
    this.owner = owner;
    socket.data.link = this;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Queues bytes for the peer. The buffer must not be modified afterwards (frame views from the
   * reader and freshly built messages qualify). Writes are batched into one write() per
   * event-loop turn, after the current handler returns.
   */
  send(buf: Uint8Array): void {
    this.sendRange(buf, 0, buf.length);
  }

  /**
   * Queues `buf[start, end)` without making a view: a subarray of a socket's receive buffer
   * forces JSC to materialise its ArrayBuffer, which costs more than the write itself.
   */
  sendRange(buf: Uint8Array, start: number, end: number): void {
    if (this.closed || end <= start) return;
    this.bufs.push(buf);
    this.starts.push(start);
    this.ends.push(end);
    this.queuedBytes += end - start;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (inHandler) dirty.push(this);
      else if (later.push(this) === 1) queueMicrotask(flushLater);
    }
  }

  /** The write scheduled by send() (see `dirty` and `later`). */
  flushScheduledWrite(): void {
    this.flushScheduled = false;
    this.flush();
  }

  /** Hands queued bytes to the kernel; what it refuses waits for `drain`. */
  flush(): void {
    if (this.closed || this.queuedBytes === 0) return;
    let out: Uint8Array;
    let start: number;
    let end: number;
    if (this.bufs.length === 1) {
      out = this.bufs[0];
      start = this.starts[0];
      end = this.ends[0];
    } else {
      // Coalesce small frames into one write: per-call syscall cost dominates a proxy.
      out = new Uint8Array(this.queuedBytes);
      let off = 0;
      for (let i = 0; i < this.bufs.length; i++) {
        const s0 = this.starts[i];
        const e0 = this.ends[i];
        out.set(s0 === 0 && e0 === this.bufs[i].length ? this.bufs[i] : this.bufs[i].subarray(s0, e0), off);
        off += e0 - s0;
      }
      start = 0;
      end = out.length;
    }
    const len = end - start;
    const written = start === 0 && end === out.length ? this.socket.write(out) : this.socket.write(out, start, len);
    this.bufs.length = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    if (written < 0) {
      this.queuedBytes = 0;
      return;
    }
    if (written >= len) {
      this.queuedBytes = 0;
      if (this.backlogged) {
        this.backlogged = false;
        this.owner.onBackpressure(false);
      }
      return;
    }
    this.bufs.push(out);
    this.starts.push(start + written);
    this.ends.push(end);
    this.queuedBytes = len - written;
    if (!this.backlogged && this.queuedBytes > HIGH_WATER) {
      this.backlogged = true;
      this.owner.onBackpressure(true);
    }
  }

  pause(): void {
    if (!this.closed) this.socket.pause();
  }

  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  /**
   * Graceful close: flush what we owe, half-close, and let the peer's EOF (or a timer) finish it.
   * `end()` would reset the connection and lose queued data if the peer is still sending.
   */
  close(): void {
    if (this.closed) return;
    // Stop reading: nothing the peer sends now is wanted, and a client that keeps streaming
    // (hostile, before authentication) must not cost us its bytes while we drain and half-close.
    // A peer that already stopped sending sees our FIN as usual; one still sending may get a
    // reset when the timer below closes the socket.
    this.socket.pause();
    this.flush();
    // Wait (up to 2 s) for the queue to drain, then half-close; the peer's EOF or a timer ends it.
    const deadline = Date.now() + 2000;
    const finish = (): void => {
      if (this.closed) return;
      if (this.queuedBytes > 0 && Date.now() < deadline) {
        setTimeout(finish, 20);
        return;
      }
      this.socket.shutdown();
      setTimeout(() => this.destroy(), 1000).unref?.();
    };
    finish();
  }

  /** Immediate close, queued data dropped. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropQueue();
    this.socket.end();
  }

  private dropQueue(): void {
    this.bufs.length = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.queuedBytes = 0;
  }

  /** Called by the shared handlers. */
  handleDrain(): void {
    this.flush();
  }

  handleClose(error: Error | undefined): void {
    this.closed = true;
    this.dropQueue();
    if (this.closeReported) return;
    this.closeReported = true;
    this.owner.onClose(error);
  }
}

/**
 * The socket handlers shared by every link. Each one looks the link up in `socket.data`; the raw
 * half of a TLS-upgraded socket has `ignore` set and its ciphertext is dropped here.
 */
export const linkHandlers: SocketHandler<LinkData> = {
  // A plain Uint8Array per data event: Bun's default wraps each chunk in a Buffer object too.
  binaryType: "uint8array",
  open(socket) {
    socket.data.onOpen?.(socket);
  },
  data(socket, chunk) {
    const d = socket.data;
    if (d.ignore || !d.link) return;
    // The outermost handler writes what was queued (a nested one, not expected, leaves it to it).
    const outermost = !inHandler;
    inHandler = true;
    try {
      d.link.owner.onData(chunk);
    } finally {
      if (outermost) {
        inHandler = false;
        flushEach(dirty);
      }
    }
  },
  drain(socket) {
    const d = socket.data;
    if (!d.ignore) d.link?.handleDrain();
  },
  close(socket, error) {
    const d = socket.data;
    if (!d.ignore) d.link?.handleClose(error);
  },
  end(socket) {
    // Peer half-closed: PostgreSQL never half-closes a live session, so treat it as a close.
    const d = socket.data;
    if (!d.ignore) socket.end();
  },
  error(socket, error) {
    const d = socket.data;
    if (!d.ignore) d.link?.handleClose(error);
  },
};
