"""The journal: every store row a run changed, so the run can be undone.

Inside apply's transaction, ``snapshot`` records the keys the plan touches and their rows before the
change; ``record`` writes one journal row per changed row (op insert, update or delete) once the plan's
statements ran. A row the run inserted is journaled by its key alone: undoing an insert deletes it. An
updated or deleted row keeps its whole row before (``before``, JSON), which undo writes back. Every row
the run left in the store keeps ``after_hash``, DuckDB's ``hash`` of the whole row: undo reverts a row only
while its hash is still that one, i.e. nothing changed it since (a first sync journals a key and a number
per row, not a copy of the row). All set-based: a few statements per table, joined on the table's typed key
columns, each streaming into the journal (no window over the whole table: bounded memory at any size).
"""

from __future__ import annotations

import duckdb

from target_bloomz import store

# table → (key columns, SELECT of the keys the plan touches, as columns named like the table's keys)
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "communities": (
        ("id",),
        "SELECT community_id AS id FROM p_communities WHERE action IN ('create', 'update')",
    ),
    "community_sources": (
        ("source", "school_id"),
        "SELECT $source AS source, school_id FROM p_community_sources",
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
        # a churned Clever contact id matched to an existing parent (apply/transaction.py)
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


def snapshot(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    """Remember the keys the plan touches, and the rows the store has of them before apply writes.

    Returns the tables the plan touches (a night that changes nothing journals nothing).
    """
    touched = []
    for table, (keys, keys_sql) in TABLES.items():
        columns = ", ".join(keys)
        params = {"source": source} if "$source" in keys_sql else {}
        found = con.execute(
            f"CREATE OR REPLACE TEMP TABLE j_keys_{table} AS SELECT DISTINCT {columns} FROM ({keys_sql})",
            params,
        ).fetchone()
        if not found or not found[0]:
            con.execute(f"DROP TABLE j_keys_{table}")
            continue
        touched.append(table)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE j_before_{table} AS
                SELECT {columns}, to_json(t) AS row, hash(t) AS row_hash
                FROM {table} t SEMI JOIN j_keys_{table} USING ({columns})"""
        )
    return touched


def record(con: duckdb.DuckDBPyConnection, run_id: int, touched: list[str]) -> None:
    """Journal every row of the ``touched`` tables whose content changed: numbered by table name, then key.

    A key the store did not have and has now is an insert; a row it had is an update when its hash
    changed, a delete when it is gone. The rows are sorted by their typed key columns and numbered as they
    stream in (store.in_insertion_order).
    """
    seq = 0
    with store.in_insertion_order(con):  # the numbering follows the sort
        for table in sorted(touched):
            keys = ", ".join(TABLES[table][0])
            written = con.execute(
                f"""INSERT INTO journal (run_id, seq, table_name, op, row_key, before, after_hash)
                    SELECT $run, $seq + row_number() OVER (), '{table}', op, {key_json(table, "c")}, before,
                        after_hash
                    FROM (
                        SELECT {keys}, 'insert' AS op, NULL::JSON AS before, hash(t) AS after_hash
                        FROM {table} t
                        SEMI JOIN (SELECT {keys} FROM j_keys_{table}
                                   ANTI JOIN j_before_{table} USING ({keys})) USING ({keys})
                        UNION ALL
                        SELECT {keys}, CASE WHEN a.after_hash IS NULL THEN 'delete' ELSE 'update' END, b.row,
                            a.after_hash
                        FROM j_before_{table} b
                        LEFT JOIN (SELECT {keys}, hash(t) AS after_hash FROM {table} t
                                   SEMI JOIN j_before_{table} USING ({keys})) a USING ({keys})
                        WHERE a.after_hash IS DISTINCT FROM b.row_hash
                        ORDER BY {keys}
                    ) c""",
                {"run": run_id, "seq": seq},
            ).fetchone()
            seq += int(written[0]) if written else 0
            con.execute(f"DROP TABLE j_keys_{table}; DROP TABLE j_before_{table}")
