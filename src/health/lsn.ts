// WAL positions ("16/B374D848") as bigints, so they compare and subtract exactly.

export function parseLsn(text: string | null | undefined): bigint | null {
  if (!text) return null;
  const slash = text.indexOf("/");
  if (slash <= 0) return null;
  const hi = Number.parseInt(text.slice(0, slash), 16);
  const lo = Number.parseInt(text.slice(slash + 1), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) return null;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** XLOG_BLCKSZ and the default wal_segment_size: where WAL page headers sit. */
const WAL_PAGE = 8192n;
const WAL_SEGMENT = 16n * 1024n * 1024n;
/** SizeOfXLogShortPHD / SizeOfXLogLongPHD (a segment's first page). */
const SHORT_HEADER = 24n;
const LONG_HEADER = 40n;

/**
 * pg_current_wal_insert_lsn() past a page boundary points after the next page's header, while a
 * replica that replayed everything reports the boundary itself (the end of the last record): a
 * floor taken there would never be reached until more WAL is written. Moves such a position back
 * to the boundary; no record lies between the two, so the floor covers exactly the same writes.
 */
export function recordBoundary(lsn: bigint): bigint {
  if (lsn % WAL_SEGMENT === LONG_HEADER) return lsn - LONG_HEADER;
  if (lsn % WAL_PAGE === SHORT_HEADER) return lsn - SHORT_HEADER;
  return lsn;
}
