// A raw-socket PostgreSQL client for attacks no driver can express: split packets, lying
// lengths, held logins. Builds frames by hand (independently of src/protocol).
import type { Socket } from "bun";

const enc = new TextEncoder();

export function int32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

export const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

export function startupPacket(user: string, db: string, extra: Record<string, string> = {}): Uint8Array {
  let text = `user\0${user}\0database\0${db}\0`;
  for (const [k, v] of Object.entries(extra)) text += `${k}\0${v}\0`;
  const body = [...enc.encode(`${text}\0`)];
  return new Uint8Array([...int32(8 + body.length), 0, 3, 0, 0, ...body]);
}

/** A typed frame: type byte, Int32 length, body. */
export function frame(type: string, body: Uint8Array | number[] = []): Uint8Array {
  const b = [...body];
  return new Uint8Array([type.charCodeAt(0), ...int32(4 + b.length), ...b]);
}

export function queryFrame(sql: string): Uint8Array {
  return frame("Q", [...enc.encode(sql), 0]);
}

export interface Message {
  type: string;
  body: Uint8Array;
}

/** Splits backend bytes into messages (an 'S'/'N' single byte first is reported as type "S1"/"N1"). */
export function messages(bytes: Uint8Array, sslAnswerFirst = false): Message[] {
  const out: Message[] = [];
  let off = 0;
  if (sslAnswerFirst && bytes.length > 0) {
    out.push({ type: `${String.fromCharCode(bytes[0])}1`, body: new Uint8Array() });
    off = 1;
  }
  while (off + 5 <= bytes.length) {
    const len = ((bytes[off + 1] << 24) | (bytes[off + 2] << 16) | (bytes[off + 3] << 8) | bytes[off + 4]) >>> 0;
    if (off + 1 + len > bytes.length) break;
    out.push({ type: String.fromCharCode(bytes[off]), body: bytes.subarray(off + 5, off + 1 + len) });
    off += 1 + len;
  }
  return out;
}

/** SQLSTATE and message of an ErrorResponse body. */
export function errorOf(body: Uint8Array): { code: string; message: string } {
  const fields = new TextDecoder().decode(body).split("\0");
  return { code: fields.find((f) => f.startsWith("C"))?.slice(1) ?? "", message: fields.find((f) => f.startsWith("M"))?.slice(1) ?? "" };
}

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

  close(): void {
    this.socket?.end();
  }
}
