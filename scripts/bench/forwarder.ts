// The bench's floor: a minimal Bun byte-forwarder. Each client connection gets its own TCP
// connection to the target (no pooling, no parsing, no auth of its own: the client logs in to
// the server through it), and bytes are copied both ways with the same care for Bun's write()
// (which drops what it does not accept) that PgGate takes. What a proxy on Bun costs before it
// does anything a proxy is for.
//
//   bun run scripts/bench/forwarder.ts LISTEN_PORT TARGET_HOST TARGET_PORT
import type { Socket } from "bun";

interface End {
  peer: Socket<End> | null;
  /** Bytes the peer's socket has not taken yet (written on drain). */
  queue: Uint8Array[];
  /** Bytes for the peer received before its connection opened. */
  early: Uint8Array[];
}

const [listenPort, targetHost, targetPort] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];

function send(to: Socket<End>, from: Socket<End>, chunk: Uint8Array): void {
  const q = to.data.queue;
  if (q.length > 0) {
    q.push(chunk);
    return;
  }
  const n = to.write(chunk);
  if (n < chunk.length) {
    q.push(chunk.subarray(Math.max(0, n)));
    from.pause(); // backpressure: stop reading the sender until the receiver drains
  }
}

function drain(s: Socket<End>): void {
  const q = s.data.queue;
  while (q.length > 0) {
    const head = q[0];
    const n = s.write(head);
    if (n < head.length) {
      q[0] = head.subarray(Math.max(0, n));
      return;
    }
    q.shift();
  }
  s.data.peer?.resume();
}

const handlers = {
  binaryType: "uint8array" as const,
  data(s: Socket<End>, chunk: Uint8Array) {
    const peer = s.data.peer;
    if (peer) send(peer, s, chunk);
    else s.data.early.push(chunk);
  },
  drain,
  close(s: Socket<End>) {
    s.data.peer?.end();
  },
  error(s: Socket<End>) {
    s.data.peer?.end();
  },
};

Bun.listen<End>({
  hostname: "127.0.0.1",
  port: listenPort,
  socket: {
    ...handlers,
    open(client) {
      client.data = { peer: null, queue: [], early: [] };
      Bun.connect<End>({
        hostname: targetHost,
        port: targetPort,
        data: { peer: client, queue: [], early: [] },
        socket: {
          ...handlers,
          open(server) {
            client.data.peer = server;
            for (const c of client.data.early) send(server, client, c);
            client.data.early = [];
          },
        },
      }).catch(() => client.end());
    },
  },
});
console.error(`forwarder listening on 127.0.0.1:${listenPort} -> ${targetHost}:${targetPort}`);
