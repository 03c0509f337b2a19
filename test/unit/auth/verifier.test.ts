// Stored-secret parsing, password checks against every verifier kind, SASLprep (and its tables
// against RFC 3454), mock verifiers, and the iteration-count limit and off-loop PBKDF2.
// Expected values come from real PostgreSQL 15, RFC 3454, or are computed here with node:crypto.

import { describe, expect, test } from "bun:test";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import {
  formatScramVerifier,
  mockScramVerifier,
  parseCodePointRanges,
  parseVerifier,
  SASLPREP_TABLES,
  saslPrep,
  scramSaltedPassword,
  scramVerifierFromPassword,
  verifierProblem,
  verifyPassword,
  type ScramVerifier,
} from "../../../src/auth/verifier.ts";

/** Written by PostgreSQL itself (pg_authid.rolpassword). */
const PG_VERIFIER =
  "SCRAM-SHA-256$4096:SBY7uJ3PEvXF7tG3qW3dVA==$yBmdZEM8vFxm4e0zjnCUTdbHYWp/vDzFvhB9P1OB45Q=:Xf0r+z0d6w4kUJp3AwRnjowm0ohu1wb7GWa9yAXi8tU=";

function asScram(v: ReturnType<typeof parseVerifier>): ScramVerifier {
  if (v.kind !== "scram") throw new Error(`expected a scram verifier, got ${v.kind}`);
  return v;
}

/** RFC 5802 key derivation done by hand, to check src/ against something it does not share. */
function independentKeys(passwordBytes: Uint8Array, salt: Uint8Array, iterations: number) {
  const salted = pbkdf2Sync(passwordBytes, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return {
    storedKey: new Uint8Array(createHash("sha256").update(clientKey).digest()),
    serverKey: new Uint8Array(createHmac("sha256", salted).update("Server Key").digest()),
  };
}

describe("parseVerifier", () => {
  test("parses a verifier written by PostgreSQL", () => {
    const v = asScram(parseVerifier(PG_VERIFIER));
    expect(v.iterations).toBe(4096);
    expect(v.salt.length).toBe(16);
    expect(v.storedKey.length).toBe(32);
    expect(v.serverKey.length).toBe(32);
    expect(Buffer.from(v.salt).toString("base64")).toBe("SBY7uJ3PEvXF7tG3qW3dVA==");
    expect(Buffer.from(v.storedKey).toString("base64")).toBe("yBmdZEM8vFxm4e0zjnCUTdbHYWp/vDzFvhB9P1OB45Q=");
    expect(formatScramVerifier(v)).toBe(PG_VERIFIER);
  });

  test("md5 needs exactly 32 lowercase hex digits, as PostgreSQL's get_password_type()", () => {
    const hash = "md5" + "0123456789abcdef".repeat(2);
    expect(parseVerifier(hash)).toEqual({ kind: "md5", hash });
    for (const s of [hash.toUpperCase(), "md5" + "0".repeat(31), "md5" + "0".repeat(33), "md5" + "g".repeat(32)]) {
      expect(parseVerifier(s)).toEqual({ kind: "plain", password: s });
    }
  });

  test("anything else, including a malformed SCRAM secret, is a plaintext password", () => {
    const malformed = [
      "secret",
      "",
      "SCRAM-SHA-256$4096:SBY7uJ3PEvXF7tG3qW3dVA==$yBmdZEM8vFxm4e0zjnCUTdbHYWp/vDzFvhB9P1OB45Q=", // no ServerKey
      PG_VERIFIER.replace("$4096:", "$0:"),
      PG_VERIFIER.replace("$4096:", "$40x6:"),
      PG_VERIFIER.replace("SCRAM-SHA-256", "SCRAM-SHA-1"),
      PG_VERIFIER.replace("SBY7uJ3PEvXF7tG3qW3dVA==", "SBY7uJ3PEvXF7tG3qW3dVA"), // unpadded salt
      PG_VERIFIER.replace("SBY7uJ3PEvXF7tG3qW3dVA==", "SBY7uJ3P!vXF7tG3qW3dVA=="), // not base64
      PG_VERIFIER.replace("Xf0r+z0d6w4kUJp3AwRnjowm0ohu1wb7GWa9yAXi8tU=", "Xf0r+z0d"), // short ServerKey
    ];
    for (const s of malformed) expect(parseVerifier(s)).toEqual({ kind: "plain", password: s });
  });
});

describe("scramVerifierFromPassword", () => {
  test("derives the RFC 5802 keys; defaults to 4096 iterations and a random 16-byte salt", async () => {
    const a = await scramVerifierFromPassword("pencil");
    const b = await scramVerifierFromPassword("pencil");
    expect(a.iterations).toBe(4096);
    expect(a.salt.length).toBe(16);
    expect(a.salt).not.toEqual(b.salt);
    const expected = independentKeys(new TextEncoder().encode("pencil"), a.salt, 4096);
    expect(a.storedKey).toEqual(expected.storedKey);
    expect(a.serverKey).toEqual(expected.serverKey);
  });

  test("honours an explicit salt and iteration count, and round-trips through the text form", async () => {
    const salt = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const v = await scramVerifierFromPassword("pw", salt, 10);
    expect(v.iterations).toBe(10);
    expect(v.salt).toEqual(salt);
    expect(parseVerifier(formatScramVerifier(v))).toEqual(v);
  });

  test("rejects nonsense parameters", () => {
    expect(() => scramVerifierFromPassword("pw", new Uint8Array(16), 0)).toThrow(RangeError);
    expect(() => scramVerifierFromPassword("pw", new Uint8Array(0), 4096)).toThrow(RangeError);
  });
});

describe("verifyPassword", () => {
  test("scram", async () => {
    const v = await scramVerifierFromPassword("correct horse", undefined, 64);
    expect(await verifyPassword(v, "alice", "correct horse")).toBe(true);
    expect(await verifyPassword(v, "alice", "correct horse ")).toBe(false);
    expect(await verifyPassword(v, "alice", "")).toBe(false);
    // A verifier whose ServerKey does not belong to the password is corrupt and must not pass.
    expect(await verifyPassword({ ...v, serverKey: new Uint8Array(32) }, "alice", "correct horse")).toBe(false);
  });

  test("md5: the hash binds the username", async () => {
    const v = parseVerifier("md5" + createHash("md5").update("s3cretalice").digest("hex"));
    expect(v.kind).toBe("md5");
    expect(await verifyPassword(v, "alice", "s3cret")).toBe(true);
    expect(await verifyPassword(v, "bob", "s3cret")).toBe(false);
    expect(await verifyPassword(v, "alice", "s3cre")).toBe(false);
  });

  test("plain", async () => {
    const v = parseVerifier("hunter2");
    expect(await verifyPassword(v, "alice", "hunter2")).toBe(true);
    expect(await verifyPassword(v, "alice", "hunter")).toBe(false);
    expect(await verifyPassword(v, "alice", "hunter22")).toBe(false);
  });
});

describe("SASLprep", () => {
  test("ASCII passwords are used unchanged, control characters included", () => {
    for (const s of ["pencil", "", " spaced ", "tab\there", "\u007f"]) expect(saslPrep(s)).toBe(s);
  });

  test("maps, normalizes and prohibits like RFC 4013", () => {
    expect(saslPrep("pass\u00a0word")).toBe("pass word");
    expect(saslPrep("pass\u00adword")).toBe("password");
    expect(saslPrep("\ufb01sh")).toBe("fish");
    expect(saslPrep("\u2168")).toBe("IX");
    expect(saslPrep("\u00ad")).toBeNull(); // nothing left
    expect(saslPrep("a\u0085b")).toBeNull(); // C.2.2 control
    expect(saslPrep("\ue000x")).toBeNull(); // private use
    expect(saslPrep("\u{1f600}\u00e9")).toBeNull(); // unassigned in Unicode 3.2
    expect(saslPrep("\u05e9\u05dcabc")).toBeNull(); // R/AL mixed with L
    expect(saslPrep("\u05e9\u05dc1")).toBeNull(); // R/AL string must end in R/AL
    expect(saslPrep("\u05e91\u05dd")).toBe("\u05e91\u05dd");
    expect(saslPrep("x\ud800y")).toBeNull(); // lone surrogate is not UTF-8
  });

  // Each verifier below was produced by PostgreSQL 15.18 itself (server-side SASLprep) with
  // SET password_encryption = 'scram-sha-256'; ALTER ROLE ... PASSWORD '<password>'. Where
  // SASLprep rejects the password, PostgreSQL hashes the raw UTF-8 bytes, and so must we.
  const fromPostgres: [string, string][] = [
  // ASCII
  ["pencil", "SCRAM-SHA-256$4096:db6Kj9siyhjP796TrRksJw==$aCDEQF1O740Q0q88fe+b3SZO849mcyN/rurWx11aRoE=:YRvM9RCpgj/tCfqpjSIyrzng4ThBFbMs/YzFCZIljJM="],
  // NFC letters, unchanged
  ["p\u00E4ssw\u00F6rd", "SCRAM-SHA-256$4096:3AIzphCdcJ2nCo04sFJ5XQ==$jvoRzAJLUNZJtC5IlROp1qKtN74ZeKFtQfFHncyaTT4=:ISjgLv2ArVUVlXTZvrw/ynKpLAupTDO9qdriDfsDgOk="],
  // decomposed, NFKC composes it
  ["pa\u0308ssword", "SCRAM-SHA-256$4096:4xu5P1gEMg1zANkPPpjtLw==$XBFBdlfsf6AWNIQMghazK8Ry0EyFixYVecoxihHxwq4=:b6+7w6E5RuMt4HsUJduh7W3XH+zL3YECOoC1RRzPeCY="],
  // ligature -> fi
  ["\uFB01sh", "SCRAM-SHA-256$4096:Vo1o1k9qgaPH4I2hcfqvyw==$1DIxnCxaVuFdD9nk9OwXoBpzuDxIIfJCtcoJY4gAR2k=:URisO/bdMRhXsJPKCaKltdQwFUFiPokACpYvdW7L72w="],
  // NBSP -> space
  ["pass\u00A0word", "SCRAM-SHA-256$4096:6f6EPZZVnbsyvWRXgPFZag==$jVDRIARwd/hTXXkgjCHFg3WpZuit3u/YVQcqQmdnRMo=:VkYwyUwg0ZM1mTmTxvnDL1JV/dvfNKvS936wC/Gvmug="],
  // soft hyphen dropped
  ["pass\u00ADword", "SCRAM-SHA-256$4096:rT/VLE3YZvrDDhEDTQgTIQ==$DPA//cYx3ED3uePX4yN/OIWbVua2/kcvYP30hosDUSs=:ICGSKq0A84uXUsDSMsg9X3JcVgEqffHyHAlYMjpVGGo="],
  // fullwidth -> Pass
  ["\uFF30\uFF41\uFF53\uFF53", "SCRAM-SHA-256$4096:4lG4N9/U9yuzyXKJEbXoYQ==$42/gy1Djiy+540QYv3RP2Do9NiAFNxoViEcsV1wZ1PU=:wX4pSTd50ua4+Kc5lst0FlKnP3ivR+ZHQYOjULMComQ="],
  // Hebrew, unchanged
  ["\u05E9\u05DC\u05D5\u05DD", "SCRAM-SHA-256$4096:cHEEyYUbeVIZCcPXqEhoig==$0l0Z40Etrean+LcVCxl9M20liKCTpb0jhIv1UdF6uHU=:duEoI8O3YobeIRo4XaNdoQN2Kk8SzbWn2srMtmIMY9Q="],
  // Hebrew + Latin: bidi violation, raw bytes
  ["\u05E9\u05DC\u05D5\u05DDabc", "SCRAM-SHA-256$4096:jFkQp911T5EEFDsXN2B5qA==$XjSPiFdulwokXmbzzAAMEJWnSQBrfliBe3Dk3e8enA4=:ft304YR1G4FiVbVCq4pQdNRXxwuV2CP9jNE6KZbB1ZE="],
  // unassigned in Unicode 3.2: raw bytes (ligature kept)
  ["\uFB01\u{1F600}", "SCRAM-SHA-256$4096:qN4NkiFXqHVyw1zMWLZE8Q==$NWNgu+tmBL8AzNXV1M8PJjPAI38Jr8njbIanjxY/fj4=:iXvPgs8Bd/SYeDG1VyjkqOcE9TkwwuOBd5cbW1no2Xc="],
  // Roman numeral -> IX
  ["\u2168", "SCRAM-SHA-256$4096:x6f0PwxmobCpa/KnG3PCBg==$lCTJkrwWTSY2WQuS/cRtSTln0ym4Qh1dzCAyeOh82mY=:DF2FhrKRyOKVxnL6nnJZQlb/LlYCtljmI7uFBo+JO1s="],
  // empty after mapping: raw bytes
  ["\u00AD", "SCRAM-SHA-256$4096:xLpnFQs6oXA6dblUpFK/+Q==$MQi69++94pNfXPXaThUI7VIGWs66s1ciwCD+e6lQ1Vw=:5QHJSVTI4IirQlP+F04DUTspkAmrMPybAG74kPsVgOU="],
  // C1 control: raw bytes
  ["a\u0085b", "SCRAM-SHA-256$4096:+7xtPJtu7P6AI083jkoBUQ==$L78NdFajRySarONav+LhYtcEH2wDnCFIIWYtPymQP9U=:YaqLjWrO2HAcDqOFaRXqjwkTtJoI9gnnWVELaKB9sUw="],
  // ideographic space -> space
  ["\u3000pw", "SCRAM-SHA-256$4096:1B+UuGAavocnOlzvBrAbHg==$VZsPoal2ElbMPka9VCxq43YgZ0LJ7xPbSqE+HEuyrm0=:kMq6VycUHrwvHs4rrAVqliMJ1eAa/IpWVT/3fTqfleY="],
  // Arabic, unchanged
  ["\u0627\u0644\u0639\u0631\u0628\u064A\u0629", "SCRAM-SHA-256$4096:64CIiQo3JZ5jGteeLCaW3Q==$kHuzLcLMcgT7SN6ABhAL+Z1XoeShvr7/xo91+3xA0mY=:+nrzPzAj1/VoCwuJVo6LSWPZjgN7qLvVpxPkktS0iXM="],
  // R, digit, R: allowed
  ["\u05E91\u05DD", "SCRAM-SHA-256$4096:ZKx2tBp9GrIMyr1fOKJ4rA==$EUVgxskLPt9+z6G7sJM2HniqpyvOkcafuLQxFmiYvAs=:OGUrBSqylTb4Zm3KlxWhOENfwT+qpNmOgH5hD/jV/cM="],
  // unassigned: raw bytes
  ["\u2168\u{1F600}", "SCRAM-SHA-256$4096:XyggME8NI6OKx5h7emomMw==$o717zG1H7LjCLNsxFMtEecgK33PE7/NEbyn04UFa5h0=:6DzDh1zR+zIP0OBbJ/Q0sMAqONl/TkolQ6FF322+DjE="],
  // variation selector dropped
  ["\uFE0Fx\u00E9", "SCRAM-SHA-256$4096:sIz4zPozTpQymKP8EJDEpg==$OvAzo0TZMSVxxMSEEzKZ1KmEqu3CnD6cmf2WmeZSdZE=:2CtilOKT+kfBlG8zBL0r7Cr8nhhC2ZZ480tHf+fff+M="],
  // ZWSP -> space (C.1.2 wins over B.1)
  ["caf\u00E9\u200B", "SCRAM-SHA-256$4096:qUL/oo7QCCGTWJqK56vGbQ==$tGnZRGiw8ovtxq0eDIj3C4EQOgIW3fjSi0agrp8T8iE=:NVV0Cj+bJSlDNmQZ96PnHjyAxZJTHBsecSxOmwtkt+M="],
  // compatibility forms
  ["\u00BD\u2126K", "SCRAM-SHA-256$4096:vc/B841FuEmN2u6KSbZniQ==$2lgi+XWhakql5dqogo4TFTgo7mY9zOnOIwn+68pn2Yc=:m522Uf1RB+EB++qboezxBjy6bPax8jCpiVJhiwdPAcc="],
  // long s with dots
  ["\u1E9B\u0323", "SCRAM-SHA-256$4096:cJIRWqggCrIBks5eFgE5fQ==$thjQhc/j8Mi9ORDb6BS7OsmZIlrYT63/XkQ9sjd7wWQ=:EAGgaNlxb6qJC8h6M7t4PpERlWzl8leFvnV2MxwP5Oc="],
  ];

  test.each(fromPostgres)("agrees with PostgreSQL for %p", async (password, secret) => {
    expect(await verifyPassword(asScram(parseVerifier(secret)), "saslprep_probe", password)).toBe(true);
  });

  test("the fixtures exercise SASLprep: raw bytes would fail for most non-ASCII ones", () => {
    const rawMatches = fromPostgres.filter(([password, secret]) => {
      const v = asScram(parseVerifier(secret));
      const raw = independentKeys(new TextEncoder().encode(password), v.salt, v.iterations);
      return Buffer.from(raw.storedKey).equals(Buffer.from(v.storedKey));
    });
    expect(fromPostgres.length - rawMatches.length).toBe(11);
  });
});

describe("mockScramVerifier", () => {
  const secret = new Uint8Array(32).fill(7);

  test("is deterministic per user, like PostgreSQL's scram_mock_salt()", () => {
    const a = mockScramVerifier("ghost", secret);
    expect(mockScramVerifier("ghost", secret)).toEqual(a);
    expect(a.iterations).toBe(4096);
    expect(a.salt).toEqual(
      new Uint8Array(createHash("sha256").update("ghost").update(secret).digest().subarray(0, 16)),
    );
    expect(a.storedKey.length).toBe(32);
    expect(a.serverKey.length).toBe(32);
  });

  test("differs between users and between secrets", () => {
    const a = mockScramVerifier("ghost", secret);
    expect(mockScramVerifier("ghost2", secret).salt).not.toEqual(a.salt);
    expect(mockScramVerifier("ghost", new Uint8Array(32).fill(8)).salt).not.toEqual(a.salt);
    expect(mockScramVerifier("ghost", secret, 8192).iterations).toBe(8192);
  });

  test("accepts no password", async () => {
    const v = mockScramVerifier("ghost", secret);
    for (const pw of ["", "ghost", "postgres", "password"]) expect(await verifyPassword(v, "ghost", pw)).toBe(false);
  });
});

describe("SASLprep tables against RFC 3454", () => {
  // Written out here from RFC 3454 itself (appendix C and B.1), not taken from src/: each is a
  // list of inclusive [first, last] ranges.
  const RFC: Record<string, [number, number][]> = {
    "C.1.2": [[0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]],
    "C.2.1": [[0x0, 0x1f], [0x7f, 0x7f]],
    "C.2.2": [
      [0x80, 0x9f], [0x6dd, 0x6dd], [0x70f, 0x70f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029],
      [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a],
    ],
    "C.3": [[0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd]],
    "C.4": [[0xfdd0, 0xfdef], ...Array.from({ length: 17 }, (_, plane): [number, number] => [plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff])],
    "C.5": [[0xd800, 0xdfff]],
    "C.6": [[0xfff9, 0xfffd]],
    "C.7": [[0x2ff0, 0x2ffb]],
    "C.8": [[0x340, 0x341], [0x200e, 0x200f], [0x202a, 0x202e], [0x206a, 0x206f]],
    "C.9": [[0xe0001, 0xe0001], [0xe0020, 0xe007f]],
    "B.1": [[0xad, 0xad], [0x34f, 0x34f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff]],
  };
  /**
   * The code points just outside a C.2.1-C.9 range that SASLprep accepts on their own. Every other
   * neighbour is in some other table (most in A.1, unassigned in Unicode 3.2); derived from the
   * RFC's tables, checked against Python's stringprep module.
   */
  const ACCEPTED_NEIGHBOURS = new Set([
    0x20, 0x7e, 0xa0, 0x33f, 0x342, 0x6dc, 0x6de, 0x710, 0x200b, 0x2010, 0x2027, 0x202f, 0x205f, 0x2070, 0xf900, 0xfdf0,
    0x1d172, 0x1d17b, 0x20000,
  ]);
  const chr = (cp: number) => String.fromCodePoint(cp);
  // Pure ASCII skips SASLprep (PostgreSQL's fast path), so an ASCII code point is tried after a
  // non-ASCII letter; anything else alone, so no bidi rule interferes.
  const prep = (cp: number) => saslPrep(cp < 0x80 ? `\u00e9${chr(cp)}` : chr(cp));
  const inRfc = (name: string, cp: number) => RFC[name].some(([a, b]) => cp >= a && cp <= b);
  const ranges = (r: Uint32Array): [number, number][] => Array.from({ length: r.length / 2 }, (_, i) => [r[2 * i], r[2 * i + 1]]);

  test("every table parsed into ordered, non-overlapping, in-range entries", () => {
    for (const [name, table] of Object.entries(SASLPREP_TABLES)) {
      expect(table.length).toBeGreaterThan(0);
      let previous = -1;
      for (const [first, last] of ranges(table)) {
        if (!(first > previous && first <= last && last <= 0x10ffff)) throw new Error(`${name}: bad entry ${first.toString(16)}-${last.toString(16)}`);
        previous = last;
      }
    }
  });

  test("the parser refuses malformed, reversed, overlapping and out-of-order entries", () => {
    expect(Array.from(parseCodePointRanges(" 0-1F 7F  A0-A1\n"))).toEqual([0, 0x1f, 0x7f, 0x7f, 0xa0, 0xa1]);
    for (const bad of ["FFBF- FFC1", "FFBF -FFC1", "FF-", "-FF", "ff", "G0", "1-2-3", "20-10", "10 5", "1-5 5", "110000", "1234567"]) {
      expect(() => parseCodePointRanges(bad)).toThrow();
    }
  });

  test("C.1.2 and B.1 are exactly the mapping tables", () => {
    expect(ranges(SASLPREP_TABLES.nonAsciiSpace)).toEqual(RFC["C.1.2"]);
    // B.1 lists 200B-200D and FEFF; src keeps them, and C.1.2's mapping of 200B wins (PostgreSQL order).
    expect(ranges(SASLPREP_TABLES.mappedToNothing)).toEqual([[0xad, 0xad], [0x34f, 0x34f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff]]);
  });

  test.each(["C.2.1", "C.2.2", "C.3", "C.4", "C.5", "C.6", "C.7", "C.8", "C.9"])("RFC 3454 %s: range ends rejected, the neighbours outside accepted unless another table has them", (name) => {
    for (const [first, last] of RFC[name]) {
      for (const cp of [first, last]) {
        // A lone surrogate is not UTF-8, so C.5 is refused before the tables are consulted.
        if (prep(cp) !== null) throw new Error(`${name}: U+${cp.toString(16)} accepted`);
      }
      for (const cp of [first - 1, last + 1]) {
        if (cp < 0 || cp > 0x10ffff || inRfc("C.5", cp)) continue;
        const accepted = prep(cp) !== null;
        if (accepted !== ACCEPTED_NEIGHBOURS.has(cp)) throw new Error(`${name}: neighbour U+${cp.toString(16)} ${accepted ? "accepted" : "rejected"}`);
      }
    }
  });

  test("the A.1 and D.2 entries once split by a stray space now hold", () => {
    // A.1 FFBF-FFC1: unassigned in Unicode 3.2, so prohibited (was "fi\uffc0").
    for (const cp of [0xffbf, 0xffc0, 0xffc1]) expect(saslPrep(`\ufb01${chr(cp)}`)).toBeNull();
    expect(saslPrep("\ufb01\uffc2")).toBe("fi\u1161"); // FFC2 is assigned: NFKC maps the halfwidth jamo
    // D.2 FFCA-FFCF: bidi L, so it may not appear between R characters.
    for (const cp of [0xffca, 0xffcc, 0xffcf]) expect(saslPrep(`\u05d0${chr(cp)}\u05d0`)).toBeNull();
    expect(saslPrep("\u05d0\u05d0")).toBe("\u05d0\u05d0");
  });
});

describe("iteration counts", () => {
  const verifierWith = (iterations: number): ScramVerifier => ({ ...asScram(parseVerifier(PG_VERIFIER)), iterations });

  test("a verifier above auth.max_scram_iterations is unusable; at or below it, or not SCRAM, is fine", () => {
    expect(verifierProblem(verifierWith(2_147_483_647), 1_000_000)).toBe("SCRAM iteration count 2147483647 exceeds auth.max_scram_iterations (1000000)");
    expect(verifierProblem(verifierWith(1_000_000), 1_000_000)).toBeNull();
    expect(verifierProblem(verifierWith(4096), 4096)).toBeNull();
    expect(verifierProblem(parseVerifier("md5" + "0".repeat(32)), 4096)).toBeNull();
    expect(verifierProblem(parseVerifier("plain"), 4096)).toBeNull();
  });

  test("a PostgreSQL-accepted 2^31-1 count parses (so it can be refused by policy, not read as a password)", () => {
    expect(parseVerifier(PG_VERIFIER.replace("$4096:", "$2147483647:")).kind).toBe("scram");
  });

  test("PBKDF2 runs off the event loop: a setTimeout(0) fires while a derivation is in flight", async () => {
    const order: string[] = [];
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        order.push("timer");
        resolve();
      }, 0),
    );
    // ~50 ms of PBKDF2 here; a blocking derivation would finish before any timer could fire.
    const derivation = scramSaltedPassword("pw", new Uint8Array(16), 500_000).then(() => order.push("pbkdf2"));
    await Promise.all([timer, derivation]);
    expect(order).toEqual(["timer", "pbkdf2"]);
  });

  test("verifyPassword against a SCRAM verifier does not block either", async () => {
    const v = await scramVerifierFromPassword("pw", new Uint8Array(16).fill(1), 500_000);
    const order: string[] = [];
    const timer = Bun.sleep(0).then(() => order.push("timer"));
    await Promise.resolve(verifyPassword(v, "alice", "pw")).then((ok) => order.push(`verified ${ok}`));
    await timer;
    expect(order).toEqual(["timer", "verified true"]);
  });
});
