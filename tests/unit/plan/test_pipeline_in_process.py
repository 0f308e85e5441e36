"""The import pipeline in process: a plan rule checked on a small district in well under a second.

The same steps target-bloomz runs (tests/support/pipeline.py), asserting what an admin reads: the plan's
rows and the store's rows, and that a dry run and a held run leave the store's district unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.district import DISTRICT_TABLES, district, query
from tests.support.pipeline import run_import


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "bloomz.duckdb"


def plan_rows(database: Path, run_id: int | None) -> set[tuple[str, str, str]]:
    rows = query(database, "SELECT entity, action, source_id FROM plan_rows WHERE run_id = ?", [run_id])
    return {(entity, action, source_id) for entity, action, source_id in rows}


def test_a_dry_run_saves_the_plan_and_changes_nothing_else(database: Path, tmp_path: Path) -> None:
    outcome = run_import(database, district(), tmp_path, dry_run=True)

    assert (outcome.status, outcome.exit_status) == ("dry_run", 0)
    rows = plan_rows(database, outcome.run_id)
    assert ("community", "create", "sch1") in rows
    assert ("person", "create", "tea1") in rows
    # the two 'Homeroom - Smith' sections of sch1: the first takes the name, the second is skipped
    assert {(e, a) for e, a, s in rows if e == "class"} >= {("class", "create"), ("class", "skip")}
    for table in DISTRICT_TABLES:
        assert query(database, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert query(database, "SELECT status FROM runs") == [("dry_run",)]


def test_an_import_applies_exactly_the_saved_plan(database: Path, tmp_path: Path) -> None:
    outcome = run_import(database, district(), tmp_path)

    assert outcome.status == "applied"
    created = {s for e, a, s in plan_rows(database, outcome.run_id) if e == "person" and a == "create"}
    stored = {s for (s,) in query(database, "SELECT source_id FROM person_sources")}
    assert created == stored
    assert "tea1" in stored
    counts = query(database, "SELECT counts FROM runs WHERE id = ?", [outcome.run_id])[0][0]
    assert '"create"' in counts


def test_a_run_over_a_limit_is_held_with_its_plan_and_applies_it_on_approval(
    database: Path, tmp_path: Path
) -> None:
    from target_bloomz import store
    from target_bloomz.control import held_runs

    first = run_import(database, district(), tmp_path)
    assert first.status == "applied"
    night = district()
    night["enrollments"] = night["enrollments"][:1]  # classes emptied: over the default removal limit
    held = run_import(database, night, tmp_path, full_data=True)

    assert (held.status, held.exit_status) == ("held", 3)
    rows = query(
        database,
        "SELECT count(*) FROM plan_rows WHERE run_id = ? AND entity = 'class_member' AND action = 'remove'",
        [held.run_id],
    )
    removed = rows[0][0]
    assert removed > 0  # the plan the admin reads before approving
    [(before,)] = query(database, "SELECT count(*) FROM class_members")
    con = store.connect(database)
    try:
        approved = held_runs.approve(con, database, held.run_id or 0)
    finally:
        con.close()
    # nothing moved since: the saved plan is applied as read, not planned again
    assert approved.replanned_because_store_moved is False
    assert query(database, "SELECT status FROM runs WHERE id = ?", [held.run_id]) == [("applied",)]
    assert query(database, "SELECT count(*) FROM class_members") == [(before - removed,)]


def test_approve_applies_the_plan_the_admin_read_even_when_the_mapping_changed_since_then(
    database: Path, tmp_path: Path
) -> None:
    from target_bloomz import store
    from target_bloomz.control import held_runs

    mapping = tmp_path / "mapping.yml"
    mapping.write_text("extends: clever\n")
    assert run_import(database, district(), tmp_path, mapping=mapping).status == "applied"
    night = district()
    night["enrollments"] = night["enrollments"][:1]
    held = run_import(database, night, tmp_path, mapping=mapping, full_data=True)
    assert held.status == "held"

    # after the admin read the plan, someone widens the contact types the mapping imports
    mapping.write_text("extends: clever\ncontacts:\n  include: [Parent/Guardian, Family, Emergency]\n")
    [(parents,)] = query(database, "SELECT count(*) FROM people WHERE kind = 'parent'")
    con = store.connect(database)
    try:
        approved = held_runs.approve(con, database, held.run_id or 0)
    finally:
        con.close()

    # nothing moved in the store: the saved plan is applied as read, with no new parent in it
    assert approved.replanned_because_store_moved is False
    assert query(database, "SELECT count(*) FROM people WHERE kind = 'parent'") == [(parents,)]
    assert query(database, "SELECT status FROM runs WHERE id = ?", [held.run_id]) == [("applied",)]
