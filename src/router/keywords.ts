// Keyword sets the classifier needs to tell function calls from syntax. Data only.
// Lists follow PostgreSQL's src/include/parser/kwlist.h categories, trimmed to what matters here.

function set(words: string): ReadonlySet<string> {
  return new Set(words.split(/\s+/).filter((w) => w.length > 0));
}

/**
 * Words that, followed by `(`, are syntax rather than a call: reserved keywords, col_name and
 * type_func_name keywords (types with modifiers, COALESCE, EXISTS, ...), and the unreserved ones
 * that PostgreSQL's grammar puts before a parenthesis (ROLLUP, OVER, FILTER, AS MATERIALIZED, ...).
 */
export const NOT_FUNCTION = set(`
  all analyse analyze and any array as asc asymmetric both case cast check collate column
  constraint create current_catalog current_date current_role current_time current_timestamp
  current_user default deferrable desc distinct do else end except false fetch for foreign from
  grant group having in initially intersect into lateral leading limit localtime localtimestamp
  not null offset on only or order placing primary references returning select session_user some
  symmetric system_user table then to trailing true union unique user using variadic when where
  window with

  between bigint bit boolean char character coalesce dec decimal exists extract float greatest
  grouping inout int integer interval json json_array json_arrayagg json_exists json_object
  json_objectagg json_query json_scalar json_serialize json_table json_value least merge_action
  national nchar none normalize nullif numeric out overlay position precision real row setof
  smallint substring time timestamp treat trim values varchar xmlattributes xmlconcat xmlelement
  xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable

  authorization binary collation concurrently cross current_schema freeze full ilike inner is
  isnull join left like natural notnull outer overlaps right similar tablesample verbose

  rollup cube sets over filter within materialized repeatable columns varying second minute hour
  day month year zone first next by operator conflict nested path uescape escape set return
  explain vacuum copy reindex cluster
`);
