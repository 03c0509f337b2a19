// Structured logging: one event per line, logfmt or JSON, to stderr. Never query text at info.
import type { LogFormat, LogLevel } from "../config/types.ts";

type Fields = Record<string, string | number | boolean | null | undefined>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let minRank = RANK.info;
let format: LogFormat = "logfmt";

export function configureLog(level: LogLevel, fmt: LogFormat): void {
  minRank = RANK[level];
  format = fmt;
}

function quote(v: string): string {
  return /^[A-Za-z0-9_.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
}

function emit(level: LogLevel, event: string, fields: Fields): void {
  if (RANK[level] < minRank) return;
  const ts = new Date().toISOString();
  let line: string;
  if (format === "json") {
    line = JSON.stringify({ ts, level, event, ...fields });
  } else {
    line = `ts=${ts} level=${level} event=${quote(event)}`;
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += ` ${k}=${quote(String(v))}`;
    }
  }
  process.stderr.write(line + "\n");
}

export const log = {
  debug: (event: string, fields: Fields = {}) => emit("debug", event, fields),
  info: (event: string, fields: Fields = {}) => emit("info", event, fields),
  warn: (event: string, fields: Fields = {}) => emit("warn", event, fields),
  error: (event: string, fields: Fields = {}) => emit("error", event, fields),
  enabled: (level: LogLevel) => RANK[level] >= minRank,
};
