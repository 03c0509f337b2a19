// Delivers a CancelRequest to a PostgreSQL server on a fresh connection, as libpq does: the
// server reads the 16-byte packet and closes; there is never a reply.
import { buildCancelRequest } from "../protocol/index.ts";
import { log } from "../log/index.ts";
import type { NodeTarget } from "./node-target.ts";

export function sendCancel(node: NodeTarget, processId: number, secretKey: number): void {
  const packet = buildCancelRequest(processId, secretKey);
  Bun.connect({
    hostname: node.host,
    port: node.port,
    socket: {
      open(socket) {
        socket.write(packet);
        socket.shutdown();
      },
      data() {},
      error(_socket, e) {
        log.warn("cancel_failed", { node: node.name, error: e.message });
      },
    },
  }).catch((e: Error) => log.warn("cancel_failed", { node: node.name, error: e.message }));
}
