// The one test of "is this YAML value a mapping" the config modules share.

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
