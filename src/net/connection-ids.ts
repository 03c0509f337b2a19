// Ids of client and server connections (SHOW CLIENTS / SERVERS, KILL_CLIENT, c<id> / s<id>). With
// several workers, id % workers names the worker that issued it: ids stay unique across the group.
let stride = 1;
let offset = 0;

/** Called once, before any connection, by worker `index` of `count`. */
export function spaceConnectionIds(index: number, count: number): void {
  stride = count;
  offset = index;
}

/** One kind of id (clients, servers): 1, 2, 3, ... alone; index + count, index + 2·count, ... as a worker. */
export class IdSequence {
  private n = 0;

  next(): number {
    return ++this.n * stride + offset;
  }
}
