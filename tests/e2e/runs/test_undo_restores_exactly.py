"""Undo gives back the store exactly as it was before the run: every row of every table the sync writes.

The journal keeps a key and a hash per row the run left, and the whole row before only for what it updated
or deleted (targets/target_bloomz/apply/journal.py); these tests compare whole tables, before and after undo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from target_bloomz.apply import journal

from tests.support.district import district, query

STORE_TABLES = tuple(journal.TABLES)  # every table a sync writes and undo takes back


def store_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {table: query(database, f"SELECT * FROM {table} ORDER BY ALL") for table in STORE_TABLES}


def a_busy_night() -> dict[str, list[dict[str, Any]]]:
    """Inserts, updates and removals: a renamed section, a student's new grade, a new student in Math 7, and
    sec1's enrollments gone (Full Data removes its students)."""
    records = district()
    records["sections"][2]["name"] = "Math 7 Honors"
    records["students"][1]["grade"] = "2"
    records["students"].append(
        {"id": "stu4", "school_ids": ["sch2"], "first_name": "Gil", "last_name": "Lee"}
    )
    records["enrollments"].append({"section_id": "sec3", "user_id": "stu4", "role": "student"})
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] != "sec1"]
    return records


def first_import_then_busy_night(
    sync: Callable[..., Any], database: Path
) -> dict[str, list[tuple[Any, ...]]]:
    """Run 1 imports the district, run 2 is a busy night; returns the store's rows between the two."""
    sync(district())
    before = store_rows(database)
    sync(a_busy_night(), full_data=True)
    return before


def test_undo_of_a_night_gives_back_every_row_as_it_was(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    before = first_import_then_busy_night(sync_ok, database)
    assert store_rows(database) != before
    ops = dict(query(database, "SELECT op, count(*) FROM journal WHERE run_id = 2 GROUP BY op"))
    assert set(ops) == {"insert", "update", "delete"}, ops

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "could not be reverted" not in result.output
    assert store_rows(database) == before


def test_undo_of_a_first_import_empties_the_store(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    sync_ok(district())
    written = sum(len(rows) for rows in store_rows(database).values())
    # one journal row per row written, each a key and a hash: no copy of the row
    assert query(database, "SELECT count(*), count(before), count(after) FROM journal") == [(written, 0, 0)]

    result = cli("undo", "1")

    assert result.exit_code == 0, result.output
    assert f"Run 1 undone: {written} changes reverted." in result.output
    assert store_rows(database) == {table: [] for table in STORE_TABLES}


def test_a_row_changed_after_the_run_by_any_column_is_not_reverted(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    sync_ok(district())
    with duckdb.connect(str(database)) as con:  # a column no sync writes: the hash still sees it
        con.execute("UPDATE people SET registered_at = TIMESTAMP '2026-09-01 08:00' WHERE kind = 'staff'")
    staff = query(database, "SELECT id FROM people WHERE kind = 'staff' ORDER BY id")

    result = cli("undo", "1")

    assert result.exit_code == 0, result.output
    for (person_id,) in staff:
        assert f'people {{"id":{person_id}}}: changed in Bloomz after the run' in result.output
    assert query(database, "SELECT id FROM people ORDER BY id") == staff


def test_a_journal_written_before_store_version_9_is_still_undone(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    before = first_import_then_busy_night(sync_ok, database)
    with duckdb.connect(str(database)) as con:  # as version 8 journaled: whole rows after, no hash
        for table in STORE_TABLES:
            con.execute(
                f"""UPDATE journal j SET after = to_json(t), after_hash = NULL FROM {table} t
                    WHERE j.run_id = 2 AND j.table_name = '{table}' AND hash(t) = j.after_hash"""
            )
    assert query(database, "SELECT count(*) FROM journal WHERE run_id = 2 AND after_hash IS NOT NULL") == [
        (0,)
    ]

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "could not be reverted" not in result.output
    assert store_rows(database) == before
