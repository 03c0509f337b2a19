// Router table tests: each row is a query string and the full Classification a user of the proxy
// relies on (where it runs, why, what it pins). Rows are grouped by the rule they exercise.

import { describe, expect, test } from "bun:test";
import { classify, type Classification, type ClassifyContext, type RelationKind } from "../../../src/router/index.ts";

const volatilities: Record<string, "v" | "s" | "i"> = {
  vol_fn: "v",
  stable_fn: "s",
  imm_fn: "i",
  safe_volatile: "v",
  audit_log: "s",
  bump: "s",
  MixedCase: "v",
};

// Relation kinds the catalog knows; names listed as undefined are still being looked up, and
// every other name is an ordinary relation.
const relations: Record<string, RelationKind | undefined> = {
  a_seq: "sequence",
  "Mixed Seq": "sequence",
  ulog: "unlogged",
  pending_rel: undefined,
  other_rel: undefined,
};

const ctx: ClassifyContext = {
  writeFunctions: new Set(["audit_log", "app.bump"]),
  readFunctions: new Set(["safe_volatile", "app.cached_lookup"]),
  volatility: (name) => volatilities[name],
  relationKind: (name) => (name in relations ? relations[name] : "other"),
};

type Expected = Partial<Classification> & Pick<Classification, "route" | "reason">;
type Row = [string, Expected];

const read: Expected = { route: "replica", reason: "read" };
function primary(reason: Classification["reason"], extra: Partial<Classification> = {}): Expected {
  return { route: "primary", reason, ...extra };
}
function replica(reason: Classification["reason"], extra: Partial<Classification> = {}): Expected {
  return { route: "replica", reason, ...extra };
}
const write = primary("write");
const ddl = primary("ddl", { schema: true });
/** DDL that changes no query's types. */
const ddlSameTypes = primary("ddl");
const utility = primary("utility");
const unknown = primary("unknown");
const session = primary("session");
const fn = primary("function");
const locking = primary("locking_read");
const copyFrom = primary("copy_from");
const txn = (effect: Classification["txn"], route: Classification["route"] = "primary"): Expected => ({
  route,
  reason: "transaction",
  txn: effect,
});
const pinned = (reason: Classification["reason"], pin: Classification["pin"]): Expected => primary(reason, reason === "ddl" ? { pin, schema: true } : { pin });
const unknownFns = (...names: string[]): Expected => primary("function", { unknownFunctions: names });
const nodeLocal = primary("node_local");
const unknownRels = (...names: string[]): Expected => primary("node_local", { unknownRelations: names });

const cases: Record<string, Row[]> = {
  "plain reads": [
    ["SELECT 1", read],
    ["select 1", read],
    ["SELECT * FROM users", read],
    ["SELECT * FROM users WHERE id = $1", read],
    ["SELECT id, name FROM public.users u WHERE u.id = 42 ORDER BY name LIMIT 10 OFFSET 5", read],
    ["VALUES (1, 'a'), (2, 'b')", read],
    ["TABLE users", read],
    ["TABLE public.users", read],
    ["(SELECT 1) UNION (SELECT 2)", read],
    ["((SELECT 1))", read],
    ["SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3 INTERSECT SELECT 4", read],
    ["select * from T where X = 1", read],
    ['SELECT "Weird Column" FROM "Table"', read],
    ["SELECT t.update, t.delete, t.insert, t.merge FROM t", read],
    ['SELECT 1 AS "select", 2 AS "insert"', read],
    ["SELECT * FROM information_schema.tables", read],
    ["SELECT * FROM pg_catalog.pg_class WHERE relname = 'x'", read],
    ["SELECT * FROM t WHERE x = $1 AND y = $2 AND z = $10", read],
    ["SELECT 1.5e10, .5, 0x1F, 1_000", read],
    ["SELECT a::text::varchar(10) FROM t", read],
    ["SELECT x FROM t WHERE a !~ 'b' AND c <> d OR e >= f", read],
    ["SELECT '{\"a\":1}'::jsonb -> 'a', '{}'::jsonb ->> 'a', '{}'::jsonb @> '{}'", read],
    ["SELECT foo$bar FROM t", read],
    ["SELECT 'a'\n'b'", read],
    ["SELECT * FROM t FOR READ ONLY", read],
    ["SELECT x COLLATE \"C\" FROM t", read],
    ["SELECT * FROM t WHERE name LIKE 'a%' ESCAPE '\\'", read],
    ["SELECT 1 WHERE 1 BETWEEN SYMMETRIC 2 AND 0", read],
    ["SELECT x IS JSON FROM t", read],
    ["SELECT nextval FROM t", read],
    ["SELECT vol_fn FROM t", read],
    ["SELECT 'vol_fn()', 'nextval(1)'", read],
    ["\n\tSELECT\n1\n", read],
  ],

  "syntax that looks like a call": [
    ["SELECT count(*) FROM t", read],
    ["SELECT count(*) FILTER (WHERE x > 1) FROM t", read],
    ["SELECT a, sum(b) OVER (PARTITION BY a ORDER BY c ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t", read],
    ["SELECT EXISTS (SELECT 1 FROM t WHERE x = 1)", read],
    ["SELECT exists(select 1)", read],
    ["SELECT * FROM t WHERE id IN (1, 2, 3)", read],
    ["SELECT * FROM t WHERE id NOT IN (SELECT id FROM u)", read],
    ["SELECT * FROM t WHERE id = ANY($1::int[])", read],
    ["SELECT * FROM t WHERE id = ALL (ARRAY[1]) OR id = SOME (ARRAY[2])", read],
    ["SELECT CAST(x AS numeric(10,2)) FROM t", read],
    ["SELECT x::numeric(10,2), y::varchar(20), z::decimal(5), w::char(3) FROM t", read],
    ["SELECT 'abc'::character varying(5), 'x'::bit varying(3)", read],
    ["SELECT now()::timestamp(3), now()::time(0) with time zone, '1'::interval(2)", read],
    ["SELECT x::geometry(Point, 4326) FROM t", read],
    ["SELECT CAST(x AS public.geometry(Point, 4326)) FROM t", read],
    ["SELECT x::pg_catalog.varchar(10) FROM t", read],
    ["SELECT coalesce(a, b), nullif(a, 0), greatest(a, b), least(a, b) FROM t", read],
    ["SELECT ROW(1, 2), ARRAY(SELECT 1), ARRAY[1, 2]", read],
    ["SELECT extract(epoch FROM now()), date_trunc('day', now())", read],
    ["SELECT substring('abc' FROM 1 FOR 2), position('a' IN 'abc'), trim(both 'x' FROM 'xax')", read],
    ["SELECT overlay('abc' placing 'x' from 1 for 1)", read],
    ["SELECT collation for ('a')", read],
    ["SELECT normalize('a', NFC), treat(x AS int) FROM t", read],
    ["SELECT current_timestamp(3), localtimestamp(2), localtime(1)", read],
    ["SELECT grouping(a) FROM t GROUP BY a", read],
    ["SELECT a FROM t GROUP BY ROLLUP (a), CUBE (b), GROUPING SETS ((a), (b))", read],
    ["SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b", read],
    ["SELECT * FROM t1 JOIN t2 USING (id)", read],
    ["SELECT * FROM t WHERE (a, b) OVERLAPS (c, d)", read],
    ["SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t", read],
    ["SELECT mode() WITHIN GROUP (ORDER BY x) FROM t", read],
    ["SELECT * FROM t ORDER BY x FETCH FIRST (5) ROWS ONLY", read],
    ["SELECT * FROM t ORDER BY x OFFSET (1) LIMIT (2)", read],
    ["SELECT * FROM t ORDER BY (x) DESC", read],
    ["SELECT * FROM t GROUP BY (a, b)", read],
    ["SELECT x AT TIME ZONE ('UTC') FROM t", read],
    ["SELECT xmlelement(name foo, xmlattributes('x' AS bar)), xmlforest(1 AS a)", read],
    ["SELECT json_object('a' VALUE 1), json_array(1, 2), json_scalar(1)", read],
    ["SELECT * FROM json_table('[]', '$' COLUMNS (id FOR ORDINALITY, v int PATH '$.v')) AS jt", read],
    ["SELECT * FROM t TABLESAMPLE bernoulli(10)", read],
    ["SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (42)", read],
    ["SELECT * FROM t WHERE left(name, 1) = 'a' AND right(name, 1) = 'z'", read],
    ["SELECT * FROM t WHERE x BETWEEN (1) AND (2)", read],
    ["SELECT CASE WHEN (a) THEN (b) ELSE (c) END FROM t", read],
  ],

  "aliases and CTE names with column lists": [
    ["SELECT * FROM generate_series(1, 10) g(i)", read],
    ["SELECT * FROM generate_series(1, 10) AS g(i)", read],
    ["SELECT * FROM (VALUES (1, 2)) AS v(a, b)", read],
    ["SELECT * FROM (VALUES (1, 2)) v(a, b)", read],
    ["SELECT * FROM users u(a, b)", read],
    ['SELECT * FROM users "U"(a, b)', read],
    ["SELECT * FROM jsonb_to_recordset('[{\"a\":1}]') AS x(a int)", read],
    ["SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY AS t(v, n)", read],
    ["SELECT * FROM t AS x(a varchar(10), b mytype(3))", read],
    ["SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1])) AS r(a, b)", read],
    ["WITH a(x) AS (SELECT 1) SELECT * FROM a", read],
    ["WITH a(x) AS (SELECT 1), b(y) AS MATERIALIZED (SELECT 2) SELECT * FROM a, b", read],
    ["WITH a(x) AS NOT MATERIALIZED (SELECT 1) SELECT * FROM a", read],
    ["WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r", read],
    ['WITH "Q"(x) AS (SELECT 1) SELECT * FROM "Q"', read],
    ["SELECT * FROM t x(a) WHERE y = my_unknown(1)", unknownFns("my_unknown")],
  ],

  "built-in reads": [
    ["SELECT now(), current_timestamp, current_date, localtime", read],
    ["SELECT inet_server_port(), inet_server_addr()", read],
    ["SELECT version(), current_setting('server_version')", read],
    ["SELECT random(), clock_timestamp(), gen_random_uuid(), pg_sleep(0.1)", read],
    ["SELECT lower(name), upper(name), length(name), format('%s', name), to_char(now(), 'YYYY') FROM t", read],
    ["SELECT json_build_object('a', 1), jsonb_agg(x), to_jsonb(t) FROM t", read],
    ["SELECT array_agg(x), string_agg(x, ',') FROM t", read],
    ["SELECT min(a), max(a), avg(a), sum(a) FROM t", read],
    ["SELECT pg_catalog.now(), pg_catalog.lower('A')", read],
    ["SELECT has_table_privilege('t', 'SELECT'), pg_get_viewdef('v'::regclass)", read],
    ["SELECT pg_size_pretty(pg_total_relation_size('t'))", read],
    ["SELECT date(now()), text(1), int4('1')", read],
    ["SELECT lo_get(123)", read],
    ["SELECT txid_snapshot_xmin($1::txid_snapshot), pg_visible_in_snapshot($1, $2)", read],
    ["SELECT row_number() OVER (), rank() OVER (ORDER BY a), lag(a) OVER w FROM t WINDOW w AS (ORDER BY a)", read],
    ['SELECT "count"(*) FROM t', read],
    ["SELECT uuid_generate_v4(), to_tsvector('english', body) @@ to_tsquery('x') FROM t", read],
  ],

  "keywords hidden in comments, strings and identifiers": [
    ["SELECT 1 /* insert */", read],
    ["-- delete\nSELECT 1", read],
    ["SELECT 1 -- ; DELETE FROM t", read],
    ["SELECT 1--comment\n; DELETE FROM t", primary("write", { statements: 2 })],
    ["SELECT 'drop table x'", read],
    ["SELECT 'a''; DELETE FROM t; --'", read],
    ["SELECT $$ update t $$", read],
    ["SELECT $a$ $b$ delete $b$ $a$", read],
    ["SELECT $a$ ; DELETE FROM t; $a$", read],
    ["SELECT $x$ $$ ; $$ $x$", read],
    ['SELECT "insert" FROM t', read],
    ['SELECT "x"";delete" FROM t', read],
    ["SELECT E'\\'; DELETE FROM t; --'", read],
    ["SELECT 'x' /* outer /* inner */ still comment ; DELETE FROM t */", read],
    ["/* /* nested */ DELETE FROM t; */ SELECT 1", read],
    ["SELECT 1 /* a /* b */ */ ; SELECT 2", { ...read, statements: 2 }],
    ["SELECT 1 /* ; */", read],
    ["SELECT 1/*comment*/FROM t", read],
    ["SELECT 1 +/*c*/2", read],
    ["SELECT U&'d\\0061t\\+000061'", read],
    ['SELECT U&"d\\0061t" FROM t', read],
    ["SELECT e'it\\'s', u&'\\0041', b'101', x'ff', n'nat'", read],
    ["SELECT $$dollar$$, $tag$x$tag$", read],
    ["SELECT 'it''s'", read],
    ["SELECT 'for update', 'FOR SHARE'", read],
    ["SELECT '/* pggate:primary */'", read],
    ["WITH a AS (SELECT 'delete from t') SELECT * FROM a", read],
    ["WITH a AS (SELECT 1 /* update */) SELECT * FROM a", read],
    ["DELETE FROM t WHERE note = '/* pggate:replica */'", write],
  ],

  "empty input": [
    ["", { ...read, statements: 0 }],
    ["   ", { ...read, statements: 0 }],
    [";", { ...read, statements: 0 }],
    ["   ;  ; ", { ...read, statements: 0 }],
    ["/* only a comment */", { ...read, statements: 0 }],
    ["-- just a comment", { ...read, statements: 0 }],
    ["/* a */ ; -- b", { ...read, statements: 0 }],
  ],

  writes: [
    ["INSERT INTO t VALUES (1)", write],
    ["INSERT INTO t (a, b) VALUES (1, 2) RETURNING id", write],
    ["INSERT INTO s.t(a, b) VALUES (1, 2)", write],
    ["INSERT INTO t SELECT * FROM u", write],
    ["INSERT INTO t DEFAULT VALUES", write],
    ["INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a", write],
    ["INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", write],
    ['insert into "T" values (1)', write],
    ["UPDATE t SET a = 1 WHERE id = 2", write],
    ["UPDATE t SET (a, b) = (1, 2)", write],
    ["update t set a = a + 1 from u where t.id = u.id", write],
    ["DELETE FROM t WHERE id = 1", write],
    ["DELETE FROM t USING u WHERE t.id = u.id RETURNING *", write],
    ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)", write],
    ["WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", write],
    ["WITH x AS (SELECT 1) UPDATE t SET a = 1", write],
    ["WITH x AS (SELECT 1) DELETE FROM t", write],
    ["CALL my_proc(1)", write],
    ["call app.do_things()", write],
    ["DO $$ BEGIN PERFORM 1; END $$", write],
    ["DO LANGUAGE plpgsql $$ BEGIN NULL; END $$", write],
    ["NOTIFY chan, 'payload'", write],
    ["NOTIFY chan", write],
    // An unqualified column named like a DML keyword is treated as a write: safe, if pessimistic.
    ["SELECT update FROM t", write],
    ["INSERT INTO t VALUES (my_unknown())", write],
    ["INSERT INTO t VALUES (nextval('s'))", write],
  ],

  "SELECT INTO": [
    ["SELECT a INTO b FROM t", write],
    ["select * into new_table from t where x > 1", write],
    ["SELECT * INTO TEMP tmp FROM t", primary("write", { pin: "temp_table" })],
    ["SELECT * INTO TEMPORARY TABLE tmp FROM t", primary("write", { pin: "temp_table" })],
    ["SELECT * INTO LOCAL TEMP x FROM t", primary("write", { pin: "temp_table" })],
    ["SELECT * INTO GLOBAL TEMPORARY x FROM t", primary("write", { pin: "temp_table" })],
    ["SELECT * INTO pg_temp.x FROM t", primary("write", { pin: "temp_table" })],
    ["SELECT * INTO UNLOGGED u FROM t", write],
    ["SELECT * INTO temp_data FROM t", write],
    ["WITH a AS (SELECT 1) SELECT * INTO b FROM a", write],
    ["SELECT 'into' FROM t", read],
  ],

  "writable CTEs": [
    ["WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", write],
    ["WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i", write],
    ["WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u", write],
    ["WITH m AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT * FROM m", write],
    ["WITH a AS (WITH b AS (DELETE FROM t RETURNING *) SELECT * FROM b) SELECT * FROM a", write],
    ["WITH a AS (WITH b AS (WITH c AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a", write],
    ["WITH a AS (WITH b AS (SELECT 1) DELETE FROM t RETURNING *) SELECT * FROM a", write],
    ["WITH a AS (SELECT 1), b AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM a", write],
    ["WITH a AS MATERIALIZED (DELETE FROM t RETURNING *) SELECT 1", write],
    ["WITH RECURSIVE a(n) AS (SELECT 1), d AS (DELETE FROM t) SELECT * FROM a", write],
    ["(WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d)", write],
    ["with d as (delete from t returning *) select * from d", write],
  ],

  "read-only CTEs": [
    ["WITH a AS (SELECT 1) SELECT * FROM a", read],
    ["WITH a AS (SELECT * FROM t), b AS (SELECT * FROM a) SELECT * FROM b", read],
    ["WITH a AS (WITH b AS (SELECT 1) SELECT * FROM b) SELECT * FROM a", read],
    ["WITH a AS (WITH b AS (WITH c AS (SELECT 1) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a", read],
    ["WITH a AS (SELECT 1) SELECT * FROM a LEFT JOIN LATERAL (SELECT * FROM u WHERE u.id = a.id LIMIT 1) x ON true", read],
    ["WITH a AS (SELECT stable_fn()) SELECT * FROM a", read],
    ["WITH a AS (SELECT vol_fn()) SELECT * FROM a", fn],
  ],

  "locking reads": [
    ["SELECT * FROM t FOR UPDATE", locking],
    ["SELECT * FROM t FOR NO KEY UPDATE", locking],
    ["SELECT * FROM t FOR SHARE", locking],
    ["SELECT * FROM t FOR KEY SHARE", locking],
    ["SELECT * FROM t FOR UPDATE SKIP LOCKED", locking],
    ["SELECT * FROM t FOR UPDATE OF t NOWAIT", locking],
    ["SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)", locking],
    ["WITH l AS (SELECT * FROM t FOR SHARE) SELECT * FROM l", locking],
    ["SELECT * FROM (SELECT * FROM t FOR KEY SHARE) s", locking],
    ["select * from t for update", locking],
    ["SELECT * FROM t LIMIT 1 FOR UPDATE", locking],
    ["SELECT * FROM t FOR UPDATE; SELECT 1", primary("locking_read", { statements: 2 })],
    ["SELECT substring('abc' from 1 for 2)", read],
  ],

  EXPLAIN: [
    ["EXPLAIN SELECT 1", read],
    ["EXPLAIN INSERT INTO t VALUES (1)", read],
    ["EXPLAIN DELETE FROM t", read],
    ["EXPLAIN UPDATE t SET a = 1", read],
    ["EXPLAIN VERBOSE SELECT 1", read],
    ["EXPLAIN (FORMAT JSON) SELECT 1", read],
    ["EXPLAIN (COSTS false, FORMAT JSON) DELETE FROM t", read],
    ["EXPLAIN (ANALYZE false) INSERT INTO t VALUES (1)", read],
    ["EXPLAIN (ANALYZE off, BUFFERS) DELETE FROM t", read],
    ["EXPLAIN (ANALYZE 0) DELETE FROM t", read],
    ["EXPLAIN (GENERIC_PLAN) SELECT * FROM t WHERE id = $1", read],
    ["EXPLAIN ANALYZE SELECT 1", read],
    ["EXPLAIN (ANALYZE) SELECT * FROM t", read],
    ["EXPLAIN ANALYZE INSERT INTO t VALUES (1)", write],
    ["EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1", write],
    ["EXPLAIN ANALYSE DELETE FROM t", write],
    ["EXPLAIN (ANALYZE) DELETE FROM t", write],
    ["EXPLAIN (ANALYZE true, BUFFERS true) DELETE FROM t", write],
    ["EXPLAIN (ANALYZE on) INSERT INTO t VALUES (1)", write],
    ["EXPLAIN (ANALYZE 1) DELETE FROM t", write],
    ["EXPLAIN (ANALYZE 'yes') DELETE FROM t", write],
    ["EXPLAIN (FORMAT JSON, ANALYZE) WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", write],
    ["explain analyze merge into t using s on true when matched then delete", write],
    ["EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", locking],
    ["EXPLAIN ANALYZE SELECT nextval('s')", fn],
    ["EXPLAIN SELECT nextval('s')", read],
    ["EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1", ddl],
    ["EXPLAIN CREATE TABLE x AS SELECT 1", read],
    ["EXPLAIN ANALYZE CREATE TEMP TABLE x AS SELECT 1", pinned("ddl", "temp_table")],
    ["EXPLAIN CREATE TEMP TABLE x AS SELECT 1", read],
    ["EXPLAIN EXECUTE stmt(1)", session],
    ["EXPLAIN ANALYZE SELECT my_unknown()", unknownFns("my_unknown")],
    ["EXPLAIN SELECT my_unknown()", read],
    ["EXPLAIN (ANALYZE) SELECT vol_fn()", fn],
    ["EXPLAIN ANALYZE SELECT pg_advisory_lock(1)", pinned("function", "advisory_lock")],
    ["EXPLAIN", unknown],
    ["EXPLAIN (ANALYZE", unknown],
    ["EXPLAIN FOO", unknown],
  ],

  COPY: [
    ["COPY t TO STDOUT", read],
    ["COPY t (a, b) TO STDOUT WITH (FORMAT csv, HEADER)", read],
    ["COPY public.t TO STDOUT", read],
    ['COPY "T" TO STDOUT', read],
    ["copy t to stdout", read],
    ["COPY BINARY t TO STDOUT", read],
    ["COPY t TO STDOUT WITH CSV HEADER", read],
    ["COPY (SELECT * FROM t) TO STDOUT", read],
    ["COPY (SELECT * FROM t WHERE x = 'a') TO STDOUT (FORMAT binary)", read],
    ["COPY (WITH a AS (SELECT 1) SELECT * FROM a) TO STDOUT", read],
    ["COPY t FROM STDIN", copyFrom],
    ["COPY t (a, b) FROM STDIN WITH (FORMAT csv)", copyFrom],
    ["COPY public.t FROM '/tmp/x.csv'", copyFrom],
    ["COPY t FROM PROGRAM 'cat x'", copyFrom],
    ["copy t from stdin", copyFrom],
    ["COPY t TO '/tmp/x.csv'", utility],
    ["COPY t TO PROGRAM 'gzip > /tmp/x'", utility],
    ["COPY (SELECT 1) TO '/tmp/x'", utility],
    ["COPY (DELETE FROM t RETURNING *) TO STDOUT", write],
    ["COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT", write],
    ["COPY (SELECT nextval('s')) TO STDOUT", fn],
    ["COPY (SELECT * FROM t FOR UPDATE) TO STDOUT", locking],
    ["COPY (SELECT my_unknown()) TO STDOUT", unknownFns("my_unknown")],
    ["COPY (SELECT 1) FROM STDIN", unknown],
    ["COPY", unknown],
    ["COPY t", unknown],
    ["COPY (SELECT 1 TO STDOUT", unknown],
  ],

  DDL: [
    ["CREATE TABLE t (id int)", ddl],
    ["CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, a bigint DEFAULT nextval('s'))", ddl],
    ["CREATE UNLOGGED TABLE t (id int)", ddl],
    ["CREATE TABLE temp_data (id int)", ddl],
    ["CREATE INDEX CONCURRENTLY i ON t (a)", ddl],
    ["CREATE UNIQUE INDEX i ON t (lower(a))", ddl],
    ["CREATE VIEW v AS SELECT 1", ddl],
    ["CREATE OR REPLACE VIEW v AS SELECT 1", ddl],
    ["CREATE MATERIALIZED VIEW mv AS SELECT 1", ddl],
    ["CREATE TABLE t2 AS SELECT * FROM t", ddl],
    ["CREATE SEQUENCE s", ddl],
    ["CREATE SCHEMA s", ddl],
    ["CREATE EXTENSION IF NOT EXISTS pgcrypto", ddl],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", ddl],
    ["CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $body$ BEGIN INSERT INTO log VALUES (1); RETURN NEW; END $body$ LANGUAGE plpgsql", ddl],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END", ddl],
    ["CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN true THEN 1 ELSE 2 END; END; SELECT 1", primary("ddl", { statements: 2, schema: true })],
    ["CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", ddl],
    ["CREATE ROLE r LOGIN", ddl],
    ["CREATE DATABASE d", ddl],
    ["CREATE PUBLICATION p FOR ALL TABLES", ddl],
    ["ALTER TABLE t ADD COLUMN b int", ddl],
    ["ALTER SYSTEM SET work_mem = '64MB'", ddl],
    ["ALTER ROLE r SET search_path = x", ddl],
    ["ALTER DATABASE d SET timezone = 'UTC'", ddl],
    ["ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r", ddl],
    ["ALTER SEQUENCE s RESTART", ddl],
    ["DROP TABLE t", ddl],
    ["DROP TABLE IF EXISTS t CASCADE", ddl],
    ["DROP INDEX CONCURRENTLY i", ddl],
    ["TRUNCATE t", ddlSameTypes],
    ["TRUNCATE TABLE t RESTART IDENTITY", ddlSameTypes],
    ["COMMENT ON TABLE t IS 'x'", ddlSameTypes],
    ["GRANT SELECT ON t TO r", ddlSameTypes],
    ["REVOKE ALL ON t FROM r", ddlSameTypes],
    ["REINDEX TABLE t", ddlSameTypes],
    ["CLUSTER t USING i", ddlSameTypes],
    ["SECURITY LABEL ON TABLE t IS 'x'", ddlSameTypes],
    ["IMPORT FOREIGN SCHEMA s FROM SERVER srv INTO local_schema", ddl],
    ["REASSIGN OWNED BY a TO b", ddlSameTypes],
    ["drop view v", ddl],
  ],

  "temporary objects": [
    ["CREATE TEMP TABLE tmp (id int)", pinned("ddl", "temp_table")],
    ["CREATE TEMPORARY TABLE tmp (id int)", pinned("ddl", "temp_table")],
    ["CREATE GLOBAL TEMPORARY TABLE tmp (id int)", pinned("ddl", "temp_table")],
    ["CREATE LOCAL TEMP TABLE tmp (id int)", pinned("ddl", "temp_table")],
    ["create temp table tmp as select 1", pinned("ddl", "temp_table")],
    ["CREATE TEMP VIEW v AS SELECT 1", pinned("ddl", "temp_table")],
    ["CREATE OR REPLACE TEMP VIEW v AS SELECT 1", pinned("ddl", "temp_table")],
    ["CREATE TEMP SEQUENCE s", pinned("ddl", "temp_table")],
    ["CREATE TEMPORARY TABLE IF NOT EXISTS tmp (id int)", pinned("ddl", "temp_table")],
    ["CREATE TABLE pg_temp.t (id int)", pinned("ddl", "temp_table")],
    ["CREATE VIEW v AS SELECT * FROM pg_temp.tmp", pinned("ddl", "temp_table")],
    ["CREATE FUNCTION pg_temp.f() RETURNS int AS 'select 1' LANGUAGE sql", pinned("ddl", "temp_table")],
    ["CREATE TEMP TABLE tmp (id int) ON COMMIT DROP", ddl],
    ["CREATE TEMP TABLE tmp ON COMMIT DROP AS SELECT 1", ddl],
    ["CREATE TEMP TABLE tmp (id int) ON COMMIT DELETE ROWS", pinned("ddl", "temp_table")],
  ],

  utility: [
    ["VACUUM t", utility],
    ["VACUUM (VERBOSE, ANALYZE) t", utility],
    ["VACUUM FULL", utility],
    ["ANALYZE t", utility],
    ["ANALYSE t", utility],
    ["CHECKPOINT", utility],
    ["LOCK TABLE t IN ACCESS EXCLUSIVE MODE", utility],
    ["LOCK t", utility],
    ["REFRESH MATERIALIZED VIEW mv", utility],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY mv", utility],
  ],

  SHOW: [
    ["SHOW search_path", read],
    ["SHOW work_mem", read],
    ["show transaction isolation level", read],
    ["SHOW server_version", read],
    ["SHOW {", unknown],
  ],

  "SET and RESET": [
    ["SET search_path TO app, public", pinned("session", "set")],
    ["SET search_path = app", pinned("session", "set")],
    ["SET statement_timeout = 5000", pinned("session", "set")],
    ["set application_name = 'x'", pinned("session", "set")],
    ["SET SESSION work_mem = '64MB'", pinned("session", "set")],
    ["SET TIME ZONE 'UTC'", pinned("session", "set")],
    ["SET SCHEMA 'app'", pinned("session", "set")],
    ["SET NAMES 'UTF8'", pinned("session", "set")],
    ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", pinned("session", "set")],
    ["SET pggate.other = 1", pinned("session", "set")],
    ["RESET search_path", pinned("session", "set")],
    ["RESET ALL", pinned("session", "set")],
    ["SET LOCAL search_path = app", session],
    ["SET LOCAL statement_timeout = 1000", session],
    ["SET LOCAL TIME ZONE 'UTC'", session],
    ["SET LOCAL ROLE admin", session],
    ["SET LOCAL SESSION AUTHORIZATION 'bob'", session],
    ["SET ROLE admin", pinned("session", "role")],
    ["SET SESSION ROLE admin", pinned("session", "role")],
    ["SET ROLE NONE", pinned("session", "role")],
    ["set role 'admin'", pinned("session", "role")],
    ["SET SESSION AUTHORIZATION 'bob'", pinned("session", "role")],
    ["SET SESSION AUTHORIZATION DEFAULT", pinned("session", "role")],
    ["RESET ROLE", pinned("session", "role")],
    ["RESET SESSION AUTHORIZATION", pinned("session", "role")],
    ["SET CONSTRAINTS ALL DEFERRED", txn(null)],
    ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", txn(null)],
    ["SET TRANSACTION READ WRITE", txn(null)],
    ["SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", txn(null)],
    ["SET TRANSACTION READ ONLY", txn("set_transaction_read_only", "replica")],
    ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", txn("set_transaction_read_only", "replica")],
    ["set transaction read only deferrable", txn("set_transaction_read_only", "replica")],
    ["SET", unknown],
    ["RESET", unknown],
  ],

  "SET pggate.*": [
    ["SET pggate.route = replica", primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ["SET pggate.route TO primary", primary("session", { pggateSet: { name: "route", value: "primary" } })],
    ["SET pggate.route = 'Replica'", primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ["SET pggate.route = auto", primary("session", { pggateSet: { name: "route", value: "auto" } })],
    ["set PGGATE.ROUTE = AUTO", primary("session", { pggateSet: { name: "route", value: "auto" } })],
    ['SET "pggate.route" = replica', primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ['SET "pggate"."route" TO "replica"', primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ["SET SESSION pggate.route = replica", primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ["SET pggate.route TO DEFAULT", primary("session", { pggateSet: { name: "route", value: "default" } })],
    ["RESET pggate.route", primary("session", { pggateSet: { name: "route", value: "default" } })],
    ["SET pggate.route = replica;", primary("session", { pggateSet: { name: "route", value: "replica" } })],
    ["SET pggate.min_lsn = '0/16B3748'", primary("session", { pggateSet: { name: "min_lsn", value: "0/16B3748" } })],
    ["SET pggate.min_lsn TO '0/16B3748'", primary("session", { pggateSet: { name: "min_lsn", value: "0/16B3748" } })],
    ["SET pggate.min_lsn = 0/16B3748", primary("session", { pggateSet: { name: "min_lsn", value: "0/16B3748" } })],
    ["RESET pggate.min_lsn", primary("session", { pggateSet: { name: "min_lsn", value: "default" } })],
    ["SET LOCAL pggate.route = replica", session],
    ["SET pggate.route = replica; SELECT 1", primary("session", { pin: "set", statements: 2 })],
    ["SELECT 1; SET pggate.min_lsn = '0/1'", primary("session", { pin: "set", statements: 2 })],
    ["SET pggate.route", unknown],
    ["SET pggate.route =", unknown],
    ["/* pggate:primary */ SET pggate.route = replica", primary("session", { forced: "primary", pggateSet: { name: "route", value: "replica" } })],
  ],

  "prepared statements, LISTEN, cursors, DISCARD, LOAD": [
    ["PREPARE q (int) AS SELECT * FROM t WHERE id = $1", pinned("session", "prepare")],
    ["PREPARE q AS INSERT INTO t VALUES (1)", pinned("session", "prepare")],
    ["prepare q as select 1", pinned("session", "prepare")],
    ["EXECUTE q(1)", session],
    ["EXECUTE q", session],
    ["DEALLOCATE q", session],
    ["DEALLOCATE ALL", session],
    ["DEALLOCATE PREPARE q", session],
    ["LISTEN chan", pinned("session", "listen")],
    ['LISTEN "Chan"', pinned("session", "listen")],
    ["UNLISTEN chan", session],
    ["UNLISTEN *", session],
    ["DISCARD ALL", session],
    ["DISCARD PLANS", session],
    ["DISCARD SEQUENCES", session],
    ["DISCARD TEMP", session],
    ["DECLARE c CURSOR FOR SELECT 1", session],
    ["DECLARE c CURSOR WITH HOLD FOR SELECT 1", pinned("session", "hold_cursor")],
    ["DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 1", session],
    ["DECLARE c BINARY INSENSITIVE SCROLL CURSOR WITH HOLD FOR SELECT * FROM t", pinned("session", "hold_cursor")],
    ["DECLARE c CURSOR FOR WITH x AS (SELECT 1) SELECT * FROM x", session],
    ["FETCH 10 FROM c", session],
    ["FETCH NEXT IN c", session],
    ["MOVE FORWARD 5 IN c", session],
    ["CLOSE c", session],
    ["CLOSE ALL", session],
    ["LOAD 'auto_explain'", pinned("session", "dblink_or_other")],
  ],

  "session-level functions": [
    ["SELECT pg_advisory_lock(1)", pinned("function", "advisory_lock")],
    ["SELECT pg_try_advisory_lock(1, 2)", pinned("function", "advisory_lock")],
    ["SELECT pg_advisory_lock_shared(1)", pinned("function", "advisory_lock")],
    ["SELECT pg_try_advisory_lock_shared(1)", pinned("function", "advisory_lock")],
    ["SELECT pg_advisory_unlock(1)", pinned("function", "advisory_lock")],
    ["SELECT pg_advisory_unlock_shared(1)", pinned("function", "advisory_lock")],
    ["SELECT pg_advisory_unlock_all()", pinned("function", "advisory_lock")],
    ["SELECT pg_catalog.pg_advisory_lock(1)", pinned("function", "advisory_lock")],
    ["SELECT * FROM jobs WHERE pg_try_advisory_lock(id) LIMIT 1", pinned("function", "advisory_lock")],
    ["INSERT INTO t SELECT pg_advisory_lock(1)", pinned("write", "advisory_lock")],
    ["SELECT pg_advisory_xact_lock(1)", fn],
    ["SELECT pg_try_advisory_xact_lock(1)", fn],
    ["SELECT pg_advisory_xact_lock_shared(1)", fn],
    ["SELECT pg_try_advisory_xact_lock_shared(1)", fn],
    ["SELECT set_config('search_path', 'app', false)", pinned("function", "set_config")],
    ["SELECT set_config('search_path', 'app', true)", fn],
    ["SELECT set_config('a', 'b', 'true')", fn],
    ["SELECT set_config('a', 'b', 'on')", fn],
    ["SELECT set_config('a', 'b', 'off')", pinned("function", "set_config")],
    ["SELECT set_config('a', 'b', $1)", pinned("function", "set_config")],
    ["SELECT set_config('a', 'b', true::boolean)", fn],
    ["SELECT set_config('a', lower('B'), true)", fn],
    ["SELECT set_config('a', concat('x', 'y'), false)", pinned("function", "set_config")],
    ["SELECT set_config('a', 'b')", pinned("function", "set_config")],
    ["SELECT pg_catalog.set_config('a', 'b', false)", pinned("function", "set_config")],
    ["SELECT dblink_connect('c', 'dbname=x')", pinned("function", "dblink_or_other")],
    ["SELECT setseed(0.5)", pinned("function", "dblink_or_other")],
    ["SELECT pg_backup_start('label')", pinned("function", "dblink_or_other")],
    ["SELECT 1; SELECT pg_advisory_lock(1)", primary("function", { pin: "advisory_lock", statements: 2 })],
    ["SELECT pg_advisory_lock(1), set_config('a', 'b', false)", pinned("function", "advisory_lock")],
  ],

  "built-in writes": [
    ["SELECT nextval('s')", fn],
    ["SELECT nextval('public.s'::regclass)", fn],
    ["SELECT setval('s', 1)", fn],
    ["SELECT currval('s'), lastval()", fn],
    ["SELECT pg_notify('c', 'p')", fn],
    ["SELECT txid_current()", fn],
    ["SELECT pg_current_xact_id()", fn],
    ["SELECT pg_switch_wal()", fn],
    ["SELECT pg_create_restore_point('x')", fn],
    ["SELECT pg_terminate_backend(123)", fn],
    ["SELECT pg_cancel_backend(123)", fn],
    ["SELECT pg_reload_conf()", fn],
    ["SELECT lo_import('/tmp/x')", fn],
    ["SELECT lo_create(0)", fn],
    ["SELECT lo_unlink(123)", fn],
    ["SELECT lo_put(1, 0, 'x')", fn],
    ["SELECT lo_from_bytea(0, 'x')", fn],
    ["SELECT dblink_exec('c', 'insert into t values (1)')", fn],
    ["SELECT id, nextval('s') FROM t", fn],
    ["SELECT * FROM t WHERE id = currval('s')", fn],
    ['SELECT "nextval"(\'s\')', fn],
    ["SELECT pg_catalog.nextval('s')", fn],
    ["SELECT coalesce(nextval('s'), 0)", fn],
    ["SELECT NEXTVAL('s')", fn],
    ["SELECT nextval ('s')", fn],
  ],

  "user functions": [
    ["SELECT vol_fn()", fn],
    ["SELECT stable_fn()", read],
    ["SELECT imm_fn(1)", read],
    ["SELECT app.vol_fn()", fn],
    ["SELECT * FROM vol_fn()", fn],
    ["SELECT * FROM t WHERE x = vol_fn(1)", fn],
    ["SELECT * FROM t, stable_fn(t.id) s", read],
    ["SELECT * FROM t JOIN LATERAL vol_fn(t.id) v ON true", fn],
    ["SELECT DISTINCT ON (a) vol_fn(b) FROM t", fn],
    ["SELECT safe_volatile()", read],
    ["SELECT audit_log('x')", fn],
    ["SELECT app.bump()", fn],
    ["SELECT other.bump()", read],
    ["SELECT app.cached_lookup(1)", read],
    ["SELECT cached_lookup(1)", unknownFns("cached_lookup")],
    ["SELECT my_unknown(1)", unknownFns("my_unknown")],
    ["SELECT a(1), b(2), a(3)", unknownFns("a", "b")],
    ["SELECT stable_fn(), my_unknown()", unknownFns("my_unknown")],
    ["SELECT vol_fn(), my_unknown()", fn],
    ["SELECT my_unknown(); SELECT other_unknown()", primary("function", { unknownFunctions: ["my_unknown", "other_unknown"], statements: 2 })],
    ["SELECT my_unknown(); INSERT INTO t VALUES (1)", primary("write", { statements: 2 })],
    ['SELECT "MixedCase"()', fn],
    ["SELECT MixedCase()", unknownFns("mixedcase")],
    ["SELECT x FROM t WHERE y = my_unknown (1)", unknownFns("my_unknown")],
    ["SELECT pg_catalog.my_unknown()", unknownFns("my_unknown")],
    ["SELECT s.my_unknown()", unknownFns("my_unknown")],
    ["SELECT imm_fn(stable_fn(vol_fn()))", fn],
    ["SELECT 1 WHERE my_unknown(1) AND NOT vol_fn(2)", fn],
  ],

  transactions: [
    ["BEGIN", txn("begin")],
    ["begin", txn("begin")],
    ["BEGIN WORK", txn("begin")],
    ["BEGIN TRANSACTION", txn("begin")],
    ["START TRANSACTION", txn("begin")],
    ["BEGIN READ WRITE", txn("begin")],
    ["BEGIN ISOLATION LEVEL READ UNCOMMITTED", txn("begin")],
    ["START TRANSACTION ISOLATION LEVEL READ COMMITTED", txn("begin")],
    ["BEGIN ISOLATION LEVEL REPEATABLE READ", txn("begin")],
    ["BEGIN READ ONLY", txn("begin_read_only", "replica")],
    ["begin read only", txn("begin_read_only", "replica")],
    ["BEGIN TRANSACTION READ ONLY", txn("begin_read_only", "replica")],
    ["START TRANSACTION READ ONLY", txn("begin_read_only", "replica")],
    ["BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", txn("begin_read_only", "replica")],
    ["BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", txn("begin_read_only", "replica")],
    ["START TRANSACTION READ ONLY, ISOLATION LEVEL READ COMMITTED", txn("begin_read_only", "replica")],
    ["COMMIT", txn("commit")],
    ["COMMIT WORK", txn("commit")],
    ["END", txn("commit")],
    ["END TRANSACTION", txn("commit")],
    ["COMMIT AND CHAIN", txn("commit")],
    ["ROLLBACK", txn("rollback")],
    ["ABORT", txn("rollback")],
    ["ROLLBACK WORK", txn("rollback")],
    ["ROLLBACK AND NO CHAIN", txn("rollback")],
    ["SAVEPOINT sp", txn("savepoint")],
    ["RELEASE SAVEPOINT sp", txn("savepoint")],
    ["RELEASE sp", txn("savepoint")],
    ["ROLLBACK TO SAVEPOINT sp", txn("savepoint")],
    ["ROLLBACK TO sp", txn("savepoint")],
    ["ROLLBACK WORK TO sp", txn("savepoint")],
    ["PREPARE TRANSACTION 'x'", txn(null)],
    ["COMMIT PREPARED 'x'", txn(null)],
    ["ROLLBACK PREPARED 'x'", txn(null)],
    ["START", unknown],
    ["BEGIN; INSERT INTO t VALUES (1); COMMIT", primary("transaction", { txn: "commit", statements: 3 })],
    ["BEGIN READ ONLY; SELECT 1; COMMIT", replica("transaction", { txn: "commit", statements: 3 })],
    ["BEGIN READ ONLY; SELECT 1", replica("transaction", { txn: "begin_read_only", statements: 2 })],
    ["BEGIN READ ONLY; INSERT INTO t VALUES (1); COMMIT", primary("write", { txn: "commit", statements: 3 })],
    ["BEGIN READ ONLY; SELECT 1; COMMIT; SELECT 2; COMMIT", primary("transaction", { txn: "commit", statements: 5 })],
    ["BEGIN READ ONLY; SAVEPOINT a; SELECT 1; RELEASE a; COMMIT", replica("transaction", { txn: "commit", statements: 5 })],
    ["BEGIN; SELECT 1", primary("transaction", { txn: "begin", statements: 2 })],
    ["SELECT 1; COMMIT", primary("transaction", { txn: "commit", statements: 2 })],
    ["COMMIT; BEGIN", primary("transaction", { txn: "begin", statements: 2 })],
    ["SET TRANSACTION READ ONLY; SELECT 1", replica("transaction", { txn: "set_transaction_read_only", statements: 2 })],
    ["BEGIN; SET TRANSACTION READ ONLY", primary("transaction", { txn: "set_transaction_read_only", statements: 2 })],
    ["BEGIN; SELECT vol_fn(); ROLLBACK", primary("transaction", { txn: "rollback", statements: 3 })],
  ],

  "multi-statement strings": [
    ["SELECT 1; SELECT 2", { ...read, statements: 2 }],
    ["SELECT 1; INSERT INTO t VALUES (1)", primary("write", { statements: 2 })],
    ["SELECT 1; SELECT 2; DELETE FROM t", primary("write", { statements: 3 })],
    ["SELECT 1; SELECT 2; SELECT 3; UPDATE t SET a = 1 WHERE id = 1;", primary("write", { statements: 4 })],
    ["SELECT 1;;; SELECT 2;", { ...read, statements: 2 }],
    ["SELECT 'a;b'; SELECT 2", { ...read, statements: 2 }],
    ["SELECT 1; SET search_path = x", primary("session", { pin: "set", statements: 2 })],
    ["INSERT INTO t VALUES (1); SELECT pg_advisory_lock(1)", primary("write", { pin: "advisory_lock", statements: 2 })],
    ["SELECT 1; garbage stuff", primary("unknown", { statements: 2 })],
    ["SELECT 1; CREATE TEMP TABLE x (a int)", primary("ddl", { pin: "temp_table", statements: 2, schema: true })],
    ["SELECT 1; LISTEN c", primary("session", { pin: "listen", statements: 2 })],
    ["SELECT 1; SELECT my_unknown()", primary("function", { unknownFunctions: ["my_unknown"], statements: 2 })],
    ["SELECT 1; SELECT nextval('s')", primary("function", { statements: 2 })],
    ["SELECT 1 ; /* comment */ ; -- x", read],
    ["DELETE FROM t; -- nothing more", write],
    ["SELECT 1; SHOW search_path; TABLE t; VALUES (1)", { ...read, statements: 4 }],
    ["SELECT 1; EXPLAIN ANALYZE DELETE FROM t", primary("write", { statements: 2 })],
    ["SELECT 1; COPY t FROM STDIN", primary("copy_from", { statements: 2 })],
    ["TRUNCATE t; INSERT INTO t VALUES (1)", primary("ddl", { statements: 2 })],
    ["SELECT 1;\nWITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", primary("write", { statements: 2 })],
  ],

  "hint comments": [
    ["/* pggate:primary */ SELECT 1", primary("forced", { forced: "primary" })],
    ["SELECT 1 /* pggate:primary */", primary("forced", { forced: "primary" })],
    ["-- pggate:primary\nSELECT 1", primary("forced", { forced: "primary" })],
    ["/* PGGATE:PRIMARY */ SELECT 1", primary("forced", { forced: "primary" })],
    ["/* pggate: primary */ SELECT 1", primary("forced", { forced: "primary" })],
    ["/* app='web', pggate:primary */ SELECT 1", primary("forced", { forced: "primary" })],
    ["SELECT 1 /* outer /* pggate:primary */ */", primary("forced", { forced: "primary" })],
    ["SELECT 1; /* pggate:primary */ SELECT 2", primary("forced", { forced: "primary", statements: 2 })],
    ["/* pggate:primaryx */ SELECT 1", read],
    ["/* pggate */ SELECT 1", read],
    ["/* pggate:replica */ SELECT 1", replica("read", { forced: "replica" })],
    ["/* pggate:primary */ INSERT INTO t VALUES (1)", primary("write", { forced: "primary" })],
    ["/* pggate:primary */ /* pggate:replica */ SELECT 1", primary("forced", { forced: "primary" })],
    ["/* pggate:replica */ /* pggate:primary */ SELECT 1", primary("forced", { forced: "primary" })],
    ["/* pggate:replica */ INSERT INTO t VALUES (1)", primary("write", { forced: "replica" })],
    ["/* pggate:replica */ SELECT vol_fn()", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SELECT nextval('s')", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SELECT my_unknown()", replica("forced", { forced: "replica" })],
    ["/* pggate:primary */ SELECT my_unknown()", primary("forced", { forced: "primary" })],
    ["/* pggate:replica */ SELECT pg_advisory_lock(1)", primary("function", { forced: "replica", pin: "advisory_lock" })],
    ["/* pggate:replica */ SELECT * FROM t FOR UPDATE", primary("locking_read", { forced: "replica" })],
    ["/* pggate:replica */ BEGIN", primary("transaction", { forced: "replica", txn: "begin" })],
    ["/* pggate:replica */ SET x = 1", primary("session", { forced: "replica", pin: "set" })],
    ["/* pggate:replica */ garbage", primary("unknown", { forced: "replica" })],
    ["/* pggate:primary */", primary("forced", { forced: "primary", statements: 0 })],
    ["/* pggate:primary */ SELECT 'unterminated", primary("unknown", { forced: "primary" })],
  ],

  "queries real drivers, ORMs and tools send": [
    [
      "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;",
      read,
    ],
    [
      "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;",
      read,
    ],
    ['SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2', read],
    ['SELECT "public"."User"."id" FROM "public"."User" WHERE 1=1 OFFSET $1', read],
    ['INSERT INTO "Users" ("id","name") VALUES (DEFAULT,$1) RETURNING "id","name";', write],
    ['select * from "jobs" where "id" = $1 for update skip locked', locking],
    ["select nextval ('hibernate_sequence')", fn],
    ["SELECT pg_catalog.set_config('search_path', '', false);", pinned("function", "set_config")],
    ["SELECT pg_try_advisory_lock(8231478923)", pinned("function", "advisory_lock")],
    [
      "SELECT t.typname, t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname NOT IN ('pg_toast') AND t.typtype = ANY ($1::char[])",
      read,
    ],
    ["SELECT 1 AS ping /* app:api,route:/health */", read],
    ["/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */ SELECT * FROM t WHERE id = $1", read],
  ],

  // What a primary connection shows, whichever node would serve a read (issue 12).
  "node-local functions": [
    ["SELECT pg_backend_pid()", nodeLocal],
    ["SELECT pg_catalog.pg_backend_pid()", nodeLocal],
    ["SELECT PG_BACKEND_PID()", nodeLocal],
    ["SELECT pg_is_in_recovery()", nodeLocal],
    ["SELECT pg_postmaster_start_time(), pg_conf_load_time()", nodeLocal],
    // pg_current_wal_*() raise "recovery is in progress" on a standby.
    ["SELECT pg_current_wal_lsn()", nodeLocal],
    ["SELECT pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()", nodeLocal],
    ["SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()", nodeLocal],
    ["SELECT pg_is_wal_replay_paused()", nodeLocal],
    ["SELECT pg_walfile_name(pg_current_wal_lsn())", nodeLocal],
    ["SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')", nodeLocal],
    ["SELECT txid_current_snapshot()", nodeLocal],
    ["SELECT pg_snapshot_xmin(pg_current_snapshot())", nodeLocal],
    ["SELECT txid_status(123), pg_xact_status('123')", nodeLocal],
    ["SELECT pg_xact_commit_timestamp('123'), pg_last_committed_xact()", nodeLocal],
    ["SELECT pg_stat_get_db_xact_commit(16384)", nodeLocal],
    ["SELECT pg_stat_get_activity(NULL)", nodeLocal],
    ["SELECT pg_stat_reset()", nodeLocal],
    ["SELECT pg_stat_reset_shared('bgwriter')", nodeLocal],
    ["SELECT pg_stat_statements_reset()", nodeLocal],
    ["SELECT pg_stat_clear_snapshot()", nodeLocal],
    ["SELECT * FROM pg_stat_statements(true)", nodeLocal],
    ["SELECT pg_blocking_pids(123), pg_safe_snapshot_blocking_pids(123)", nodeLocal],
    ["SELECT pg_listening_channels(), pg_notification_queue_usage()", nodeLocal],
    ["SELECT pg_my_temp_schema()", nodeLocal],
    ["SELECT pg_sequence_last_value('s'::regclass)", nodeLocal],
    ["SELECT * FROM pg_ls_waldir()", nodeLocal],
    ["SELECT * FROM pg_control_checkpoint()", nodeLocal],
    ["SELECT pg_get_wal_replay_pause_state()", nodeLocal],
    ["SELECT * FROM pg_show_all_settings()", nodeLocal],
    ["SELECT * FROM pg_lock_status()", nodeLocal],
    ["SELECT id FROM t WHERE owner = pg_backend_pid()", nodeLocal],
    ["SELECT 1; SELECT pg_backend_pid()", primary("node_local", { statements: 2 })],
    // Writes and writing functions take precedence in the reason.
    ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()", fn],
    ["SELECT nextval('s'), pg_backend_pid()", fn],
    ["INSERT INTO t VALUES (pg_backend_pid())", write],
    // These name the node that ran the query: they differ by design and are how routing is
    // observed, so they stay plain reads.
    ["SELECT inet_server_port()", read],
    ["SELECT inet_server_addr(), inet_server_port(), inet_client_addr(), inet_client_port()", read],
    ["SELECT pg_get_viewdef('v'::regclass), pg_get_indexdef(1)", read],
    ["SELECT pg_relation_size('t'), pg_database_size(current_database())", read],
    ["SELECT now(), version()", read],
  ],

  "node-local settings": [
    ["SELECT current_setting('transaction_read_only')", nodeLocal],
    ["SELECT current_setting('TRANSACTION_READ_ONLY')", nodeLocal],
    ["SELECT current_setting('transaction_read_only'::text)", nodeLocal],
    ["SELECT current_setting(E'transaction_read_only')", nodeLocal],
    ["SELECT current_setting('in_hot_standby')", nodeLocal],
    ["SELECT current_setting('default_transaction_read_only', true)", nodeLocal],
    ["SELECT current_setting('primary_conninfo'), current_setting('recovery_min_apply_delay')", nodeLocal],
    ["SELECT pg_catalog.current_setting('hot_standby')", nodeLocal],
    // Not a literal: it could name any setting.
    ["SELECT current_setting($1)", nodeLocal],
    ["SELECT current_setting(lower('X'))", nodeLocal],
    ["SELECT current_setting('work_mem')", read],
    ["SELECT current_setting('app.tenant_id', true)", read],
    ["SELECT current_setting('port'), current_setting('cluster_name')", read],
    ["SHOW transaction_read_only", nodeLocal],
    ["SHOW TRANSACTION_READ_ONLY", nodeLocal],
    ['SHOW "transaction_read_only"', nodeLocal],
    ["SHOW in_hot_standby", nodeLocal],
    ["SHOW default_transaction_read_only", nodeLocal],
    ["SHOW hot_standby_feedback", nodeLocal],
    ["SHOW wal_receiver_timeout", nodeLocal],
    ["SHOW ALL", nodeLocal],
    ["SHOW port", read],
    ["SHOW app.transaction_read_only", read],
    ["SHOW transaction isolation level", read],
    ["SHOW", read],
  ],

  "node-local relations": [
    ["SELECT * FROM pg_stat_activity", nodeLocal],
    ["SELECT pid FROM pg_stat_activity WHERE pid = $1", nodeLocal],
    ["SELECT * FROM pg_catalog.pg_stat_bgwriter", nodeLocal],
    ["SELECT * FROM pg_stat_wal", nodeLocal],
    ["SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", nodeLocal],
    ["SELECT * FROM pg_stat_replication", nodeLocal],
    ["SELECT status FROM pg_stat_wal_receiver", nodeLocal],
    ["SELECT * FROM pg_stat_user_tables", nodeLocal],
    ["SELECT * FROM pg_statio_user_tables", nodeLocal],
    ["SELECT * FROM public.pg_stat_statements", nodeLocal],
    ["SELECT count(*) FROM pg_locks", nodeLocal],
    ["SELECT setting FROM pg_settings WHERE name = 'transaction_read_only'", nodeLocal],
    ["SELECT * FROM pg_replication_slots", nodeLocal],
    ["SELECT * FROM pg_prepared_xacts", nodeLocal],
    ["SELECT * FROM pg_prepared_statements", nodeLocal],
    ["SELECT last_value FROM pg_sequences WHERE sequencename = 's'", nodeLocal],
    ["SELECT * FROM pg_file_settings", nodeLocal],
    ["SELECT * FROM t JOIN pg_locks l ON l.pid = t.pid", nodeLocal],
    ["SELECT * FROM t, pg_stat_activity", nodeLocal],
    ["SELECT (SELECT count(*) FROM pg_stat_activity)", nodeLocal],
    ["SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_locks)", nodeLocal],
    ["WITH a AS (SELECT * FROM pg_stat_activity) SELECT * FROM a", nodeLocal],
    ["TABLE pg_stat_activity", nodeLocal],
    ["SELECT * FROM (pg_stat_activity a JOIN t ON true)", nodeLocal],
    ["SELECT * FROM ONLY pg_locks", nodeLocal],
    ["SELECT * FROM t UNION SELECT * FROM pg_locks", nodeLocal],
    ["SELECT * FROM t LEFT JOIN u USING (id) CROSS JOIN pg_locks", nodeLocal],
    ["COPY (SELECT * FROM pg_stat_activity) TO STDOUT", nodeLocal],
    ["SELECT * FROM pg_locks FOR UPDATE", locking],
    // Planner statistics and other catalogs are replicated rows.
    ["SELECT * FROM pg_stats WHERE tablename = 't'", read],
    ["SELECT * FROM pg_statistic", read],
    ["SELECT * FROM pg_stat", read],
    ["SELECT * FROM pg_class, pg_namespace", read],
    // A user's relation of that name in its own schema is asked about like any other.
    ["SELECT * FROM app.pg_locks", read],
    ["SELECT pg_locks, t.pg_stat_activity FROM t", read],
    ["SELECT 'pg_stat_activity', x FROM t WHERE name = 'pg_locks'", read],
    ["EXPLAIN SELECT * FROM pg_stat_activity", read],
  ],

  "sequences and unlogged tables (catalog)": [
    ["SELECT last_value FROM a_seq", nodeLocal],
    ["SELECT last_value, is_called FROM public.a_seq", nodeLocal],
    ["SELECT * FROM A_SEQ", nodeLocal],
    ['SELECT * FROM "a_seq"', nodeLocal],
    ['SELECT * FROM "Mixed Seq"', nodeLocal],
    ["TABLE a_seq", nodeLocal],
    ["SELECT 1 UNION TABLE a_seq", nodeLocal],
    ["SELECT x FROM t JOIN a_seq ON true", nodeLocal],
    ["SELECT x FROM t, a_seq", nodeLocal],
    ["SELECT x FROM t LEFT JOIN u USING (id), a_seq s", nodeLocal],
    ["SELECT x FROM t x(a, b), generate_series(1, 2) g, a_seq", nodeLocal],
    ["SELECT * FROM t WHERE id > (SELECT last_value FROM a_seq)", nodeLocal],
    ["SELECT * FROM t WHERE id IN (SELECT 1 FROM u, a_seq)", nodeLocal],
    ["SELECT * FROM ((a_seq))", nodeLocal],
    ["SELECT * FROM ulog WHERE id = 1", nodeLocal],
    ["COPY ulog TO STDOUT", nodeLocal],
    ["COPY public.ulog (a, b) TO STDOUT", nodeLocal],
    ["COPY (SELECT * FROM a_seq) TO STDOUT", nodeLocal],
    ["COPY public.t (a) TO STDOUT", read],
    // A CTE shadowing a sequence's name is taken for the sequence: the primary is always right.
    ["WITH a_seq AS (SELECT 1) SELECT * FROM a_seq", nodeLocal],
    ["SELECT nextval('a_seq')", fn],
    ["INSERT INTO t SELECT last_value FROM a_seq", write],
    ["SELECT * FROM a_seq FOR SHARE", locking],
    // The same words outside a FROM item name no relation.
    ["SELECT a_seq FROM t", read],
    ["SELECT a_seq.last_value FROM t", read],
    ["SELECT * FROM t a_seq", read],
    ["SELECT * FROM t AS a_seq", read],
    ["SELECT * FROM t x(a_seq)", read],
    ["SELECT extract(year FROM a_seq) FROM t", read],
    ["SELECT substring(s FROM 2 FOR 3), trim(both 'x' FROM a_seq) FROM t", read],
    ["SELECT overlay(a placing b FROM 2 FOR 1) FROM t", read],
    ["SELECT * FROM t WHERE a IS DISTINCT FROM a_seq", read],
    ["SELECT * FROM t JOIN u ON t.a IS NOT DISTINCT FROM a_seq", read],
    ["SELECT * FROM t WHERE x IN (a_seq, 2)", read],
    ["SELECT * FROM t JOIN u ON u.x = ARRAY[1, a_seq]", read],
    ["SELECT * FROM t ORDER BY a, a_seq", read],
    ["SELECT * FROM t GROUP BY a, a_seq HAVING true", read],
    ["SELECT * FROM t WINDOW w AS (PARTITION BY a, a_seq)", read],
    ["SELECT * FROM t, LATERAL (SELECT a_seq FROM u) x", read],
    ["SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1])) AS a_seq(a, b)", read],
    ["SELECT * FROM t LIMIT 1 OFFSET 2 FETCH FIRST 1 ROWS ONLY", read],
    ["EXPLAIN SELECT * FROM a_seq", read],
    ["SELECT * FROM a_seq()", unknownFns("a_seq")],
  ],

  "relations of unknown kind": [
    ["SELECT * FROM pending_rel", unknownRels("pending_rel")],
    ["SELECT * FROM app.pending_rel WHERE id = $1", unknownRels("pending_rel")],
    ["SELECT * FROM pending_rel p JOIN pending_rel q ON true, other_rel", unknownRels("pending_rel", "other_rel")],
    ["SELECT * FROM pending_rel; SELECT * FROM other_rel", primary("node_local", { unknownRelations: ["pending_rel", "other_rel"], statements: 2 })],
    ["SELECT my_unknown() FROM pending_rel", primary("function", { unknownFunctions: ["my_unknown"], unknownRelations: ["pending_rel"] })],
    ["COPY pending_rel TO STDOUT", unknownRels("pending_rel")],
    // Already bound for the primary: nothing to look up.
    ["SELECT * FROM pg_locks, pending_rel", nodeLocal],
    ["SELECT * FROM pending_rel, a_seq", nodeLocal],
    ["SELECT vol_fn() FROM pending_rel", fn],
    ["INSERT INTO t SELECT * FROM pending_rel", write],
    ["DELETE FROM pending_rel", write],
    ["SELECT * FROM pending_rel FOR UPDATE", locking],
    ["SELECT * FROM pending_rel; DELETE FROM t", primary("write", { statements: 2 })],
    ["COPY pending_rel FROM STDIN", copyFrom],
  ],

  "node-local reads and hints": [
    ["/* pggate:primary */ SELECT * FROM pending_rel", primary("forced", { forced: "primary" })],
    ["/* pggate:primary */ SELECT pg_backend_pid()", primary("node_local", { forced: "primary" })],
    // A replica hint is how someone watches a replica's own state.
    ["/* pggate:replica */ SELECT * FROM pending_rel", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SELECT status FROM pg_stat_wal_receiver", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SELECT pg_last_wal_replay_lsn(), pg_backend_pid()", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SHOW transaction_read_only", replica("forced", { forced: "replica" })],
    ["/* pggate:replica */ SELECT pg_backend_pid(); SELECT vol_fn()", replica("forced", { forced: "replica", statements: 2 })],
    ["/* pggate:replica */ SELECT pg_backend_pid(); INSERT INTO t VALUES (1)", primary("node_local", { forced: "replica", statements: 2 })],
  ],

  "garbage and unterminated input": [
    ["FOO BAR", unknown],
    ["123", unknown],
    ["SELECT 1 }", unknown],
    ["SELECT \\x", unknown],
    ["\\d t", unknown],
    ['{"json": true}', unknown],
    [")", unknown],
    ["'string'", unknown],
    ['"ident"', unknown],
    ["$1", unknown],
    ["SELECT (1", unknown],
    ["SELECT 1)", unknown],
    ["SELECT (1; DELETE FROM t", unknown],
    ["SELECT $", unknown],
    ["WITH a AS (SELECT 1", unknown],
    ["GET DIAGNOSTICS x = ROW_COUNT", unknown],
    ["SELECT 'unterminated", unknown],
    ["SELECT $$ unterminated", unknown],
    ["SELECT $tag$ unterminated $tag", unknown],
    ["SELECT /* unterminated", unknown],
    ["SELECT /* a /* b */ still open", unknown],
    ['SELECT "unterminated', unknown],
    ["SELECT E'unterminated\\'", unknown],
    ["SELECT 1; SELECT 'open", primary("unknown", { statements: 2 })],
  ],
};

const ALL_ROWS: Row[] = Object.values(cases).flat();

function full(e: Expected): Classification {
  return {
    pin: null,
    txn: null,
    forced: null,
    unknownFunctions: [],
    unknownRelations: [],
    pggateSet: null,
    schema: false,
    statements: 1,
    ...e,
  };
}

for (const [category, rows] of Object.entries(cases)) {
  describe(category, () => {
    test.each(rows)("%p", (sql, expected) => {
      expect(classify(sql, ctx)).toEqual(full(expected));
    });
  });
}

describe("table", () => {
  test("has at least 320 rows and no duplicate SQL", () => {
    expect(ALL_ROWS.length).toBeGreaterThanOrEqual(320);
    const seen = new Set<string>();
    const dupes = ALL_ROWS.map(([sql]) => sql).filter((sql) => (seen.has(sql) ? true : (seen.add(sql), false)));
    expect(dupes).toEqual([]);
  });
});

describe("context use", () => {
  test("built-ins and keywords never reach volatility()", () => {
    const asked: string[] = [];
    const spy: ClassifyContext = { ...ctx, volatility: (n) => (asked.push(n), undefined) };
    classify(
      "SELECT count(*), now(), coalesce(a, 1), x::numeric(5), lower(b) FROM t g(a) WHERE c IN (1) AND EXISTS (SELECT 1)",
      spy,
    );
    expect(asked).toEqual([]);
  });

  test("lookups use the unqualified name; quoted names keep their case", () => {
    const asked: string[] = [];
    const spy: ClassifyContext = { ...ctx, volatility: (n) => (asked.push(n), "s") };
    classify('SELECT app.Foo(1), "Bar"(2), baz(3)', spy);
    expect(asked).toEqual(["foo", "Bar", "baz"]);
  });

  test("reclassifying after the caller learns a volatility settles the route", () => {
    const learned = new Map<string, "v" | "s" | "i">();
    const live: ClassifyContext = { ...ctx, volatility: (n) => learned.get(n) };
    const first = classify("SELECT report_fn(1)", live);
    expect(first).toMatchObject({ route: "primary", unknownFunctions: ["report_fn"] });
    learned.set("report_fn", "s");
    expect(classify("SELECT report_fn(1)", live)).toMatchObject({ route: "replica", reason: "read", unknownFunctions: [] });
    learned.set("report_fn", "v");
    expect(classify("SELECT report_fn(1)", live)).toMatchObject({ route: "primary", reason: "function", unknownFunctions: [] });
  });

  test("relationKind() is asked about FROM items and TABLE only, by unqualified name", () => {
    const asked: string[] = [];
    const spy: ClassifyContext = { ...ctx, relationKind: (n) => (asked.push(n), "other") };
    classify(
      'SELECT extract(year FROM d), substring(s FROM 2), a IS DISTINCT FROM b, x.col, (SELECT 1 FROM w) ' +
        'FROM app.Orders o JOIN "Line Items" li ON li.o = o.id AND li.k = ARRAY[o.a, o.b], ' +
        "LATERAL (SELECT * FROM u) z, generate_series(1, 2) g, ONLY base, (p JOIN q ON true) " +
        "WHERE o.id IN (SELECT id FROM v) GROUP BY a, b ORDER BY a, b; TABLE last",
      spy,
    );
    expect(asked).toEqual(["w", "orders", "Line Items", "u", "base", "p", "q", "v", "last"]);
  });

  test("built-in node-local relations never reach relationKind()", () => {
    const asked: string[] = [];
    const spy: ClassifyContext = { ...ctx, relationKind: (n) => (asked.push(n), undefined) };
    expect(classify("SELECT * FROM pg_stat_activity a JOIN pg_catalog.pg_locks l ON l.pid = a.pid", spy)).toEqual(full(nodeLocal));
    expect(asked).toEqual([]);
  });

  test("without relationKind() (no catalog) only the built-in node-local relations count", () => {
    const bare: ClassifyContext = { writeFunctions: new Set(), readFunctions: new Set(), volatility: () => "s" };
    expect(classify("SELECT * FROM a_seq", bare)).toEqual(full(read));
    expect(classify("SELECT * FROM pg_locks", bare)).toEqual(full(nodeLocal));
  });

  test("reclassifying after the caller learns a relation kind settles the route", () => {
    const learned = new Map<string, RelationKind>();
    const live: ClassifyContext = { ...ctx, relationKind: (n) => learned.get(n) };
    expect(classify("SELECT * FROM r1", live)).toEqual(full(unknownRels("r1")));
    learned.set("r1", "other");
    expect(classify("SELECT * FROM r1", live)).toEqual(full(read));
    learned.set("r1", "sequence");
    expect(classify("SELECT * FROM r1", live)).toEqual(full(nodeLocal));
    learned.set("r1", "unlogged");
    expect(classify("SELECT * FROM r1", live)).toEqual(full(nodeLocal));
  });

  test("classify never throws on random input", () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ["SELECT", "INSERT", "WITH", "(", ")", ";", "'", "$$", "/*", "*/", "--\n", "EXPLAIN", "ANALYZE",
      "COPY", "TO", "STDOUT", "SET", "pggate", ".", "route", "=", "f", "::", ",", "BEGIN", "READ", "ONLY", "AS",
      "FOR", "UPDATE", "set_config", "nextval", "\"", "1", " ", "INTO", "TEMP", "DECLARE", "HOLD", "CREATE",
      "FROM", "JOIN", "TABLE", "ONLY", "LATERAL", "[", "]", "a_seq", "pending_rel", "pg_locks", "SHOW", "current_setting"];
    for (let n = 0; n < 3000; n++) {
      let sql = "";
      const len = rand(25);
      for (let i = 0; i < len; i++) sql += pieces[rand(pieces.length)] + (rand(2) === 0 ? " " : "");
      const c = classify(sql, ctx);
      expect(c.route === "primary" || c.route === "replica").toBe(true);
    }
  });
});
