// The client-facing TCP listener: accepts sockets, enforces max_client_connections, and hands
// each socket to a new ClientSession. Session logic lives in src/session.
import type { SocketHandler, TCPSocketListener, TCPSocketListenOptions } from "bun";
import { encodePgError, Errors } from "../errors/index.ts";
import { ClientSession } from "./client-session.ts";
import type { GatewayContext } from "./context.ts";
import { linkHandlers, type LinkData } from "../net/link.ts";

export function startListener(ctx: GatewayContext): TCPSocketListener<LinkData> {
  const { host, port } = ctx.config.listen;
  const handlers: SocketHandler<LinkData> = {
    ...linkHandlers,
    open(socket) {
      socket.data = { link: null, ignore: false };
      const max = ctx.config.listen.maxClientConnections;
      if (ctx.shuttingDown) {
        socket.write(encodePgError(Errors.shuttingDown()));
        socket.end();
        return;
      }
      if (ctx.clients.size >= max) {
        // PostgreSQL answers an over-limit connection with a FATAL before reading anything.
        ctx.stats.error("too_many_connections");
        socket.write(encodePgError(Errors.tooManyClients(max)));
        socket.shutdown();
        setTimeout(() => socket.end(), 500);
        return;
      }
      socket.setNoDelay(true);
      ctx.stats.clientsAccepted++;
      new ClientSession(socket, ctx);
    },
  };
  // Several workers share the port: the kernel spreads new connections across them.
  const reusePort = ctx.worker.count > 1;
  // Bun 1.4.4 honours reusePort on listen (BUN-NOTES) though its types list it only for connect.
  const options: TCPSocketListenOptions<LinkData> & { reusePort: boolean } = { hostname: host, port, reusePort, socket: handlers, data: { link: null, ignore: false } };
  return Bun.listen<LinkData>(options);
}
