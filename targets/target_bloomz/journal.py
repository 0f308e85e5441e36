"""The journal: every store row a run changed, with its whole row before and after, so a run can be undone.

Inside apply's transaction, ``snapshot`` records the keys the plan touches and their rows before the
change; ``record`` writes one journal row per changed row (op insert, update or delete) once the plan's
statements ran. All set-based: one statement per table.
"""

from __future__ import annotations

import duckdb

# table → (key columns, SELECT of the keys the plan touches, as columns named like the table's keys)
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "communities": (
        ("id",),
        "SELECT community_id AS id FROM p_communities WHERE action IN ('create', 'update')",
    ),
    "community_sources": (
        ("source", "school_id"),
        "SELECT $source AS source, school_id FROM map_schools",
    ),
    "classes": (
        ("id",),
        "SELECT class_id AS id FROM p_classes WHERE action IN ('create', 'update', 'reactivate') "
        "UNION SELECT class_id FROM p_class_archives",
    ),
    "people": (("id",), "SELECT person_id AS id FROM p_people WHERE action IN ('create', 'update')"),
    "person_sources": (
        ("source", "kind", "source_id"),
        "SELECT $source AS source, kind, source_id FROM p_people WHERE action = 'create' "
        # a churned Clever contact id matched to an existing parent (identity.APPLY_SQL)
        "UNION SELECT $source, 'parent', source_id FROM p_contact_matches",
    ),
    "community_members": (
        ("community_id", "person_id"),
        "SELECT community_id, person_id FROM p_community_members WHERE action IN ('create', 'update') "
        "UNION SELECT community_id, person_id FROM p_community_member_removals",
    ),
    "class_members": (
        ("class_id", "person_id"),
        "SELECT class_id, person_id FROM p_class_members WHERE action IN ('create', 'update') "
        "UNION SELECT class_id, person_id FROM p_class_member_removals",
    ),
    "student_contacts": (
        ("student_id", "contact_id"),
        "SELECT student_person_id AS student_id, contact_person_id AS contact_id FROM p_student_contacts "
        "WHERE action IN ('create', 'update')",
    ),
}


def key_json(table: str, alias: str) -> str:
    """The SQL expression of a row's key as JSON (the journal's row_key)."""
    keys, _ = TABLES[table]
    return "json_object(" + ", ".join(f"'{k}', {alias}.{k}" for k in keys) + ")"


def snapshot(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Remember the keys the plan touches and their rows as they are before apply writes."""
    con.execute("CREATE OR REPLACE TEMP TABLE j_before (table_name VARCHAR, row_key JSON, row JSON)")
    con.execute("CREATE OR REPLACE TEMP TABLE j_keys (table_name VARCHAR, row_key JSON)")
    for table, (_, keys_sql) in TABLES.items():
        params = {"source": source} if "$source" in keys_sql else {}
        con.execute(
            f"INSERT INTO j_keys SELECT DISTINCT '{table}', {key_json(table, 'k')} FROM ({keys_sql}) k",
            params,
        )
        con.execute(
            f"""INSERT INTO j_before SELECT '{table}', {key_json(table, "t")}, to_json(t) FROM {table} t
                WHERE {key_json(table, "t")} IN (SELECT row_key FROM j_keys WHERE table_name = '{table}')"""
        )


def record(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Journal every touched row whose content changed, with its whole row before and after."""
    con.execute("CREATE OR REPLACE TEMP TABLE j_after (table_name VARCHAR, row_key JSON, row JSON)")
    for table in TABLES:
        con.execute(
            f"""INSERT INTO j_after SELECT '{table}', {key_json(table, "t")}, to_json(t) FROM {table} t
                WHERE {key_json(table, "t")} IN (SELECT row_key FROM j_keys WHERE table_name = '{table}')"""
        )
    con.execute(
        """INSERT INTO journal (run_id, seq, table_name, op, row_key, before, after)
           SELECT $run, row_number() OVER (ORDER BY k.table_name, k.row_key), k.table_name,
               CASE WHEN b.row IS NULL THEN 'insert' WHEN a.row IS NULL THEN 'delete' ELSE 'update' END,
               k.row_key, b.row, a.row
           FROM j_keys k
           LEFT JOIN j_before b ON b.table_name = k.table_name AND b.row_key = k.row_key
           LEFT JOIN j_after a ON a.table_name = k.table_name AND a.row_key = k.row_key
           WHERE b.row IS DISTINCT FROM a.row""",
        {"run": run_id},
    )


def count_change(con: duckdb.DuckDBPyConnection) -> None:
    """Bump the store's change counter (an applied run, an edit, an undo).

    A held run planned against an older counter is re-planned before it is approved.
    """
    con.execute(
        "UPDATE store_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
        "WHERE key = 'change_counter'"
    )


def change_counter(con: duckdb.DuckDBPyConnection) -> int:
    """The store's change counter."""
    row = con.execute("SELECT value FROM store_meta WHERE key = 'change_counter'").fetchone()
    return int(row[0]) if row else 0
