// The /regex names of auth.hba lines: a parser for a subset of PostgreSQL's ARE syntax and a
// Thompson-NFA matcher whose work is bounded by pattern size × name length, so no pattern can
// backtrack catastrophically on an attacker-chosen name. Pure; knows nothing of hba lines.
//
// Accepted: literals, escaped punctuation, \d \s \w and their negations, \t \n \r \f \v, "." (any
// character, newline included, as in ARE), bracket expressions with ranges and ^, anchors ^ $,
// groups ( ) and (?: ), |, and the quantifiers * + ? {m} {m,} {m,n} (lazy forms too: they change
// which match is found, never whether there is one). Everything else ARE has (back references,
// lookaround, word-boundary constraints, POSIX [:classes:], embedded options) is refused.
// Semantics are those of hba.c, which compiles with the C collation: case-sensitive, classes are
// ASCII, ranges compare code points, and the match is a search (unanchored unless ^ or $ say so).

/** Why a pattern was refused, and where: `index` is a UTF-16 offset into the source. */
export class HbaRegexError extends Error {
  override readonly name = "HbaRegexError";

  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

export interface HbaRegex {
  /** The pattern as written (without the leading slash). */
  readonly source: string;
  /** Whether the pattern matches anywhere in `name`. */
  test(name: string): boolean;
}

/** Inclusive code point ranges as [lo, hi] pairs; `negated` matches everything outside them. */
interface CharSet {
  readonly ranges: readonly (readonly [number, number])[];
  readonly negated: boolean;
}

type Node =
  | { readonly kind: "set"; readonly set: CharSet }
  | { readonly kind: "bol" | "eol" }
  | { readonly kind: "cat"; readonly parts: readonly Node[] }
  | { readonly kind: "alt"; readonly options: readonly Node[] }
  | { readonly kind: "repeat"; readonly body: Node; readonly min: number; readonly max: number };

/** PostgreSQL's DUPMAX: the largest count a {m,n} bound may give. */
const MAX_REPEAT = 255;
/** NFA states a pattern may compile to: bounds multiply, and the matcher's work is states × name length. */
const MAX_STATES = 10_000;
/** Nested groups: parsing and compiling recurse once per level. */
const MAX_DEPTH = 100;

const DIGITS: CharSet["ranges"] = [[0x30, 0x39]];
const SPACES: CharSet["ranges"] = [[0x09, 0x0d], [0x20, 0x20]];
const WORD: CharSet["ranges"] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const CLASS_ESCAPES = new Map<string, CharSet["ranges"]>([["d", DIGITS], ["s", SPACES], ["w", WORD]]);
const CHAR_ESCAPES = new Map<string, number>([["t", 0x09], ["n", 0x0a], ["v", 0x0b], ["f", 0x0c], ["r", 0x0d]]);
const ANY: CharSet = { ranges: [], negated: true };

const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= "0" && ch <= "9";
const literal = (cp: number): Node => ({ kind: "set", set: { ranges: [[cp, cp]], negated: false } });

/** Recursive descent over the source, one code point at a time; `i` is a UTF-16 offset. */
class Parser {
  i = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.src.length) this.fail("parentheses () not balanced (unmatched \")\")");
    return node;
  }

  private fail(message: string, at = this.i): never {
    throw new HbaRegexError(message, at);
  }

  private peek(): string | undefined {
    if (this.i >= this.src.length) return undefined;
    return String.fromCodePoint(this.src.codePointAt(this.i)!);
  }

  private take(): string {
    const ch = this.peek();
    if (ch === undefined) this.fail("unexpected end of pattern");
    this.i += ch.length;
    return ch;
  }

  private alternation(): Node {
    const options = [this.branch()];
    while (this.peek() === "|") {
      this.i++;
      options.push(this.branch());
    }
    return options.length === 1 ? options[0] : { kind: "alt", options };
  }

  private branch(): Node {
    const parts: Node[] = [];
    for (let ch = this.peek(); ch !== undefined && ch !== "|" && ch !== ")"; ch = this.peek()) parts.push(this.piece());
    return parts.length === 1 ? parts[0] : { kind: "cat", parts };
  }

  /** An atom and at most one quantifier; ARE refuses a quantifier on a quantifier or a constraint. */
  private piece(): Node {
    const atom = this.atom();
    const at = this.i;
    const bounds = this.quantifier();
    if (bounds === null) return atom;
    if (atom.kind === "bol" || atom.kind === "eol") this.fail("quantifier operand invalid (an anchor cannot repeat)", at);
    if (this.peek() === "?") this.i++; // lazy: the same yes/no answer
    if (this.startsQuantifier()) this.fail("quantifier operand invalid (a quantifier cannot follow a quantifier)");
    return { kind: "repeat", body: atom, min: bounds[0], max: bounds[1] };
  }

  /** In ARE a { followed by anything but a digit is an ordinary character. */
  private startsQuantifier(): boolean {
    const ch = this.peek();
    return ch === "*" || ch === "+" || ch === "?" || (ch === "{" && isDigit(this.src[this.i + 1]));
  }

  private quantifier(): [number, number] | null {
    if (!this.startsQuantifier()) return null;
    const ch = this.take();
    if (ch === "*") return [0, Infinity];
    if (ch === "+") return [1, Infinity];
    if (ch === "?") return [0, 1];
    const start = this.i - 1;
    const min = this.count(start);
    let max = min;
    if (this.peek() === ",") {
      this.i++;
      max = isDigit(this.peek()) ? this.count(start) : Infinity;
    }
    if (this.peek() !== "}") this.fail("invalid repetition count(s): a bound is {m}, {m,} or {m,n}", start);
    this.i++;
    if (min > max) this.fail("invalid repetition count(s): {m,n} needs m <= n", start);
    return [min, max];
  }

  private count(start: number): number {
    let digits = "";
    while (isDigit(this.peek())) digits += this.take();
    const n = Number(digits);
    if (n > MAX_REPEAT) this.fail(`invalid repetition count(s): at most ${MAX_REPEAT}`, start);
    return n;
  }

  private atom(): Node {
    const at = this.i;
    const ch = this.take();
    switch (ch) {
      case "(":
        return this.group(at);
      case "[":
        return { kind: "set", set: this.bracket(at) };
      case ".":
        return { kind: "set", set: ANY };
      case "^":
        return { kind: "bol" };
      case "$":
        return { kind: "eol" };
      case "\\":
        return this.escape(at);
      case "*":
      case "+":
      case "?":
        return this.fail(`quantifier operand invalid ("${ch}" has nothing to repeat)`, at);
      case "{":
        if (isDigit(this.peek())) this.fail('quantifier operand invalid ("{" has nothing to repeat)', at);
        return literal(0x7b);
      default:
        return literal(ch.codePointAt(0)!);
    }
  }

  private group(open: number): Node {
    if (this.peek() === "?") {
      const kind = this.src.slice(this.i, this.i + 3);
      if (kind.startsWith("?=") || kind.startsWith("?!") || kind === "?<=" || kind === "?<!") {
        this.fail("lookahead and lookbehind constraints are not supported", open);
      }
      if (!kind.startsWith("?:")) this.fail('"(?" is only supported as the non-capturing group "(?:"', open);
      this.i += 2;
    }
    if (++this.depth > MAX_DEPTH) this.fail(`groups nested more than ${MAX_DEPTH} deep`, open);
    const inner = this.alternation();
    this.depth--;
    if (this.peek() !== ")") this.fail('parentheses () not balanced (unmatched "(")', open);
    this.i++;
    return inner;
  }

  private escape(at: number): Node {
    if (this.peek() === undefined) this.fail("invalid escape \\ sequence (a pattern cannot end with a backslash)", at);
    const ch = this.take();
    // \D \S \W are the complements of \d \s \w.
    if (/^[dswDSW]$/.test(ch)) return { kind: "set", set: { ranges: CLASS_ESCAPES.get(ch.toLowerCase())!, negated: ch !== ch.toLowerCase() } };
    return literal(this.escapedChar(ch, at));
  }

  /** A backslash before punctuation means the character itself; letters and digits only as listed. */
  private escapedChar(ch: string, at: number): number {
    const code = CHAR_ESCAPES.get(ch);
    if (code !== undefined) return code;
    if (/^[0-9]$/.test(ch)) this.fail(`back references (\\${ch}) are not supported`, at);
    if (/^[\p{L}\p{N}]$/u.test(ch)) {
      this.fail(`escape \\${ch} is not supported (accepted: \\d \\s \\w \\D \\S \\W \\t \\n \\r \\f \\v, and a backslash before punctuation)`, at);
    }
    return ch.codePointAt(0)!;
  }

  /** After "[": an optional ^, a leading ] taken literally, items and ranges up to "]". */
  private bracket(open: number): CharSet {
    const ranges: [number, number][] = [];
    const negated = this.peek() === "^";
    if (negated) this.i++;
    let first = true;
    for (;;) {
      const at = this.i;
      const ch = this.peek();
      if (ch === undefined) this.fail("brackets [] not balanced", open);
      if (ch === "]" && !first) {
        this.i++;
        return { ranges, negated };
      }
      first = false;
      if (ch === "[" && /^\[[:.=]/.test(this.src.slice(at, at + 2))) {
        this.fail("POSIX classes, collating elements and equivalence classes ([: :] [. .] [= =]) are not supported", at);
      }
      const lo = this.bracketItem(ranges);
      if (lo === null) continue;
      if (this.peek() === "-" && this.src[this.i + 1] !== "]" && this.i + 1 < this.src.length) {
        this.i++;
        const hiAt = this.i;
        const hi = this.bracketItem(null);
        if (hi === null || hi < lo) this.fail("invalid character range", hi === null ? hiAt : at);
        ranges.push([lo, hi]);
      } else {
        ranges.push([lo, lo]);
      }
    }
  }

  /** One character of a bracket expression; a class escape (\d \s \w) adds its ranges and gives null. */
  private bracketItem(into: [number, number][] | null): number | null {
    const at = this.i;
    const ch = this.take();
    if (ch !== "\\") return ch.codePointAt(0)!;
    if (this.peek() === undefined) this.fail("brackets [] not balanced", at);
    const esc = this.take();
    const ranges = CLASS_ESCAPES.get(esc);
    if (ranges !== undefined && into !== null) {
      into.push(...ranges.map(([lo, hi]): [number, number] => [lo, hi]));
      return null;
    }
    if (/^[DSWdsw]$/.test(esc)) this.fail(`\\${esc} is not supported in a bracket expression or as a range end`, at);
    return this.escapedChar(esc, at);
  }
}

const enum Op {
  Set,
  Split,
  Bol,
  Eol,
  Match,
}

interface State {
  op: Op;
  set: CharSet | null;
  /** Next state (Set, Bol, Eol) or first branch (Split). */
  x: number;
  /** Second branch (Split). */
  y: number;
}

/** Compiles back to front: each node is given the state that follows it and returns its entry. */
function compile(root: Node): { states: State[]; entry: number } {
  const states: State[] = [];
  const add = (op: Op, x = -1, y = -1, set: CharSet | null = null): number => {
    if (states.length >= MAX_STATES) throw new HbaRegexError(`regular expression is too complex (more than ${MAX_STATES} states once bounds are expanded)`, 0);
    states.push({ op, set, x, y });
    return states.length - 1;
  };
  const emit = (node: Node, next: number): number => {
    switch (node.kind) {
      case "set":
        return add(Op.Set, next, -1, node.set);
      case "bol":
        return add(Op.Bol, next);
      case "eol":
        return add(Op.Eol, next);
      case "cat":
        return node.parts.reduceRight((after, part) => emit(part, after), next);
      case "alt":
        return node.options.map((o) => emit(o, next)).reduceRight((rest, entry) => add(Op.Split, entry, rest));
      case "repeat": {
        let entry = next;
        if (node.max === Infinity) {
          const loop = add(Op.Split, -1, next);
          states[loop].x = emit(node.body, loop);
          entry = loop;
        } else {
          for (let k = node.min; k < node.max; k++) entry = add(Op.Split, emit(node.body, entry), next);
        }
        for (let k = 0; k < node.min; k++) entry = emit(node.body, entry);
        return entry;
      }
    }
  };
  const entry = emit(root, add(Op.Match));
  return { states, entry };
}

function inSet(set: CharSet, cp: number): boolean {
  let found = false;
  for (const [lo, hi] of set.ranges) {
    if (cp >= lo && cp <= hi) {
      found = true;
      break;
    }
  }
  return found !== set.negated;
}

/**
 * Thompson's simulation: the set of live states advances one code point at a time, each state
 * entered at most once per position, so the work is O(states × name length) for any pattern.
 * The entry state joins at every position: a match may begin anywhere.
 */
function search(states: readonly State[], entry: number, name: string): boolean {
  const text = Array.from(name, (c) => c.codePointAt(0)!);
  const seen = new Int32Array(states.length).fill(-1);
  const stack: number[] = [];
  /** Adds `from` and the states reachable from it without input to `list`; true once Match is reached. */
  const close = (from: number, pos: number, list: number[]): boolean => {
    stack.push(from);
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen[s] === pos) continue;
      seen[s] = pos;
      const st = states[s];
      if (st.op === Op.Match) {
        stack.length = 0;
        return true;
      }
      if (st.op === Op.Set) list.push(s);
      else if (st.op === Op.Split) stack.push(st.y, st.x);
      else if ((st.op === Op.Bol && pos === 0) || (st.op === Op.Eol && pos === text.length)) stack.push(st.x);
    }
    return false;
  };
  let live: number[] = [];
  for (let pos = 0; ; pos++) {
    if (close(entry, pos, live)) return true;
    if (pos === text.length) return false;
    const next: number[] = [];
    for (const s of live) {
      if (inSet(states[s].set!, text[pos]) && close(states[s].x, pos + 1, next)) return true;
    }
    live = next;
  }
}

/** Parses and compiles `source`; throws HbaRegexError naming the offset of the first problem. */
export function compileHbaRegex(source: string): HbaRegex {
  const { states, entry } = compile(new Parser(source).parse());
  return { source, test: (name) => search(states, entry, name) };
}
