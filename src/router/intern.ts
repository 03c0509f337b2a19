// Interned lower-case spellings of every word the router compares against, so the lexer can
// produce an identifier's folded value without allocating (String#toLowerCase is the hot cost).

import { NOT_FUNCTION } from "./keywords.ts";
import { BUILTIN_NAMES } from "./functions.ts";
import { NODE_LOCAL_RELATIONS } from "./node-local.ts";

const CLASSIFIER_WORDS = `
  select values table with insert update delete merge show explain copy create alter drop
  truncate comment grant revoke reindex cluster security import reassign vacuum analyze analyse
  checkpoint lock refresh call do notify listen load unlisten execute deallocate fetch move close
  discard prepare declare set reset begin start commit end rollback abort savepoint release work
  transaction to prepared for key no share into local global temp temporary pg_temp or replace
  hold read only write as tablesample recursive materialized not distinct on binary stdout stdin
  from verbose session characteristics authorization role constraints pggate route min_lsn
  pg_catalog atomic case true false off yes where and is null limit offset order by group having
  join left right inner outer using returning public isolation level serializable repeatable
  committed uncommitted deferrable chain program format csv header cursor scroll view sequence
  function procedure index schema unlogged all id join lateral rows window fetch union intersect
  except
`;

const SIZE = 4096;
const MASK = SIZE - 1;
const slots: Array<string | undefined> = new Array<string | undefined>(SIZE).fill(undefined);

/** Hash of a lower-case word; the lexer computes the same value while scanning. */
export function wordHash(word: string): number {
  let h = 0;
  for (let i = 0; i < word.length; i++) h = (Math.imul(h, 31) + word.charCodeAt(i)) | 0;
  return h;
}

function add(word: string): void {
  let i = wordHash(word) & MASK;
  for (;;) {
    const s = slots[i];
    if (s === undefined) {
      slots[i] = word;
      return;
    }
    if (s === word) return;
    i = (i + 1) & MASK;
  }
}

for (const w of CLASSIFIER_WORDS.split(/\s+/)) if (w.length > 0) add(w);
for (const w of NOT_FUNCTION) add(w);
for (const w of BUILTIN_NAMES) add(w);
for (const w of NODE_LOCAL_RELATIONS) add(w);

/**
 * The interned word equal to sql[start, end) folded to lower case, or undefined. `hash` is
 * wordHash of the folded text.
 */
export function internedWord(sql: string, start: number, end: number, hash: number): string | undefined {
  const len = end - start;
  let i = hash & MASK;
  for (;;) {
    const s = slots[i];
    if (s === undefined) return undefined;
    if (s.length === len) {
      let k = 0;
      while (k < len) {
        let c = sql.charCodeAt(start + k);
        if (c >= 65 && c <= 90) c += 32;
        if (c !== s.charCodeAt(k)) break;
        k++;
      }
      if (k === len) return s;
    }
    i = (i + 1) & MASK;
  }
}
