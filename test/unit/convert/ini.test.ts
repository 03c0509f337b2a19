// PgBouncer's ini syntax as libusual reads it (comments, sections, key = value, quoted keys,
// %include) and the [databases] connect-string syntax (quoted values, doubled quotes).

import { describe, expect, test } from "bun:test";
import { IniError, parseConnectString, parseIni } from "../../../src/convert/index.ts";

const noFiles = (path: string): string => {
  throw new Error(`ENOENT: no such file ${path}`);
};
const pairs = (text: string, files: Record<string, string> = {}) =>
  parseIni(text, "/etc/pgb/pgbouncer.ini", (p) => files[p] ?? noFiles(p)).map((e) => [e.section, e.key, e.value, `${e.file}:${e.line}`]);

describe("parseIni", () => {
  test("comments with ; and #, indented ones too, blank lines and CRLF line ends are skipped", () => {
    const text = ";;; header\n# hash comment\n   ; indented\n\n[pgbouncer]\r\n\t# tab-indented\nlisten_port = 6432\r\n";
    expect(pairs(text)).toEqual([["pgbouncer", "listen_port", "6432", "/etc/pgb/pgbouncer.ini:7"]]);
  });

  test("spaces around = and at both ends are dropped; spaces inside a value are kept", () => {
    expect(pairs("[pgbouncer]\n  admin_users   =   postgres, admin  \nauth_query=SELECT usename, passwd FROM pg_shadow WHERE usename=$1\n")).toEqual([
      ["pgbouncer", "admin_users", "postgres, admin", "/etc/pgb/pgbouncer.ini:2"],
      ["pgbouncer", "auth_query", "SELECT usename, passwd FROM pg_shadow WHERE usename=$1", "/etc/pgb/pgbouncer.ini:3"],
    ]);
  });

  test("a ; after a value is part of the value: there are no inline comments", () => {
    expect(pairs("[pgbouncer]\nlisten_port = 6432 ; the port\n")[0][2]).toBe("6432 ; the port");
  });

  test("sections switch; keys may be *, dotted, dashed, or single-quoted with spaces", () => {
    const text = "[databases]\n* = host=a\nmy.db-1 = host=b\n'my db' = host=c\n[users]\nbob = pool_mode=session\n";
    expect(pairs(text).map(([s, k, v]) => [s, k, v])).toEqual([
      ["databases", "*", "host=a"],
      ["databases", "my.db-1", "host=b"],
      ["databases", "my db", "host=c"],
      ["users", "bob", "pool_mode=session"],
    ]);
  });

  test("an empty value is a value", () => {
    expect(pairs("[pgbouncer]\nunix_socket_dir =\n")[0][2]).toBe("");
  });

  test("%include reads the file in place, relative to the including file, and nests", () => {
    const files = {
      "/etc/pgb/conf.d/pools.ini": "default_pool_size = 30\n%include more.ini\n",
      "/etc/pgb/conf.d/more.ini": "[databases]\napp = host=db\n",
      "/abs/tail.ini": "[pgbouncer]\nlisten_port = 7000\n",
    };
    const text = "[pgbouncer]\nlisten_port = 6432\n%include conf.d/pools.ini\nmin_pool_size = 1\n%include   /abs/tail.ini\n";
    expect(pairs(text, files)).toEqual([
      ["pgbouncer", "listen_port", "6432", "/etc/pgb/pgbouncer.ini:2"],
      ["pgbouncer", "default_pool_size", "30", "/etc/pgb/conf.d/pools.ini:1"],
      ["databases", "app", "host=db", "/etc/pgb/conf.d/more.ini:2"],
      // The section an included file left open goes on, as in PgBouncer.
      ["databases", "min_pool_size", "1", "/etc/pgb/pgbouncer.ini:4"],
      ["pgbouncer", "listen_port", "7000", "/abs/tail.ini:2"],
    ]);
  });

  test("an include that cannot be read, and an include loop, are errors naming the line", () => {
    expect(() => pairs("[pgbouncer]\n%include missing.ini\n")).toThrow("/etc/pgb/pgbouncer.ini:2: cannot read %include missing.ini: ENOENT");
    const loop = { "/etc/pgb/self.ini": "%include self.ini\n" };
    expect(() => pairs("%include self.ini\n", loop)).toThrow("%include nested more than 10 deep");
  });

  test("syntax errors name file and line", () => {
    const cases: [string, string][] = [
      ["[pgbouncer]\nlisten_port 6432\n", '/etc/pgb/pgbouncer.ini:2: expected "key = value", got "listen_port 6432"'],
      ["[pgbouncer\n", "/etc/pgb/pgbouncer.ini:1: section header without ]"],
      ["listen_port = 1\n", "/etc/pgb/pgbouncer.ini:1: listen_port is outside any [section]"],
      ["[databases]\n'my db = host=a\n", "/etc/pgb/pgbouncer.ini:2: unterminated or empty quoted key"],
      ["[pgbouncer]\n= 5\n", '/etc/pgb/pgbouncer.ini:2: expected "key = value", got "= 5"'],
    ];
    for (const [text, message] of cases) {
      let thrown: unknown;
      try {
        pairs(text);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(IniError);
      expect((thrown as Error).message).toBe(message);
    }
  });
});

describe("parseConnectString", () => {
  test("space-separated key=value pairs, spaces around = allowed", () => {
    expect(parseConnectString("host=10.0.0.1  port = 5433 dbname=app")).toEqual([
      ["host", "10.0.0.1"],
      ["port", "5433"],
      ["dbname", "app"],
    ]);
  });

  test("single-quoted values keep spaces; a doubled quote is one quote; backslash is plain", () => {
    expect(parseConnectString("user=bob password='a b' application_name='it''s' x=c:\\dir")).toEqual([
      ["user", "bob"],
      ["password", "a b"],
      ["application_name", "it's"],
      ["x", "c:\\dir"],
    ]);
  });

  test("an empty string has no pairs", () => {
    expect(parseConnectString("")).toEqual([]);
    expect(parseConnectString("   ")).toEqual([]);
  });

  test("what PgBouncer refuses is refused", () => {
    expect(() => parseConnectString("host")).toThrow('expected key=value at "host"');
    expect(() => parseConnectString("host= ")).toThrow("empty value for host");
    expect(() => parseConnectString("password=''")).toThrow("empty value for password");
    expect(() => parseConnectString("password='open")).toThrow("unterminated quoted value for password");
    expect(() => parseConnectString("=x")).toThrow('expected key=value at "=x"');
  });
});
