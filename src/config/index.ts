// Public surface of src/config: build a frozen Config (file, text or object), diff two of them,
// and describe the schema. Other modules import from here only.

export type * from "./types.ts";
export { ConfigError, formatProblem, type ConfigProblem } from "./errors.ts";
export { configFromObject, defaultConfigFor, ENVIRONMENT_SOURCE, loadConfig, parseConfig, reloadConfig, type LoadOptions } from "./load.ts";
export { diffConfig, type ConfigDiff, type ReplicaChanges } from "./diff.ts";
export {
  describeType,
  findKey,
  isConfigPath,
  MAX_MS,
  NODE_FIELDS,
  SCHEMA,
  valueAt,
  type ConfigPath,
  type KeyDef,
  type KeyKind,
  type SchemaKey,
  type ValueAt,
} from "./schema.ts";
export { configRows, formatValue, renderReference, type ConfigRow } from "./reference.ts";
export { ADMIN_PASSWORD_ENV, AUTH_PASSWORD_ENV, ENV_KEY_PREFIX } from "./validate.ts";
export { workerLimit, workerPart, workerShare } from "./worker-share.ts";
