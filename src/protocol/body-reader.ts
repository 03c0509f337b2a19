// Cursor over one message body for the few messages PgGate decodes. Every read is bounds-checked
// and throws ProtocolError, so a lying length inside a frame cannot crash or over-read.
import { ProtocolError } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * UTF-8 text of `buf[start, end)`. Buffer's utf8Slice reads the range in place; a subarray view
 * would make JSC materialise the receive buffer's ArrayBuffer, which costs more than decoding.
 */
type Utf8Slicer = (this: Uint8Array, start: number, end: number) => string;
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slicer }).utf8Slice;
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  return utf8Slice ? utf8Slice.call(buf, start, end) : utf8.decode(buf.subarray(start, end));
}

export class BodyReader {
  private off: number;
  private readonly end: number;
  private readonly buf: Uint8Array;

  /** Reads `buf[start, end)`; the caller passes the body range (header already skipped). */
  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf;
    this.off = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.off;
  }

  int8(): number {
    this.need(1);
    return this.buf[this.off++];
  }

  int16(): number {
    this.need(2);
    const v = (this.buf[this.off] << 8) | this.buf[this.off + 1];
    this.off += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.off;
    this.off += 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) | 0;
  }

  /** A NUL-terminated string (the protocol's String type). */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.off);
    if (nul < 0 || nul >= this.end) throw new ProtocolError("string not terminated within message");
    const s = decodeUtf8(this.buf, this.off, nul);
    this.off = nul + 1;
    return s;
  }

  /** A view of the next `n` bytes; valid as long as the underlying buffer is. */
  bytes(n: number): Uint8Array {
    if (n < 0) throw new ProtocolError(`negative length ${n}`);
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  private need(n: number): void {
    if (this.off + n > this.end) throw new ProtocolError("message shorter than its contents");
  }
}
