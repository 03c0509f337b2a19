// The version reported by `pggate --version` and SHOW VERSION. The commit is stamped in by
// build.ts (bun build --define); a run from source says "source".
declare const PGGATE_COMMIT: string | undefined;

export const VERSION = "0.1.0";

export const COMMIT: string = typeof PGGATE_COMMIT === "string" ? PGGATE_COMMIT : "source";
