// What a conversion has decided so far: PgGate settings with where each came from, `databases:`
// entries, and the lines for stderr (one per key dropped, unsupported or worth a word). The
// mappers fill it; emit.ts renders it. No I/O.

import { findKey } from "../config/schema.ts";

/** Where a PgBouncer value was written. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  /** The PgBouncer key, or `[databases] app` for a whole entry. */
  readonly key: string;
}

export interface Setting {
  readonly path: string;
  readonly value: unknown;
  /** The YAML comment: which PgBouncer value it came from, and anything that differs. */
  readonly comment: string;
}

export interface DatabaseOut {
  readonly name: string;
  readonly dbname?: string;
  /** Only for entries on another cluster than the top-level nodes. */
  readonly primary?: { host: string; port: number };
  readonly pool?: { size?: number; mode?: string };
  readonly comment: string;
}

export type NoteKind = "dropped" | "unsupported" | "note";

export class Plan {
  readonly settings = new Map<string, Setting>();
  /** Settings for keys this build's schema lacks: written as comments, not as keys. */
  readonly pending: Setting[] = [];
  readonly databases: DatabaseOut[] = [];
  private readonly noteRecords: { origin: Origin | null; text: string }[] = [];

  /** A key this build's schema lacks (added by a later PgGate) is kept as a comment and named on stderr. */
  set(path: string, value: unknown, comment: string, origin: Origin | null = null): void {
    if (findKey(path)) {
      this.settings.set(path, { path, value, comment });
      return;
    }
    this.pending.push({ path, value, comment });
    this.say(origin, "unsupported", `would be ${path}, which this PgGate version does not have (left as a comment in the output)`);
  }

  /** One stderr line: `file:line: key: kind: why`. */
  say(origin: Origin | null, kind: NoteKind, why: string): void {
    const where = origin ? `${origin.file}:${origin.line}: ${origin.key}: ` : "";
    this.noteRecords.push({ origin, text: `${where}${kind}: ${why}` });
  }

  /** The stderr lines in file order (files as listed in `files`), then those about no one line. */
  notes(files: readonly string[]): string[] {
    const rank = (o: Origin | null): number => (o === null ? Number.MAX_SAFE_INTEGER : (files.indexOf(o.file) + 1) * 1e7 + o.line);
    return this.noteRecords
      .map((r, i) => ({ r, i }))
      .sort((a, b) => rank(a.r.origin) - rank(b.r.origin) || a.i - b.i)
      .map(({ r }) => r.text);
  }
}

/** `pgbouncer.ini:12` for YAML comments. */
export function at(o: Origin): string {
  return `${o.file}:${o.line}`;
}
