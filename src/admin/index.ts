// Public surface of the admin console (the `pggate` database): command parsing, result encoding
// and the per-connection protocol handler. Command execution lives behind AdminBackend.
export * from "./commands.ts";
export * from "./result.ts";
export * from "./console.ts";
export * from "./group.ts";
export { mergeShow, SHOW_MERGE, type MergeRule } from "./show-merge.ts";
