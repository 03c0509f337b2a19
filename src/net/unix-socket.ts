// The file side of a Unix-domain listening socket (PgBouncer's unix_socket_dir): clearing a stale
// socket file left by a crashed run, the file's mode and group, and removing it at shutdown.
// Knows nothing about PostgreSQL beyond the `.s.PGSQL.<port>` name; never listens itself.
import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";

/** `<dir>/.s.PGSQL.<port>`: where libpq looks for host=<dir> port=<port>. */
export function unixSocketPath(dir: string, port: number): string {
  return join(dir, `.s.PGSQL.${port}`);
}

function errorCode(e: unknown): string {
  return e instanceof Error && "code" in e ? String(e.code) : "";
}

/**
 * Makes `path` free to bind. Nothing there: fine. A socket nobody answers on (a crashed run's,
 * connect refused): removed. A socket something answers on: refused, as PgBouncer refuses when
 * its connect succeeds — another PgGate (or a PostgreSQL) owns that port's socket. Anything other
 * than a socket is never removed.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (e) {
    if (errorCode(e) === "ENOENT") return;
    throw new Error(`cannot check the Unix socket path ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; PgGate will not remove it`);
  if (await answers(path)) throw new Error(`another process is listening on the Unix socket ${path} (is another PgGate or a PostgreSQL using this port?)`);
  unlinkSync(path);
}

/** Whether a connect to the socket at `path` succeeds. */
async function answers(path: string): Promise<boolean> {
  try {
    const s = await Bun.connect({ unix: path, socket: { data() {}, error() {} } });
    s.end();
    return true;
  } catch (e) {
    // ECONNREFUSED: a socket file with no listener; anything else (EACCES, ...) we cannot judge.
    const code = errorCode(e);
    if (code === "ECONNREFUSED" || code === "ENOENT") return false;
    throw new Error(`cannot tell whether a process listens on ${path} (${code || (e as Error).message}); remove the file if it is stale`, { cause: e });
  }
}

/** Numeric group id of `group` (a name or a number), from /etc/group or `getent group`. */
export function resolveGroup(group: string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  const fromLine = (line: string): number | null => {
    const [name, , gid] = line.split(":");
    return name === group && gid !== undefined && /^[0-9]+$/.test(gid) ? Number(gid) : null;
  };
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const gid = fromLine(line);
      if (gid !== null) return gid;
    }
  } catch {
    // No readable /etc/group: ask NSS below.
  }
  // Groups from LDAP and the like are known to NSS only.
  try {
    const r = Bun.spawnSync(["getent", "group", group], { stdout: "pipe", stderr: "ignore" });
    if (r.exitCode === 0) {
      const gid = fromLine(r.stdout.toString().trim());
      if (gid !== null) return gid;
    }
  } catch {
    // No getent: the group is unknown.
  }
  throw new Error(`unknown group "${group}" (listen.unix_socket_group)`);
}

/** Applies listen.unix_socket_mode (octal string) and listen.unix_socket_group to the socket file. */
export function setSocketPermissions(path: string, mode: string, group: string): void {
  if (group !== "") {
    const gid = resolveGroup(group);
    try {
      chownSync(path, -1, gid);
    } catch (e) {
      throw new Error(`cannot give ${path} group "${group}": ${(e as Error).message}`, { cause: e });
    }
  }
  chmodSync(path, parseInt(mode, 8));
}

/** The file's identity, so shutdown removes our socket and never one another process put there since. */
export function socketInode(path: string): number | null {
  try {
    const st = lstatSync(path);
    return st.isSocket() ? st.ino : null;
  } catch {
    return null;
  }
}

/** Removes the socket file at `path` if it is still the one with inode `ino`. */
export function removeSocket(path: string, ino: number | null): void {
  if (ino === null || socketInode(path) !== ino) return;
  try {
    unlinkSync(path);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
}
