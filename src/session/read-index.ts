// routing.read_your_writes global across processes and instances: a read must observe every
// write committed anywhere before it started, so it needs a WAL position read from the primary
// after it started (the "read index" of consensus systems). One primary round trip serves every
// read that arrived before it was sent; reads arriving while it is in flight wait for the next
// one, since the position it returns may predate their start. Pure batching: the fetch is given.

/** A position the primary reported, or null when it could not be read (the read then goes to the primary). */
export type IndexCallback = (lsn: bigint | null) => void;

export class ReadIndex {
  /** Requests the fetch in flight answers (all arrived before it was sent). */
  private inFlight: IndexCallback[] | null = null;
  /** Requests waiting for the next fetch. */
  private next: IndexCallback[] = [];
  /** Fetches sent (for tests and metrics): one per batch of reads, not per read. */
  fetches = 0;

  constructor(
    /** Reads the primary's current WAL insert position; null when it cannot. Must settle. */
    private readonly fetch: () => Promise<bigint | null>,
  ) {}

  /**
   * Calls `cb` with a position read from the primary after this call. Returns a function that
   * withdraws the request (the client left, or stopped waiting).
   */
  request(cb: IndexCallback): () => void {
    this.next.push(cb);
    if (this.inFlight === null) this.send();
    return () => {
      const i = this.next.indexOf(cb);
      if (i >= 0) this.next.splice(i, 1);
      const j = this.inFlight?.indexOf(cb) ?? -1;
      if (j >= 0) this.inFlight!.splice(j, 1);
    };
  }

  private send(): void {
    const batch = this.next;
    this.next = [];
    this.inFlight = batch;
    this.fetches++;
    const done = (lsn: bigint | null): void => {
      this.inFlight = null;
      for (const cb of batch) cb(lsn);
      if (this.next.length > 0) this.send();
    };
    this.fetch().then(done, () => done(null));
  }
}
