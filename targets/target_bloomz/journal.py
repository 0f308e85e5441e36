"""The journal: every store row a run changed, with its whole row before and after, so a run can be undone.

Inside apply's transaction, ``snapshot`` records the keys the plan touches and their rows before the
change; ``record`` writes one journal row per changed row (op insert, update or delete) once the plan's
statements ran. All set-based: a few statements per table, joined on the table's typed key columns (the
JSON ``row_key`` is only built for the journal row itself).
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
        "WHERE action IN ('create', 'update') "
        "UNION SELECT student_id, contact_id FROM p_student_contact_removals",
    ),
}


def key_json(table: str, alias: str) -> str:
    """The SQL expression of a row's key as JSON (the journal's row_key)."""
    keys, _ = TABLES[table]
    return "json_object(" + ", ".join(f"'{k}', {alias}.{k}" for k in keys) + ")"


def _rows_of_keys(table: str, keys_table: str) -> str:
    """The table's rows (key columns and the whole row as JSON) whose key is in ``keys_table``."""
    keys = ", ".join(TABLES[table][0])
    return f"SELECT {keys}, to_json(t) AS row FROM {table} t SEMI JOIN {keys_table} k USING ({keys})"


def snapshot(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Remember the keys the plan touches and their rows as they are before apply writes."""
    for table, (keys, keys_sql) in TABLES.items():
        params = {"source": source} if "$source" in keys_sql else {}
        distinct_keys = f"SELECT DISTINCT {', '.join(keys)} FROM ({keys_sql})"
        con.execute(f"CREATE OR REPLACE TEMP TABLE j_keys_{table} AS {distinct_keys}", params)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE j_before_{table} AS {_rows_of_keys(table, f'j_keys_{table}')}"
        )


def record(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Journal every touched row whose content changed, with its whole row before and after.

    Numbered by table name, then row key (the JSON text), one table after the other. Bounded memory at
    any size: the changed keys are found and numbered on keys alone (a row the store did not have is
    changed if it is there now; only rows it had are compared), then the whole rows stream into the
    journal, each joined to its narrow key.
    """
    seq = 0
    for table in sorted(TABLES):
        keys = ", ".join(TABLES[table][0])
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE j_changed AS
                SELECT {keys}, row_number() OVER (ORDER BY {key_json(table, "k")}) AS n
                FROM (
                    SELECT {keys} FROM j_keys_{table}
                    SEMI JOIN {table} USING ({keys}) ANTI JOIN j_before_{table} USING ({keys})
                    UNION ALL
                    SELECT {keys} FROM j_before_{table} b
                    LEFT JOIN ({_rows_of_keys(table, f"j_before_{table}")}) a USING ({keys})
                    WHERE a.row IS DISTINCT FROM b.row
                ) k"""
        )
        params = {"run": run_id, "seq": seq}
        row = con.execute(
            f"""INSERT INTO journal (run_id, seq, table_name, op, row_key, before, after)
                SELECT $run, $seq + c.n, '{table}', CASE WHEN b.row IS NULL THEN 'insert' ELSE 'update' END,
                    {key_json(table, "c")}, b.row, to_json(t)
                FROM {table} t JOIN j_changed c USING ({keys}) LEFT JOIN j_before_{table} b USING ({keys})""",
            params,
        ).fetchone()
        deleted = con.execute(
            f"""INSERT INTO journal (run_id, seq, table_name, op, row_key, before, after)
                SELECT $run, $seq + c.n, '{table}', 'delete', {key_json(table, "c")}, b.row, NULL
                FROM j_changed c JOIN j_before_{table} b USING ({keys}) ANTI JOIN {table} t USING ({keys})""",
            params,
        ).fetchone()
        seq += (int(row[0]) if row else 0) + (int(deleted[0]) if deleted else 0)
        for done in ("j_changed", f"j_keys_{table}", f"j_before_{table}"):
            con.execute(f"DROP TABLE {done}")


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
