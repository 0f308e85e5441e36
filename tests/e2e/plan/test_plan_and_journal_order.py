"""The saved plan and the journal are numbered in a fixed order, and the same input gives the same plan."""

from __future__ import annotations

import json

from tests.support.district import district, query, run_target, singer_lines


def test_plan_rows_are_numbered_in_plan_order(database, tmp_path):
    result = run_target({"database": str(database)}, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr
    rows = query(
        database, "SELECT seq, entity, target, source_id FROM plan_rows WHERE run_id = 1 ORDER BY seq"
    )
    assert [seq for seq, *_ in rows] == list(range(1, len(rows) + 1))
    entities = ["community", "class", "person", "community_member", "class_member", "student_contact"]
    in_plan_order = sorted(rows, key=lambda r: (entities.index(r[1]), r[2], r[3]))
    assert rows == in_plan_order


def test_the_journal_is_numbered_by_table_then_key(database, tmp_path):
    result = run_target({"database": str(database)}, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr
    rows = query(database, "SELECT seq, table_name, row_key FROM journal WHERE run_id = 1 ORDER BY seq")
    assert [seq for seq, *_ in rows] == list(range(1, len(rows) + 1))
    in_key_order = [(table, tuple(json.loads(key).values())) for _, table, key in rows]
    assert in_key_order == sorted(in_key_order)
    # every row the first import wrote is journaled: undo can take it back
    people = query(database, "SELECT count(*) FROM people")[0][0]
    assert sum(1 for _, table, _ in rows if table == "people") == people


def test_a_teacher_enrolled_in_their_own_section_is_planned_from_the_enrollment(tmp_path):
    # tea1 is sec1's primary teacher and enrolled in it: two reasons, one class member, always the same one
    plans = []
    for attempt in range(3):
        database = tmp_path / f"store-{attempt}.duckdb"
        result = run_target({"database": str(database)}, singer_lines(district()), tmp_path)
        assert result.returncode == 0, result.stderr
        plans.append(
            query(
                database,
                "SELECT source_stream, source_id, rule FROM plan_rows "
                "WHERE entity = 'class_member' AND target LIKE '% / staff tea1'",
            )
        )
    assert plans == [[("enrollments", "sec1/tea1", "enrollments")]] * 3
