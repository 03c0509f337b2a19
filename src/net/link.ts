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

export class Link {
  socket: LinkSocket;
  owner: LinkOwner;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private backlogged = false;
  private closed = false;
  private closeReported = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

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
    if (this.closed || buf.length === 0) return;
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  /** Hands queued bytes to the kernel; what it refuses waits for `drain`. */
  flush(): void {
    if (this.closed || this.queuedBytes === 0) return;
    let out: Uint8Array;
    if (this.queue.length === 1) {
      out = this.queue[0];
    } else {
      // Coalesce small frames into one write: per-call syscall cost dominates a proxy.
      out = new Uint8Array(this.queuedBytes);
      let off = 0;
      for (const b of this.queue) {
        out.set(b, off);
        off += b.length;
      }
    }
    const written = this.socket.write(out);
    if (written < 0) {
      this.queue = [];
      this.queuedBytes = 0;
      return;
    }
    if (written >= out.length) {
      this.queue.length = 0;
      this.queuedBytes = 0;
      if (this.backlogged) {
        this.backlogged = false;
        this.owner.onBackpressure(false);
      }
      return;
    }
    const rest = out.subarray(written);
    this.queue = [rest];
    this.queuedBytes = rest.length;
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
    this.flush();
    const finish = (): void => {
      if (this.queuedBytes > 0 && !this.closed && Date.now() < deadline) {
        setTimeout(finish, 20);
        return;
      }
      this.destroy();
    };
    const deadline = Date.now() + 2000;
    if (this.queuedBytes === 0) {
      this.socket.shutdown();
      setTimeout(() => this.destroy(), 1000).unref?.();
    } else {
      setTimeout(finish, 20);
    }
  }

  /** Immediate close, queued data dropped. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.socket.end();
  }

  /** Called by the shared handlers. */
  handleDrain(): void {
    this.flush();
  }

  handleClose(error: Error | undefined): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
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
  open(socket) {
    socket.data.onOpen?.(socket);
  },
  data(socket, chunk) {
    const d = socket.data;
    if (d.ignore || !d.link) return;
    d.link.owner.onData(chunk);
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
