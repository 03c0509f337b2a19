// pool.size and pool.mode as they apply to one (user, database): a pool.users entry wins, then
// a pool.databases entry, then the defaults (PgBouncer's [users] over [databases]). Pure; names
// compare exactly, as the client sent them.
import type { Config, PoolMode, PoolOverride } from "../config/types.ts";

function find(list: readonly PoolOverride[], name: string): PoolOverride | undefined {
  for (const o of list) if (o.name === name) return o;
  return undefined;
}

export function poolSizeFor(cfg: Config, user: string, database: string): number {
  return find(cfg.pool.users, user)?.size ?? find(cfg.pool.databases, database)?.size ?? cfg.pool.size;
}

export function poolModeFor(cfg: Config, user: string, database: string): PoolMode {
  return find(cfg.pool.users, user)?.mode ?? find(cfg.pool.databases, database)?.mode ?? cfg.pool.mode;
}
