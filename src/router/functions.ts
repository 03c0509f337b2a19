// What well-known built-in functions do to routing, by unqualified lower-case name. Data only.
// Anything not listed here is resolved through config (routing.*_functions) or catalog volatility.

/**
 * - read: safe on a replica without a catalog lookup (including VOLATILE-but-harmless ones such as
 *   random() or clock_timestamp() that a volatility lookup would send to the primary);
 * - write: must run on the primary (writes, or needs a transaction ID);
 * - node_local: reads (or resets) state of the node it runs on, which a replica answers
 *   differently from the primary: statistics, WAL positions, recovery state, snapshots, backend
 *   PIDs, locks, settings files. The product promises what a primary connection shows;
 * - current_setting: node_local for the settings in node-local.ts (or a name that is not a
 *   literal), read otherwise;
 * - advisory_session: session-level advisory lock functions, pin "advisory_lock";
 * - session_other: other session state (dblink connections, setseed, backups), pin "dblink_or_other";
 * - set_config: pins unless its third argument is a literal true.
 */
export type BuiltinEffect = "read" | "write" | "node_local" | "advisory_session" | "session_other" | "set_config" | "current_setting";

function words(list: string): string[] {
  return list.split(/\s+/).filter((w) => w.length > 0);
}

const READ = words(`
  now current_timestamp current_date current_time localtime localtimestamp statement_timestamp
  transaction_timestamp clock_timestamp timeofday
  inet_server_port inet_server_addr inet_client_port inet_client_addr
  version current_database current_schema current_schemas current_user
  session_user current_role current_catalog pg_trigger_depth pg_jit_available pg_client_encoding
  pg_encoding_to_char pg_char_to_encoding pg_typeof pg_column_size pg_column_compression
  pg_database_size pg_relation_size pg_table_size pg_indexes_size pg_total_relation_size
  pg_tablespace_size pg_size_pretty pg_size_bytes pg_relation_filenode pg_relation_filepath
  pg_filenode_relation pg_tablespace_location pg_table_is_visible pg_type_is_visible
  pg_function_is_visible pg_operator_is_visible pg_opclass_is_visible pg_collation_is_visible
  pg_options_to_table pg_input_is_valid pg_input_error_info pg_wal_lsn_diff
  pg_snapshot_xmin pg_snapshot_xmax pg_snapshot_xip pg_visible_in_snapshot
  txid_snapshot_xmin txid_snapshot_xmax txid_snapshot_xip txid_visible_in_snapshot
  pg_sleep pg_sleep_for pg_sleep_until pg_partition_tree pg_partition_ancestors pg_partition_root
  pg_describe_object pg_identify_object pg_identify_object_as_address
  obj_description col_description shobj_description format_type to_regclass to_regtype
  to_regproc to_regprocedure to_regoper to_regoperator to_regnamespace to_regrole
  to_regcollation pg_has_role row_security_active

  count sum avg min max every bool_and bool_or bit_and bit_or bit_xor array_agg string_agg
  json_agg jsonb_agg json_object_agg jsonb_object_agg xmlagg stddev stddev_pop stddev_samp
  variance var_pop var_samp corr covar_pop covar_samp regr_avgx regr_avgy regr_count
  regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy percentile_cont percentile_disc
  mode rank dense_rank percent_rank cume_dist row_number ntile lag lead first_value last_value
  nth_value any_value range_agg range_intersect_agg

  lower upper length char_length character_length octet_length bit_length initcap concat
  concat_ws format to_char to_date to_timestamp to_number date_trunc date_part date_bin date_add
  date_subtract age justify_days justify_hours justify_interval isfinite make_date make_time
  make_timestamp make_timestamptz make_interval extract substr substring replace split_part
  strpos starts_with lpad rpad ltrim rtrim btrim repeat reverse translate chr ascii left right
  quote_ident quote_literal quote_nullable md5 sha224 sha256 sha384 sha512 crc32 crc32c encode
  decode to_hex to_bin to_oct to_ascii convert convert_from convert_to unistr casefold normalize
  regexp_match regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table
  regexp_like regexp_count regexp_instr regexp_substr string_to_array string_to_table
  array_to_string array_length array_upper array_lower array_dims array_ndims array_position
  array_positions array_append array_prepend array_cat array_remove array_replace array_fill
  array_sample array_shuffle array_reverse array_sort trim_array unnest cardinality
  generate_series generate_subscripts num_nulls num_nonnulls abs ceil ceiling floor round trunc
  mod power pow sqrt cbrt exp ln log log10 sign pi degrees radians sin cos tan asin acos atan
  atan2 sind cosd tand sinh cosh tanh div gcd lcm factorial width_bucket scale min_scale
  trim_scale random random_normal gen_random_uuid uuid_generate_v1 uuid_generate_v1mc
  uuid_generate_v4 uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version

  to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object
  json_build_array jsonb_build_array json_object jsonb_object json_array_length
  jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text json_extract_path
  jsonb_extract_path json_extract_path_text jsonb_extract_path_text json_object_keys
  jsonb_object_keys json_array_elements jsonb_array_elements json_array_elements_text
  jsonb_array_elements_text json_typeof jsonb_typeof json_populate_record jsonb_populate_record
  json_populate_recordset jsonb_populate_recordset json_to_record jsonb_to_record
  json_to_recordset jsonb_to_recordset json_strip_nulls jsonb_strip_nulls jsonb_set
  jsonb_set_lax jsonb_insert jsonb_pretty jsonb_path_exists jsonb_path_match jsonb_path_query
  jsonb_path_query_array jsonb_path_query_first jsonb_path_exists_tz jsonb_path_query_tz

  to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank
  ts_rank_cd ts_headline setweight numnode querytree tsvector_to_array array_to_tsvector
  get_current_ts_config

  int4range int8range numrange tsrange tstzrange daterange isempty lower_inc upper_inc lower_inf
  upper_inf range_merge date text int2 int4 int8 float4 float8 bool oid regclass regtype
  regproc name uuid bytea inet cidr macaddr money timestamptz timetz jsonb host hostmask netmask
  network masklen family broadcast abbrev set_masklen xpath xpath_exists xml_is_well_formed
  lo_get loread lo_lseek lo_lseek64 lo_tell lo_tell64 lo_close
`);

const WRITE = words(`
  nextval setval currval lastval pg_notify txid_current txid_current_if_assigned
  pg_current_xact_id pg_current_xact_id_if_assigned pg_switch_wal pg_switch_xlog
  pg_create_restore_point pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile
  pg_create_physical_replication_slot pg_create_logical_replication_slot pg_drop_replication_slot
  pg_copy_physical_replication_slot pg_copy_logical_replication_slot pg_replication_slot_advance
  pg_logical_slot_get_changes pg_logical_slot_peek_changes pg_logical_slot_get_binary_changes
  pg_logical_slot_peek_binary_changes pg_logical_emit_message pg_sync_replication_slots
  pg_replication_origin_create pg_replication_origin_drop pg_replication_origin_advance
  pg_replication_origin_session_reset pg_replication_origin_xact_setup
  pg_replication_origin_xact_reset pg_backup_stop pg_stop_backup pg_promote pg_wal_replay_pause
  pg_wal_replay_resume pg_xlog_replay_pause pg_xlog_replay_resume pg_log_backend_memory_contexts
  pg_file_write pg_file_rename pg_file_unlink pg_file_sync pg_import_system_collations
  pg_export_snapshot pg_truncate_visibility_map brin_summarize_new_values brin_summarize_range
  brin_desummarize_range gin_clean_pending_list
  lo_import lo_export lo_create lo_creat lo_unlink lo_put lo_from_bytea lo_open lowrite
  lo_truncate lo_truncate64
  dblink dblink_exec dblink_disconnect dblink_open dblink_fetch dblink_close dblink_send_query
  dblink_get_result dblink_cancel_query
  pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_xact_lock
  pg_try_advisory_xact_lock_shared
`);

/**
 * Node-local reads, beyond the pg_stat_* / pg_ls_* / pg_control_* / pg_get_wal_* families
 * (builtinEffect). A driver that reads pg_backend_pid() on a replica and then calls
 * pg_terminate_backend() on the primary can kill an unrelated backend; pg_current_wal_lsn() and
 * pg_walfile_name() raise "recovery is in progress" on a standby; the transaction status
 * functions answer about the primary's transaction IDs, which a replica may not have replayed.
 *
 * Not here, on purpose: inet_server_addr() / inet_server_port() (and the port, cluster_name ...
 * settings) name the node that ran the query. Their answer differs by design, whichever node
 * PgGate picks, and they are how clients and PgGate's own tests observe where a read ran, so
 * they stay plain reads. Sizes (pg_relation_size ...) are physical and replicated: reads too.
 */
const NODE_LOCAL = words(`
  pg_backend_pid pg_is_in_recovery pg_postmaster_start_time pg_conf_load_time pg_current_logfile
  pg_current_wal_lsn pg_current_wal_insert_lsn pg_current_wal_flush_lsn pg_current_xlog_location
  pg_current_xlog_insert_location pg_current_xlog_flush_location pg_last_wal_receive_lsn
  pg_last_wal_replay_lsn pg_last_xact_replay_timestamp pg_last_xlog_receive_location
  pg_last_xlog_replay_location pg_is_wal_replay_paused pg_is_xlog_replay_paused pg_walfile_name
  pg_walfile_name_offset pg_xlogfile_name pg_xlogfile_name_offset pg_available_wal_summaries
  pg_wal_summary_contents
  txid_current_snapshot pg_current_snapshot pg_xact_status txid_status pg_xact_commit_timestamp
  pg_xact_commit_timestamp_origin pg_last_committed_xact
  pg_blocking_pids pg_safe_snapshot_blocking_pids pg_lock_status pg_prepared_xact
  pg_listening_channels pg_notification_queue_usage pg_my_temp_schema pg_is_other_temp_schema
  pg_prepared_statement pg_cursor pg_sequence_last_value
  pg_show_all_settings pg_show_all_file_settings pg_hba_file_rules pg_ident_file_mappings
  pg_get_replication_slots pg_get_backend_memory_contexts pg_get_shmem_allocations
  pg_replication_origin_progress pg_replication_origin_session_progress
  pg_show_replication_origin_status pg_read_file pg_read_binary_file
`);

/** Families of node-local functions, by name prefix: statistics, directories, control file, WAL. */
const NODE_LOCAL_PREFIXES = ["pg_stat_", "pg_ls_", "pg_control_", "pg_get_wal_"];

const ADVISORY_SESSION = words(`
  pg_advisory_lock pg_advisory_lock_shared pg_try_advisory_lock pg_try_advisory_lock_shared
  pg_advisory_unlock pg_advisory_unlock_shared pg_advisory_unlock_all
`);

const SESSION_OTHER = words(`
  dblink_connect dblink_connect_u setseed pg_backup_start pg_start_backup
  pg_replication_origin_session_setup
`);

const TABLE = new Map<string, BuiltinEffect>();
for (const w of READ) TABLE.set(w, "read");
for (const w of WRITE) TABLE.set(w, "write");
for (const w of NODE_LOCAL) TABLE.set(w, "node_local");
for (const w of ADVISORY_SESSION) TABLE.set(w, "advisory_session");
for (const w of SESSION_OTHER) TABLE.set(w, "session_other");
TABLE.set("set_config", "set_config");
TABLE.set("current_setting", "current_setting");

/** Every name in the tables above, for the lexer's intern table. */
export const BUILTIN_NAMES: readonly string[] = [...TABLE.keys()];

/** Effect of a built-in function by name, or undefined when it is not a known built-in. */
export function builtinEffect(name: string): BuiltinEffect | undefined {
  const e = TABLE.get(name);
  if (e !== undefined) return e;
  // pg_stat_reset*() resets the statistics of the node it runs on: the primary's, as asked.
  for (const p of NODE_LOCAL_PREFIXES) if (name.startsWith(p)) return "node_local";
  if (name.startsWith("pg_get_")) return "read";
  if (name.startsWith("has_") && name.endsWith("_privilege")) return "read";
  return undefined;
}
