// Builds the messages PgGate itself emits: begin(type) ... finish() back-patches the length.
// Only for our own messages (errors, auth, startup, admin rows); forwarded traffic is never rebuilt.

const utf8 = new TextEncoder();

export class MessageWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  /** Offset of the current message's length field. */
  private lenAt = -1;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  /** Starts a typed message; pass 0 to start an untyped startup-phase packet. */
  begin(type: number): this {
    if (type !== 0) {
      this.ensure(1);
      this.buf[this.len++] = type;
    }
    this.lenAt = this.len;
    this.int32(0);
    return this;
  }

  finish(): this {
    this.view.setInt32(this.lenAt, this.len - this.lenAt);
    this.lenAt = -1;
    return this;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.view.setInt16(this.len, v);
    this.len += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.len, v);
    this.len += 4;
    return this;
  }

  /** A String: UTF-8 bytes then NUL. */
  cstring(s: string): this {
    this.string(s);
    return this.int8(0);
  }

  /** UTF-8 bytes without terminator. */
  string(s: string): this {
    const max = s.length * 3;
    this.ensure(max);
    const { written } = utf8.encodeInto(s, this.buf.subarray(this.len));
    this.len += written;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** Everything written so far as a fresh buffer; resets the writer for reuse. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, 64);
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Re-frames a body read during startup (where only bodies are kept) for relaying. */
export function encodeFrame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 5);
  out[0] = type;
  new DataView(out.buffer).setInt32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

/** Length-prefixed text values (Int32 length, -1 for NULL), as in Bind parameters and DataRow. */
export function writeTextValues(w: MessageWriter, values: readonly (string | null)[]): void {
  for (const v of values) {
    if (v === null) {
      w.int32(-1);
      continue;
    }
    const b = utf8.encode(v);
    w.int32(b.length).bytes(b);
  }
}
