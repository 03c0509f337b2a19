// The client-facing listeners: TCP, and the optional Unix-domain socket (listen.unix_socket_dir).
// Each accepts sockets, enforces max_client_connections, and hands each socket to a new
// ClientSession. Session logic lives in src/session; the socket file's upkeep in net/unix-socket.ts.
import type { SocketHandler, TCPSocketListener, TCPSocketListenOptions, UnixSocketListener } from "bun";
import { encodePgError, Errors } from "../errors/index.ts";
import { ClientSession } from "./client-session.ts";
import type { GatewayContext } from "./context.ts";
import { linkHandlers, type LinkData } from "../net/link.ts";
import { clearStaleSocket, removeSocket, setSocketPermissions, socketInode, unixSocketPath } from "../net/unix-socket.ts";

/** `unixPort`: the port a Unix-socket client is shown with (the socket's name); null for TCP. */
function clientHandlers(ctx: GatewayContext, unixPort: number | null): SocketHandler<LinkData> {
  return {
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
      if (unixPort === null) socket.setNoDelay(true);
      ctx.stats.clientsAccepted++;
      new ClientSession(socket, ctx, unixPort);
    },
  };
}

export function startListener(ctx: GatewayContext): TCPSocketListener<LinkData> {
  const { host, port } = ctx.config.listen;
  // Several workers share the port: the kernel spreads new connections across them.
  const reusePort = ctx.worker.count > 1;
  // Bun 1.4.4 honours reusePort on listen (BUN-NOTES) though its types list it only for connect.
  const options: TCPSocketListenOptions<LinkData> & { reusePort: boolean } = { hostname: host, port, reusePort, socket: clientHandlers(ctx, null), data: { link: null, ignore: false } };
  return Bun.listen<LinkData>(options);
}

/** The Unix-socket listener and its file; stop() removes the file (only if it is still ours). */
export interface UnixListener {
  readonly path: string;
  /** `closeClients`: as TCPSocketListener.stop — false stops accepting, true also closes connections. */
  stop(closeClients: boolean): void;
}

/**
 * Listens on `<listen.unix_socket_dir>/.s.PGSQL.<port>` (`port`: the TCP listener's actual port, so
 * host=<dir> port=<same port> reaches the same PgGate). A stale file from a crashed run is replaced;
 * a live one (something answers a connect) refuses the start.
 */
export async function startUnixListener(ctx: GatewayContext, port: number): Promise<UnixListener> {
  const { unixSocketDir, unixSocketMode, unixSocketGroup } = ctx.config.listen;
  const path = unixSocketPath(unixSocketDir, port);
  await clearStaleSocket(path);
  const listener: UnixSocketListener<LinkData> = Bun.listen<LinkData>({ unix: path, socket: clientHandlers(ctx, port), data: { link: null, ignore: false } });
  const ino = socketInode(path);
  try {
    setSocketPermissions(path, unixSocketMode, unixSocketGroup);
  } catch (e) {
    listener.stop(true);
    removeSocket(path, ino);
    throw e;
  }
  return {
    path,
    stop(closeClients) {
      listener.stop(closeClients);
      removeSocket(path, ino);
    },
  };
}
