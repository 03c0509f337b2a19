// pg_hba.conf rules: every accepted form as the parsed rule it becomes, every refusal with its line
// number, first-match selection (connection type against SSL, CIDR and netmask edges in both
// families, IPv4-mapped clients, quoted keywords, regexes, hostile names), regexes that cannot
// stall PgGate, names cut to 63 bytes, pggate = pgbouncer, the two refusal messages, and loading
// from a file.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import {
  HbaParseError,
  loadHbaFile,
  matchHba,
  noEntryMessage,
  parseHba,
  rejectMessage,
  type HbaAddress,
  type HbaClient,
  type HbaNameMatcher,
  type HbaRule,
} from "../../../src/auth/hba.ts";
import { truncateName } from "../../../src/protocol/index.ts";
import { scratchPath } from "../../scratch.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

function nameText(m: HbaNameMatcher): string {
  switch (m.kind) {
    case "name":
      return `name:${m.name}`;
    case "regex":
      return `regex:${m.regex.source}`;
    default:
      return m.kind;
  }
}

/** Bytes as written in the rule: dotted for IPv4, eight uncompressed hex words for IPv6. */
function bytesText(bytes: readonly number[]): string {
  if (bytes.length === 4) return bytes.join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return words.join(":");
}

function addressText(a: HbaAddress | null): string | null {
  if (a === null) return null;
  if (a.kind === "all") return "all";
  return `v${a.family} ${bytesText(a.address)} mask ${bytesText(a.mask)}`;
}

/** A rule flattened into plain values, so cases can be written as literals. */
function summary(rule: HbaRule) {
  return {
    line: rule.line,
    type: rule.type,
    databases: rule.databases.map(nameText),
    users: rule.users.map(nameText),
    address: addressText(rule.address),
    method: rule.method,
    options: rule.options.map((o) => `${o.name}=${o.value}`),
  };
}

type Summary = ReturnType<typeof summary>;

function only(text: string): Summary {
  const rules = parseHba(text);
  expect(rules).toHaveLength(1);
  return summary(rules[0]);
}

function parseError(text: string): HbaParseError {
  try {
    parseHba(text);
  } catch (e) {
    expect(e).toBeInstanceOf(HbaParseError);
    return e as HbaParseError;
  }
  throw new Error(`parsed without error: ${JSON.stringify(text)}`);
}

const client = (over: Partial<HbaClient> = {}): HbaClient => ({
  address: "10.1.2.3",
  ssl: false,
  database: "app",
  user: "bob",
  ...over,
});

/** The line of the rule that matches, or null. */
function matchedLine(text: string, c: HbaClient): number | null {
  return matchHba(parseHba(text), c)?.line ?? null;
}

const ALL_V4 = "v4 0.0.0.0 mask 0.0.0.0";
const base: Summary = { line: 1, type: "host", databases: ["all"], users: ["all"], address: "all", method: "trust", options: [] };

// ---------------------------------------------------------------------------------------------
// Parsing

describe("parseHba: accepted forms", () => {
  const cases: [string, string, Partial<Summary>][] = [
    ["host, all, all, CIDR, trust", "host all all 0.0.0.0/0 trust", { address: ALL_V4 }],
    ["hostssl with scram-sha-256", "hostssl app bob 10.0.0.0/8 scram-sha-256", { type: "hostssl", databases: ["name:app"], users: ["name:bob"], address: "v4 10.0.0.0 mask 255.0.0.0", method: "scram-sha-256" }],
    ["hostnossl with lists, netmask column, md5", "hostnossl db1,db2 alice,bob 192.168.1.0 255.255.255.0 md5", { type: "hostnossl", databases: ["name:db1", "name:db2"], users: ["name:alice", "name:bob"], address: "v4 192.168.1.0 mask 255.255.255.0", method: "md5" }],
    ["local has no address field", "local all all password", { type: "local", address: null, method: "password" }],
    ["reject", "host all all all reject", { method: "reject" }],
    ["address keyword all", "host all all all trust", { address: "all" }],
    ["IPv4 bits beyond the prefix are kept (and ignored in matching)", "host all all 10.1.2.3/8 trust", { address: "v4 10.1.2.3 mask 255.0.0.0" }],
    ["IPv4 /32", "host all all 10.1.2.3/32 trust", { address: "v4 10.1.2.3 mask 255.255.255.255" }],
    ["IPv4 odd prefix", "host all all 10.1.2.0/23 trust", { address: "v4 10.1.2.0 mask 255.255.254.0" }],
    ["IPv6 /128", "host all all ::1/128 trust", { address: "v6 0:0:0:0:0:0:0:1 mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }],
    ["IPv6 /0", "host all all ::/0 trust", { address: "v6 0:0:0:0:0:0:0:0 mask 0:0:0:0:0:0:0:0" }],
    ["IPv6 odd prefix", "host all all 2001:db8::/33 trust", { address: "v6 2001:db8:0:0:0:0:0:0 mask ffff:ffff:8000:0:0:0:0:0" }],
    ["IPv6 full form, upper case", "host all all 2001:DB8:0:0:0:0:0:1/64 trust", { address: "v6 2001:db8:0:0:0:0:0:1 mask ffff:ffff:ffff:ffff:0:0:0:0" }],
    ["IPv6 with trailing ::", "host all all fe80::/10 trust", { address: "v6 fe80:0:0:0:0:0:0:0 mask ffc0:0:0:0:0:0:0:0" }],
    ["IPv6 with a dotted IPv4 tail", "host all all ::ffff:10.0.0.0/104 trust", { address: "v6 0:0:0:0:0:ffff:a00:0 mask ffff:ffff:ffff:ffff:ffff:ffff:ff00:0" }],
    ["IPv6 netmask column", "host all all fe80:: ffc0:: trust", { address: "v6 fe80:0:0:0:0:0:0:0 mask ffc0:0:0:0:0:0:0:0" }],
    ["database keywords sameuser and replication", "host sameuser,replication all all trust", { databases: ["sameuser", "replication"] }],
    ["quoted keywords are names", 'host "all","sameuser","replication" "all" all trust', { databases: ["name:all", "name:sameuser", "name:replication"], users: ["name:all"] }],
    ["sameuser in the user field is a role name", "host all sameuser,replication all trust", { users: ["name:sameuser", "name:replication"] }],
    ["quoted +name is a role name", 'host all "+ops" all trust', { users: ["name:+ops"] }],
    ["quoted @name is a name", 'host "@dbs" all all trust', { databases: ["name:@dbs"] }],
    ["a lone @ is a name", "host @ all all trust", { databases: ["name:@"] }],
    ["keywords are case-sensitive: ALL is a name", "host ALL All all trust", { databases: ["name:ALL"], users: ["name:All"] }],
    ["doubled quote inside quotes", 'host all "a""b",c all trust', { users: ['name:a"b', "name:c"] }],
    ["quotes around part of a token", 'host all ab"c d"e all trust', { users: ["name:abc de"] }],
    ["empty quoted name", 'host all "" all trust', { users: ["name:"] }],
    ["quoted blanks and commas", 'host "my db, really" all all trust', { databases: ["name:my db, really"] }],
    ["user regex", "host all /^adm_.*$ all trust", { users: ["regex:^adm_.*$"] }],
    ["unanchored regex stays unanchored", "host all /adm all trust", { users: ["regex:adm"] }],
    ["quoted database regex may hold a comma", 'host "/^db\\d{2,4}$",db1 all all trust', { databases: ["regex:^db\\d{2,4}$", "name:db1"] }],
    ["blanks after a comma stay in the list", "host a,  b all all trust", { databases: ["name:a", "name:b"] }],
    ["repeated commas are skipped", "host a,,b all all trust", { databases: ["name:a", "name:b"] }],
    ["tabs separate fields", "host\tall\t\tall\t0.0.0.0/0\ttrust", { address: ALL_V4 }],
    ["leading blanks", "   host all all all trust", {}],
    ["comment after the record", "host all all all trust # everyone", {}],
    ["comment glued to a token", "host all all all trust#everyone", {}],
    ["# inside quotes is not a comment", 'host "db#1" all all trust', { databases: ["name:db#1"] }],
    ["options are kept", "hostssl all all all scram-sha-256 clientcert=no-verify foo=", { type: "hostssl", method: "scram-sha-256", options: ["clientcert=no-verify", "foo="] }],
    ["option values may hold =", 'host all all all md5 a=b=c "x=y z"', { method: "md5", options: ["a=b=c", "x=y z"] }],
    ["CRLF line ends", "host all all all trust\r\n", {}],
    ["continuation keeps the first line number", "host all \\\n  all 10.0.0.0/8 \\\n  trust", { address: "v4 10.0.0.0 mask 255.0.0.0" }],
    ["continuation joins without a blank", "host al\\\nl all all trust", {}],
    ["continuation with CRLF", "host all \\\r\nall all trust\r\n", {}],
    ["continuation at end of file", "host all all all trust \\", {}],
  ];
  test.each(cases)("%s", (_name, text, expected) => {
    expect(only(text)).toEqual({ ...base, ...expected });
  });

  test("blank lines, comments and continuations: records keep their own line numbers", () => {
    const text = [
      "# TYPE DATABASE USER ADDRESS METHOD", // 1
      "", // 2
      "local all all trust", // 3
      "   \t", // 4
      "host all \\", // 5
      "  all all md5", // 6
      "# host all all all reject \\", // 7 (a continued comment swallows line 8)
      "host all all all reject", // 8
      "hostssl all all all scram-sha-256", // 9
    ].join("\n");
    expect(parseHba(text).map((r) => [r.line, r.type, r.method])).toEqual([
      [3, "local", "trust"],
      [5, "host", "md5"],
      [9, "hostssl", "scram-sha-256"],
    ]);
  });

  test("no records at all", () => {
    expect(parseHba("")).toEqual([]);
    expect(parseHba("# nothing\n\n   \n")).toEqual([]);
  });
});

describe("parseHba: refusals name the line", () => {
  const cases: [string, string, RegExp][] = [
    ["hostgssenc", "hostgssenc all all all trust", /connection type "hostgssenc" is not supported by PgGate/],
    ["hostnogssenc", "hostnogssenc all all all trust", /connection type "hostnogssenc" is not supported by PgGate/],
    ["unknown record type", "hosts all all all trust", /invalid connection type "hosts"/],
    ["connection types are case-sensitive", "HOST all all all trust", /invalid connection type "HOST"/],
    ["include directive", "include other.conf", /"include" directives are not supported/],
    ["include_dir directive", "include_dir conf.d", /"include_dir" directives are not supported/],
    ["a list of connection types", "host,local all all all trust", /multiple values specified for connection type/],
    ["no database", "host", /end-of-line before database specification/],
    ["no user", "host all", /end-of-line before role specification/],
    ["no address", "host all all", /end-of-line before IP address specification/],
    ["no netmask", "host all all 10.0.0.1", /end-of-line before netmask specification/],
    ["no method", "host all all 10.0.0.0/8", /end-of-line before authentication method specification/],
    ["no method on local", "local all all", /end-of-line before authentication method specification/],
    ["no method after a netmask", "host all all 10.0.0.0 255.0.0.0 # comment", /end-of-line before authentication method specification/],
    ["samerole", "host samerole all all trust", /"samerole" is not supported by PgGate/],
    ["samegroup", "host samegroup all all trust", /"samegroup" is not supported by PgGate/],
    ["@file in the database field", "host @dbs all all trust", /file inclusion \(@dbs\) is not supported by PgGate/],
    ["@file in the user field", "host all bob,@users all trust", /file inclusion \(@users\) is not supported by PgGate/],
    ["group membership", "host all +admins all trust", /group membership \(\+admins\) is not supported by PgGate/],
    ["samehost", "host all all samehost trust", /"samehost" is not supported by PgGate/],
    ["samenet", "host all all samenet trust", /"samenet" is not supported by PgGate/],
    ["host name", "host all all db.example.com trust", /host names are not supported; use an address or CIDR/],
    ["host name suffix", "host all all .example.com trust", /host names are not supported; use an address or CIDR/],
    ["localhost", "host all all localhost trust", /host names are not supported; use an address or CIDR/],
    ["quoted all as address is a host name", 'host all all "all" trust', /host names are not supported/],
    ["IPv4 octet out of range", "host all all 10.0.0.256/8 trust", /invalid IP address "10.0.0.256"/],
    ["IPv4 octet out of range, netmask form", "host all all 10.0.0.256 255.0.0.0 trust", /invalid IP address "10.0.0.256"/],
    ["IPv4 leading zero (octal to inet_aton)", "host all all 010.0.0.1/32 trust", /invalid IP address "010.0.0.1"/],
    ["IPv4 with three parts", "host all all 10.0.1/24 trust", /invalid IP address "10.0.1"/],
    ["IPv6 with two ::", "host all all 1::2::3/64 trust", /invalid IP address "1::2::3"/],
    ["IPv6 with nine groups", "host all all 1:2:3:4:5:6:7:8:9/64 trust", /invalid IP address/],
    ["IPv6 with seven groups and no ::", "host all all 1:2:3:4:5:6:7/64 trust", /invalid IP address/],
    ["IPv6 with a five-digit group", "host all all 12345::/16 trust", /invalid IP address/],
    ["IPv6 with a zone", "host all all fe80::1%eth0/64 trust", /invalid IP address "fe80::1%eth0"/],
    ["IPv6 with a dotted quad not at the end", "host all all 1.2.3.4::/64 trust", /invalid IP address/],
    ["IPv4 prefix too long", "host all all 10.0.0.0/33 trust", /invalid CIDR mask in address "10.0.0.0\/33"/],
    ["IPv6 prefix too long", "host all all ::/129 trust", /invalid CIDR mask in address "::\/129"/],
    ["empty prefix", "host all all 10.0.0.0/ trust", /invalid CIDR mask in address/],
    ["prefix not a number", "host all all 10.0.0.0/x trust", /invalid CIDR mask in address/],
    ["negative prefix", "host all all 10.0.0.0/-1 trust", /invalid CIDR mask in address/],
    ["CIDR and a netmask", "host all all 10.0.0.0/8 255.0.0.0 trust", /invalid authentication method "255.0.0.0"/],
    ["mask of the other family", "host all all 10.0.0.0 ffff:: trust", /IP address and mask do not match/],
    ["bad netmask", "host all all 10.0.0.0 255.0.0 trust", /invalid IP mask "255.0.0"/],
    ["a list of addresses", "host all all 10.0.0.0/8,10.1.0.0/16 trust", /multiple values specified for host address/],
    ["a list of netmasks", "host all all 10.0.0.0 255.0.0.0,255.255.0.0 trust", /multiple values specified for netmask/],
    ["unknown method", "host all all all krb5", /invalid authentication method "krb5"/],
    ["methods are case-sensitive", "host all all all Trust", /invalid authentication method "Trust"/],
    ["a list of methods", "host all all all trust,md5", /multiple values specified for authentication type/],
    ["option without =", "host all all all md5 clientcert", /authentication option not in name=value format: clientcert/],
    ["a client certificate demanded", "hostssl all all all md5 clientcert=verify-full", /line 1: clientcert=verify-full is not supported by PgGate/],
    ["option without a name", "host all all all md5 =x", /authentication option not in name=value format: =x/],
    ["invalid regex", "host all /( all trust", /invalid regular expression "\("/],
    ["empty regex", "host all / all trust", /empty regular expression/],
    ["invalid database regex", "host /[ all all trust", /invalid regular expression "\["/],
    ["unterminated quote", 'host "app all all trust', /unterminated quoted string/],
  ];
  test.each(cases)("%s", (_name, text, pattern) => {
    const err = parseError(text);
    expect(err.line).toBe(1);
    expect(err.message).toStartWith("line 1: ");
    expect(err.message).toMatch(pattern);
  });

  const unsupported = ["peer", "ident", "cert", "gss", "sspi", "ldap", "radius", "pam", "bsd"];
  test.each(unsupported)("method %s is unsupported by PgGate", (method) => {
    const err = parseError(`# header\nhost all all all trust\nhostssl all all all ${method}\n`);
    expect(err.line).toBe(3);
    expect(err.message).toBe(`line 3: authentication method "${method}" is not supported by PgGate`);
  });

  test("the line number counts blank and comment lines", () => {
    const err = parseError("# c\n\nhost all all all trust\n\n  # c\nhost all +g all trust\n");
    expect(err.line).toBe(6);
    expect(err.message).toBe("line 6: group membership (+g) is not supported by PgGate");
  });

  test("an error in a continued record names the line it starts on", () => {
    const err = parseError("host all all all trust\nhost all \\\n  all \\\n  all ldap\n");
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/^line 2: authentication method "ldap"/);
  });

  test("the first bad line is the one reported", () => {
    expect(parseError("host all all all trust\nhost all all all peer\nhosts x\n").line).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Matching

describe("matchHba", () => {
  test("first match wins, and the rule itself is returned", () => {
    const rules = parseHba("host all all 10.0.0.5/32 reject\nhost all all 10.0.0.0/8 scram-sha-256\nhost all all all trust\n");
    expect(matchHba(rules, client({ address: "10.0.0.5" }))).toBe(rules[0]);
    expect(matchHba(rules, client({ address: "10.0.0.6" }))).toBe(rules[1]);
    expect(matchHba(rules, client({ address: "192.168.0.1" }))).toBe(rules[2]);
  });

  test("no rules, or none that fit: null", () => {
    expect(matchHba([], client())).toBeNull();
    expect(matchedLine("host other all all trust\nhost all alice all trust\nhost all all 192.168.0.0/16 trust\n", client())).toBeNull();
  });

  const sslCases: [string, boolean, boolean][] = [
    ["host", false, true],
    ["host", true, true],
    ["hostssl", false, false],
    ["hostssl", true, true],
    ["hostnossl", false, true],
    ["hostnossl", true, false],
    ["local", false, false],
    ["local", true, false],
  ];
  test.each(sslCases)("%s with ssl=%p matches a TCP client: %p", (type, ssl, matches) => {
    const address = type === "local" ? "" : " all";
    expect(matchedLine(`${type} all all${address} trust`, client({ ssl }))).toBe(matches ? 1 : null);
  });

  const localCases: [string, boolean][] = [
    ["local all all", true],
    ["host all all all", false],
    ["host all all 0.0.0.0/0", false],
    ["hostssl all all all", false],
    ["hostnossl all all all", false],
  ];
  test.each(localCases)("%s matches a Unix-socket client: %p", (rule, matches) => {
    expect(matchedLine(`${rule} trust`, client({ local: true, address: "unix" }))).toBe(matches ? 1 : null);
  });

  test("hostssl and hostnossl pick by the client's SSL state", () => {
    const text = "hostnossl all all all reject\nhostssl all all all scram-sha-256\n";
    expect(matchedLine(text, client({ ssl: false }))).toBe(1);
    expect(matchedLine(text, client({ ssl: true }))).toBe(2);
  });

  test("local lines are for Unix-socket clients, host lines for TCP clients, as in PostgreSQL", () => {
    const text = "local all all reject\nhost all all all trust\n";
    expect(matchedLine(text, client())).toBe(2);
    expect(matchedLine(text, client({ local: true, address: "unix" }))).toBe(1);
    expect(matchedLine("local all all trust\n", client({ address: "127.0.0.1" }))).toBeNull();
    expect(matchedLine("host all all all trust\n", client({ local: true, address: "unix" }))).toBeNull();
    // Names still decide among local lines.
    expect(matchedLine("local app bob reject\nlocal all all trust\n", client({ local: true, user: "alice" }))).toBe(2);
  });

  test("a Unix-socket client is named [local] in refusals, as PostgreSQL names it", () => {
    const c = client({ local: true, address: "unix" });
    expect(noEntryMessage(c)).toBe('no pg_hba.conf entry for host "[local]", user "bob", database "app", no encryption');
    expect(rejectMessage(c)).toBe('pg_hba.conf rejects connection for host "[local]", user "bob", database "app", no encryption');
  });

  const addressCases: [string, string, boolean][] = [
    // IPv4 CIDR edges
    ["10.1.2.0/23", "10.1.2.0", true],
    ["10.1.2.0/23", "10.1.3.255", true],
    ["10.1.2.0/23", "10.1.1.255", false],
    ["10.1.2.0/23", "10.1.4.0", false],
    ["10.1.2.3/8", "10.255.255.255", true],
    ["10.1.2.3/8", "11.0.0.0", false],
    ["10.1.2.3/32", "10.1.2.3", true],
    ["10.1.2.3/32", "10.1.2.2", false],
    ["10.1.2.3/31", "10.1.2.2", true],
    ["10.1.2.3/31", "10.1.2.4", false],
    ["0.0.0.0/0", "255.255.255.255", true],
    ["0.0.0.0/0", "::1", false],
    ["128.0.0.0/1", "127.255.255.255", false],
    ["128.0.0.0/1", "128.0.0.0", true],
    // IPv4 netmask column
    ["192.168.1.0 255.255.255.0", "192.168.1.77", true],
    ["192.168.1.0 255.255.255.0", "192.168.2.77", false],
    ["192.168.1.0 255.255.255.128", "192.168.1.127", true],
    ["192.168.1.0 255.255.255.128", "192.168.1.128", false],
    ["10.0.0.0 255.0.0.0", "10.9.9.9", true],
    // IPv6 CIDR edges
    ["2001:db8::/33", "2001:db8::", true],
    ["2001:db8::/33", "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff", true],
    ["2001:db8::/33", "2001:db8:8000::", false],
    ["2001:db8::/33", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:db8::1/128", "2001:db8::1", true],
    ["2001:db8::1/128", "2001:db8::2", false],
    ["2001:db8::1/128", "2001:0db8:0000:0000:0000:0000:0000:0001", true],
    ["2001:db8::/127", "2001:db8::1", true],
    ["2001:db8::/127", "2001:db8::2", false],
    ["::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["::/0", "10.1.2.3", false],
    ["::1/128", "::1", true],
    ["::1/128", "127.0.0.1", false],
    ["fe80::/10", "febf:ffff::1", true],
    ["fe80::/10", "fec0::1", false],
    ["fe80::/10", "fe80::1%eth0", true],
    // IPv6 netmask column
    ["fe80:: ffc0::", "fe80::abcd", true],
    ["fe80:: ffc0::", "fec0::abcd", false],
    ["2001:db8:: ffff:ffff:ffff:ffff::", "2001:db8::1:2:3:4", true],
    ["2001:db8:: ffff:ffff:ffff:ffff::", "2001:db8:0:1::", false],
    // IPv4-mapped IPv6 clients match IPv4 rules (and, being IPv6 addresses, IPv6 rules too)
    ["10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["10.0.0.0/8", "::FFFF:10.1.2.3", true],
    ["10.0.0.0/8", "::ffff:a01:203", true],
    ["10.0.0.0/8", "0:0:0:0:0:ffff:10.1.2.3", true],
    ["10.0.0.0/8", "::ffff:11.1.2.3", false],
    ["10.1.2.3 255.255.255.255", "::ffff:10.1.2.3", true],
    ["::ffff:0:0/96", "::ffff:10.1.2.3", true],
    ["::ffff:0:0/96", "10.1.2.3", false],
    // only ::ffff:0:0/96 is mapped: not the deprecated compatible form, not a near miss
    ["10.0.0.0/8", "::10.1.2.3", false],
    ["10.0.0.0/8", "::fffe:10.1.2.3", false],
    ["10.0.0.0/8", "1::ffff:10.1.2.3", false],
    // a client address that is no address matches only "all"
    ["0.0.0.0/0", "", false],
    ["0.0.0.0/0", "garbage", false],
    ["::/0", "[::1]", false],
    ["all", "garbage", true],
  ];
  test.each(addressCases)("rule %s, client %s: %p", (address, clientAddress, matches) => {
    expect(matchedLine(`host all all ${address} trust`, client({ address: clientAddress }))).toBe(matches ? 1 : null);
  });

  const nameCases: [string, string, Partial<HbaClient>, boolean][] = [
    ["database all", "host all all all trust", { database: "anything" }, true],
    ["database by name", "host app all all trust", { database: "app" }, true],
    ["database name is case-sensitive", "host app all all trust", { database: "App" }, false],
    ["database list", "host db1,app,db2 all all trust", { database: "app" }, true],
    ["database list, no member", "host db1,db2 all all trust", { database: "app" }, false],
    ["sameuser, same", "host sameuser all all trust", { database: "bob", user: "bob" }, true],
    ["sameuser, different", "host sameuser all all trust", { database: "app", user: "bob" }, false],
    ["replication never matches, even a database of that name", "host replication all all trust", { database: "replication" }, false],
    ["quoted replication is the name", 'host "replication" all all trust', { database: "replication" }, true],
    ["quoted all matches only a database called all", 'host "all" all all trust', { database: "app" }, false],
    ["quoted all matches a database called all", 'host "all" all all trust', { database: "all" }, true],
    ["quoted sameuser is the name", 'host "sameuser" all all trust', { database: "bob", user: "bob" }, false],
    ["quoted sameuser matches that name", 'host "sameuser" all all trust', { database: "sameuser" }, true],
    ["user all", "host all all all trust", { user: "anyone" }, true],
    ["user by name", "host all bob all trust", { user: "bob" }, true],
    ["user name is case-sensitive", "host all Bob all trust", { user: "bob" }, false],
    ["user list", "host all alice,bob all trust", { user: "bob" }, true],
    ["quoted all matches only a user called all", 'host all "all" all trust', { user: "bob" }, false],
    ["quoted all matches a user called all", 'host all "all" all trust', { user: "all" }, true],
    ["quoted +name is a user name", 'host all "+ops" all trust', { user: "+ops" }, true],
    ["sameuser in the user field is a name", "host all sameuser all trust", { user: "bob", database: "bob" }, false],
    ["user regex, anchored", "host all /^adm_ all trust", { user: "adm_x" }, true],
    ["user regex, anchored, no match", "host all /^adm_ all trust", { user: "xadm_" }, false],
    ["user regex, unanchored", "host all /adm all trust", { user: "badmin" }, true],
    ["user regex, fully anchored", "host all /^adm$ all trust", { user: "admin" }, false],
    ["user regex is case-sensitive", "host all /^adm all trust", { user: "ADM" }, false],
    ["user regex in a list", "host all alice,/^svc- all trust", { user: "svc-etl" }, true],
    ["database regex", 'host "/^db\\d{2,4}$" all all trust', { database: "db123" }, true],
    ["database regex, no match", 'host "/^db\\d{2,4}$" all all trust', { database: "db12345" }, false],
    ["both fields must match", "host app bob all trust", { database: "app", user: "alice" }, false],
    // client names are data: metacharacters and prototype keys match only themselves
    ["a regex-looking user matches only itself", "host all .* all trust", { user: "bob" }, false],
    ["a regex-looking user matches itself", "host all .* all trust", { user: ".*" }, true],
    ["a user named /.* is no regex", "host all bob all trust", { user: "/.*" }, false],
    ["__proto__ matches nothing by accident", "host all bob all trust", { user: "__proto__" }, false],
    ["constructor matches nothing by accident", "host constructor,app bob all trust", { database: "toString" }, false],
    ["__proto__ matches a rule naming it", "host all __proto__ all trust", { user: "__proto__" }, true],
    ["an empty user matches an empty quoted name", 'host all "" all trust', { user: "" }, true],
    ["an empty user is not every user", "host all bob all trust", { user: "" }, false],
  ];
  test.each(nameCases)("%s", (_name, text, over, matches) => {
    expect(matchedLine(text, client(over))).toBe(matches ? 1 : null);
  });

  test("a realistic file", () => {
    const rules = parseHba(
      [
        "# TYPE     DATABASE   USER        ADDRESS          METHOD",
        "local      all        all                          trust",
        "hostnossl  all        all         0.0.0.0/0        reject",
        "hostnossl  all        all         ::/0             reject",
        "hostssl    app        /^svc-      10.0.0.0/8       scram-sha-256",
        "hostssl    sameuser   all         10.0.0.0 255.0.0.0  md5",
        "hostssl    all        all         all              reject",
      ].join("\n"),
    );
    const lineFor = (over: Partial<HbaClient>) => matchHba(rules, client(over))?.line ?? null;
    expect(lineFor({ ssl: false })).toBe(3);
    expect(lineFor({ ssl: false, address: "::1" })).toBe(4);
    expect(lineFor({ ssl: true, user: "svc-api" })).toBe(5);
    expect(lineFor({ ssl: true, user: "svc-api", address: "::ffff:10.9.8.7" })).toBe(5);
    expect(lineFor({ ssl: true, user: "bob", database: "bob" })).toBe(6);
    expect(lineFor({ ssl: true, user: "bob" })).toBe(7);
    expect(lineFor({ ssl: true, user: "svc-api", address: "192.168.0.1" })).toBe(7);
  });
});

// ---------------------------------------------------------------------------------------------
// Issue 23 item 7: regexes that cannot stall PgGate, names cut to 63 bytes, one admin database

describe("regexes are matched in linear time and limited to what can be", () => {
  test("nested quantifiers: 20 crafted names against /^(a+)+$ each get an answer (a backtracking engine takes minutes)", () => {
    const rules = parseHba("host all /^(a+)+$ all reject\nhost all all all trust\n");
    for (let i = 0; i < 20; i++) {
      expect(matchHba(rules, client({ user: "a".repeat(40) + "!" }))?.line).toBe(2);
    }
    expect(matchHba(rules, client({ user: "a".repeat(40) }))?.line).toBe(1);
  });

  const refusals: [string, string, RegExp][] = [
    ["back reference", "host all /^(a)\\1$ all trust", /^line 1: invalid regular expression "\^\(a\)\\1\$": back references \(\\1\) are not supported \(at column 15\)$/],
    ["lookahead", "host /^(?!template) all all trust", /^line 1: invalid regular expression "\^\(\?!template\)": lookahead and lookbehind constraints are not supported \(at column 8\)$/],
    ["JavaScript's \\b", "host all /\\badm all trust", /escape \\b is not supported .* \(at column 11\)$/],
    ["column counts characters through quotes", 'host all "/é(?=x)" all trust', /lookahead .* \(at column 13\)$/],
    ["column after a doubled quote", 'host all "/a""(?=x)" all trust', /lookahead .* \(at column 15\)$/],
    ["unbalanced paren points at it", "host all /^(adm all trust", /not balanced .* \(at column 12\)$/],
  ];
  test.each(refusals)("%s is refused with line and column", (_name, text, message) => {
    const err = parseError(text);
    expect(err.line).toBe(1);
    expect(err.message).toMatch(message);
  });

  test("in a continued record the column is on the physical line that holds it", () => {
    const err = parseError("# c\nhost all \\\n  /^(a)\\1 all trust\n");
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/^line 2: invalid regular expression .* \(at line 3, column 8\)$/);
  });

  test("loadHbaFile refuses it too, so pggate check, start and reload report it", () => {
    const path = scratchPath("regex-hba.conf");
    writeFileSync(path, "host all /(?<=x)y all reject\n");
    expect(() => loadHbaFile(path)).toThrow(`${path}: line 1: invalid regular expression "(?<=x)y": lookahead and lookbehind constraints are not supported (at column 11)`);
  });
});

describe("names are cut to 63 bytes before matching, as PostgreSQL cuts them", () => {
  const role63 = "r".repeat(63);
  const db63 = "d".repeat(63);

  test("a reject line for a 63-byte role applies to that name plus more characters (the same role)", () => {
    const rules = parseHba(`host all ${role63} all reject\nhost all all all trust\n`);
    expect(matchHba(rules, client({ user: role63 }))?.line).toBe(1);
    expect(matchHba(rules, client({ user: role63 + "xx" }))?.line).toBe(1);
    expect(matchHba(rules, client({ user: role63.slice(1) + "xx" }))?.line).toBe(2);
  });

  test("the same for a 63-byte database, and for a regex anchored at the end", () => {
    const rules = parseHba(`host ${db63} all all reject\nhost all /^r+$ all reject\nhost all all all trust\n`);
    expect(matchHba(rules, client({ database: db63 + "-other" }))?.line).toBe(1);
    expect(matchHba(rules, client({ user: role63 + "!" }))?.line).toBe(2);
  });

  test("the cut falls on a character boundary", () => {
    // 62 ASCII bytes and a 2-byte é make 64: the é goes whole.
    const name62 = "n".repeat(62);
    const rules = parseHba(`host all ${name62} all reject\nhost all all all trust\n`);
    expect(matchHba(rules, client({ user: name62 + "é" }))?.line).toBe(1);
    // 61 bytes and é make exactly 63: kept, so it is another role.
    expect(matchHba(rules, client({ user: name62.slice(1) + "é" }))?.line).toBe(2);
    expect(truncateName("€".repeat(22))).toBe("€".repeat(21));
    expect(truncateName("a" + "😀".repeat(16))).toBe("a" + "😀".repeat(15));
    expect(truncateName(role63)).toBe(role63);
  });

  test("a longer name in the file is refused: no client name could ever equal it", () => {
    const err = parseError(`host all ${role63}x all reject\n`);
    expect(err.message).toBe(`line 1: name "${role63}x" is longer than 63 bytes; PostgreSQL truncates role and database names to 63 bytes, so write "${role63}"`);
    expect(parseError(`host "${"é".repeat(32)}" all all reject\n`).message).toMatch(/is longer than 63 bytes/);
  });
});

describe("pggate and pgbouncer are one database (both reach the admin console)", () => {
  const cases: [string, string, string, number][] = [
    ["a pggate reject line applies to pgbouncer", "host pggate all all reject", "pgbouncer", 1],
    ["a pgbouncer reject line applies to pggate", "host pgbouncer all all reject", "pggate", 1],
    ["in a list", "host app,pgbouncer all all reject", "pggate", 1],
    ["quoted", 'host "pggate" all all reject', "pgbouncer", 1],
    ["a regex matching one name applies to the other", "host /^pgb all all reject", "pggate", 1],
    ["other databases are not drawn in", "host pggate all all reject", "app", 2],
    ["nor is a name that merely starts the same", "host pggate all all reject", "pggate2", 2],
  ];
  test.each(cases)("%s", (_name, line, database, expected) => {
    expect(matchedLine(`${line}\nhost all all all trust\n`, client({ database }))).toBe(expected);
  });

  test("sameuser: a user named after either name matches the console under both", () => {
    expect(matchedLine("host sameuser all all reject\nhost all all all trust\n", client({ user: "pgbouncer", database: "pggate" }))).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Messages

describe("refusal messages", () => {
  test("no entry, SSL and not", () => {
    expect(noEntryMessage(client({ ssl: true }))).toBe(
      'no pg_hba.conf entry for host "10.1.2.3", user "bob", database "app", SSL encryption',
    );
    expect(noEntryMessage(client({ address: "::1", user: "alice", database: "db" }))).toBe(
      'no pg_hba.conf entry for host "::1", user "alice", database "db", no encryption',
    );
  });

  test("reject, SSL and not", () => {
    expect(rejectMessage(client({ ssl: true }))).toBe(
      'pg_hba.conf rejects connection for host "10.1.2.3", user "bob", database "app", SSL encryption',
    );
    expect(rejectMessage(client({ address: "::ffff:10.1.2.3" }))).toBe(
      'pg_hba.conf rejects connection for host "::ffff:10.1.2.3", user "bob", database "app", no encryption',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Files

describe("loadHbaFile", () => {
  test("reads and parses the file", () => {
    const path = scratchPath("hba.conf");
    writeFileSync(path, "# rules\nhostssl all all all scram-sha-256\nhost all all all reject\n");
    expect(loadHbaFile(path).map(summary)).toEqual([
      { ...base, line: 2, type: "hostssl", method: "scram-sha-256" },
      { ...base, line: 3, method: "reject" },
    ]);
  });

  test("a parse error names the path and the line", () => {
    const path = scratchPath("bad-hba.conf");
    writeFileSync(path, "host all all all trust\n\nhost all all all peer\n");
    let caught: unknown;
    try {
      loadHbaFile(path);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HbaParseError);
    expect((caught as HbaParseError).line).toBe(3);
    expect((caught as HbaParseError).message).toBe(`${path}: line 3: authentication method "peer" is not supported by PgGate`);
  });

  test("a file with no records is refused, as PostgreSQL refuses one", () => {
    const path = scratchPath("empty-hba.conf");
    writeFileSync(path, "# nothing here\n");
    expect(() => loadHbaFile(path)).toThrow(`${path}: configuration file contains no entries`);
  });

  test("a missing file names the path", () => {
    const path = scratchPath("missing-hba.conf");
    expect(() => loadHbaFile(path)).toThrow(`cannot read hba file ${path}`);
  });
});
