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
