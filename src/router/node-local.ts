// Built-in relations and settings whose contents are the node's own, so a replica shows other
// values than the primary. Data only; node-local functions are in functions.ts, and sequences
// and unlogged tables are found through the catalog (ClassifyContext.relationKind).

function words(list: string): string[] {
  return list.split(/\s+/).filter((w) => w.length > 0);
}

/**
 * pg_catalog views of per-node state: locks, settings and config files, replication slots and
 * origins, prepared transactions, the session's cursors and prepared statements, memory, and
 * pg_sequences (its last_value is the node's sequence state).
 */
export const NODE_LOCAL_RELATIONS: readonly string[] = words(`
  pg_locks pg_settings pg_file_settings pg_hba_file_rules pg_ident_file_mappings
  pg_replication_slots pg_replication_origin_status pg_prepared_xacts pg_prepared_statements
  pg_cursors pg_backend_memory_contexts pg_shmem_allocations pg_shmem_allocations_numa pg_aios
  pg_sequences
`);

const RELATIONS = new Set(NODE_LOCAL_RELATIONS);

/**
 * Statistics views: pg_stat_* (activity, replication, wal_receiver, bgwriter, database, ...)
 * and pg_statio_*. Statistics are not WAL-logged: every node counts its own. Not pg_stats or
 * pg_statistic: planner statistics are catalog rows, replicated like any other.
 */
const RELATION_PREFIXES = ["pg_stat_", "pg_statio_"];

/**
 * Whether reading relation `name` must happen on the primary without asking the catalog. The
 * statistics prefixes hold in any schema, since extensions (pg_stat_statements) install their
 * views in a schema of the user's choice; the other names only unqualified or in pg_catalog.
 */
export function isNodeLocalRelation(schema: string | null, name: string): boolean {
  for (const p of RELATION_PREFIXES) if (name.startsWith(p)) return true;
  return (schema === null || schema === "pg_catalog") && RELATIONS.has(name);
}

/**
 * Settings a replica reports differently because it is a replica (transaction_read_only is on
 * there), or that configure standby/primary roles and so differ between the nodes. Lower case.
 * Settings naming the node itself (port, listen_addresses, cluster_name, data_directory) are
 * left out for the reason inet_server_port() is: they say where a query ran.
 */
const SETTINGS = new Set(
  words(`
    transaction_read_only default_transaction_read_only in_hot_standby hot_standby
    hot_standby_feedback primary_conninfo primary_slot_name synchronous_standby_names
    restore_command archive_cleanup_command recovery_end_command promote_trigger_file
  `),
);

const SETTING_PREFIXES = ["recovery_", "max_standby_", "wal_receiver_"];

/** Whether SHOW / current_setting() of `name` (any case) must be answered by the primary. */
export function isNodeLocalSetting(name: string): boolean {
  const n = name.toLowerCase();
  if (SETTINGS.has(n)) return true;
  for (const p of SETTING_PREFIXES) if (n.startsWith(p)) return true;
  return false;
}
