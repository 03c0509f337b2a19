// Chunks in, complete frames out: the only place that knows where one message ends and the next
// begins. Keeps at most one partial frame; never decodes bodies.
import { ProtocolError, StartupLengthError } from "./errors.ts";

/** Startup-phase packets have no type byte (StartupMessage, SSLRequest, CancelRequest, ...). */
export const UNTYPED = 0;
/** PostgreSQL itself refuses startup packets above this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;
/**
 * A partial frame's buffer starts at most this big and doubles as bytes actually arrive, so a
 * peer declaring a huge length costs what it sends, not what it declares.
 */
export const INITIAL_PARTIAL_BYTES = 64 * 1024;

/**
 * Called once per complete frame. `buf[start, end)` holds the whole frame: for typed frames the
 * type byte and Int32 length come first (body at start + 5); for `type === UNTYPED` the Int32
 * length comes first (body at start + 4). The view stays valid after the call: Bun hands every
 * `data` event a fresh buffer and a reassembled frame gets its own allocation, so a sink may
 * keep it (e.g. in a write queue) without copying.
 */
export type FrameSink = (type: number, buf: Uint8Array, start: number, end: number) => void;

export class FrameReader {
  /** When set, the next frame is an untyped startup-phase packet. */
  expectUntyped: boolean;
  /** Largest typed message accepted; callers lower it before authentication. */
  maxMessageSize: number;
  /**
   * While a sink runs: bytes of the current chunk after the frame being delivered (0 when the
   * frame ends the chunk). Lets a sink refuse data pipelined behind a message, however chunked.
   */
  trailing = 0;
  /** Bytes of a frame's header seen so far when a chunk ended inside it (at most 5); made when first needed. */
  private headerBuf: Uint8Array | null = null;
  private get header(): Uint8Array {
    return (this.headerBuf ??= new Uint8Array(5));
  }
  private headerLen = 0;
  /**
   * Whether a partial frame of this many bytes may be allocated whole at once (set for
   * authenticated peers while the memory budget has room): a large message is then held exactly
   * once, not regrown by doubling (which peaks near twice its size). Unset, or false: grow as
   * bytes arrive — before authentication, a declared length must cost only what is sent.
   */
  allocateWhole: ((size: number) => boolean) | null = null;
  /** The frame being reassembled across chunks, once its length is known (may be smaller than it). */
  private partial: Uint8Array | null = null;
  private partialLen = 0;
  /** Whole size of the frame in `partial`. */
  private partialSize = 0;

  constructor(maxMessageSize: number, expectUntyped = false) {
    this.maxMessageSize = maxMessageSize;
    this.expectUntyped = expectUntyped;
  }

  /** Bytes held for an incomplete frame: what a slow or hostile peer costs us. */
  get buffered(): number {
    return this.partial ? this.partialLen : this.headerLen;
  }

  /** Bytes allocated for the incomplete frame (at most about twice what has arrived). */
  get reserved(): number {
    return this.partial ? this.partial.length : 0;
  }

  /**
   * Feeds one chunk; calls `sink` for every frame it completes, in order. Throws ProtocolError on
   * a bad length; after that the reader's state is undefined and the connection must close.
   * The sink may flip `expectUntyped` (e.g. after answering SSLRequest); it takes effect for the
   * next frame.
   */
  push(chunk: Uint8Array, sink: FrameSink): void {
    let off = 0;
    const n = chunk.length;
    if (this.headerLen > 0 || this.partial) {
      off = this.continuePartial(chunk, sink);
      if (off < 0) return;
    }
    while (off < n) {
      const headerSize = this.expectUntyped ? 4 : 5;
      if (n - off < headerSize) break;
      const size = this.frameSize(chunk, off);
      const end = off + size;
      if (end > n) break;
      const type = this.expectUntyped ? UNTYPED : chunk[off];
      this.trailing = n - end;
      sink(type, chunk, off, end);
      off = end;
    }
    if (off < n) this.stash(chunk, off);
  }

  /** Whole frame size (header included) for a frame starting at `off`; validates the length. */
  private frameSize(buf: Uint8Array, off: number): number {
    if (this.expectUntyped) {
      const len = readInt32(buf, off);
      if (len < 8 || len > MAX_STARTUP_PACKET) {
        throw new StartupLengthError(`invalid startup packet length ${len}`);
      }
      return len;
    }
    const len = readInt32(buf, off + 1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len} for message type 0x${buf[off].toString(16)}`);
    if (len > this.maxMessageSize) {
      throw new ProtocolError(
        `message of ${len} bytes exceeds the limit of ${this.maxMessageSize} bytes (listen.max_message_size)`,
      );
    }
    return len + 1;
  }

  /** Copies the unfinished tail of a chunk: the only copy the reader ever makes. */
  private stash(chunk: Uint8Array, off: number): void {
    const headerSize = this.expectUntyped ? 4 : 5;
    const avail = chunk.length - off;
    if (avail < headerSize) {
      this.header.set(chunk.subarray(off), 0);
      this.headerLen = avail;
      return;
    }
    this.startPartial(this.frameSize(chunk, off), avail);
    this.partial!.set(chunk.subarray(off), 0);
    this.partialLen = avail;
  }

  /** Allocates the reassembly buffer for a frame of `size` bytes of which `have` are at hand. */
  private startPartial(size: number, have: number): void {
    this.partialSize = size;
    const whole = size > INITIAL_PARTIAL_BYTES && this.allocateWhole !== null && this.allocateWhole(size);
    this.partial = new Uint8Array(whole ? size : Math.min(size, Math.max(INITIAL_PARTIAL_BYTES, have)));
  }

  /** Makes room for `more` bytes in the partial frame: grows by doubling, never past its size. */
  private reserve(more: number): Uint8Array {
    const frame = this.partial!;
    const needed = this.partialLen + more;
    if (needed <= frame.length) return frame;
    let cap = frame.length;
    while (cap < needed) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.partialSize));
    grown.set(frame.subarray(0, this.partialLen), 0);
    this.partial = grown;
    return grown;
  }

  /** Completes a stashed frame from the front of `chunk`. Returns the next offset, or -1 if the chunk was used up. */
  private continuePartial(chunk: Uint8Array, sink: FrameSink): number {
    let off = 0;
    if (!this.partial) {
      const headerSize = this.expectUntyped ? 4 : 5;
      const take = Math.min(headerSize - this.headerLen, chunk.length);
      this.header.set(chunk.subarray(0, take), this.headerLen);
      this.headerLen += take;
      off = take;
      if (this.headerLen < headerSize) return -1;
      const size = this.frameSize(this.header, 0);
      this.startPartial(size, headerSize + chunk.length - off);
      this.partial!.set(this.header.subarray(0, headerSize), 0);
      this.partialLen = headerSize;
      this.headerLen = 0;
    }
    const take = Math.min(this.partialSize - this.partialLen, chunk.length - off);
    const frame = this.reserve(take);
    frame.set(chunk.subarray(off, off + take), this.partialLen);
    this.partialLen += take;
    off += take;
    if (this.partialLen < this.partialSize) return -1;
    this.partial = null;
    this.partialLen = 0;
    this.trailing = chunk.length - off;
    sink(this.expectUntyped ? UNTYPED : frame[0], frame, 0, frame.length);
    return off;
  }
}

export function readInt32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) | 0;
}

export function readInt16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}
