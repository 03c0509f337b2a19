// What the config modules share about YAML-shaped values: is it a mapping, how a key path and a
// value read in messages. Pure.

export type Segment = string | number;

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `["nodes", "replicas", 1, "port"]` -> `nodes.replicas[1].port`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

/** A value as a message quotes what it got. */
export function describeGot(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}
