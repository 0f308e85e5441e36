"""How target-bloomz tells where an input broke off: a message cut in the middle, records lost on the way, an
input without pull records. Each is a failed run that changed nothing but the run itself."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.district import district, query, run_target, singer_lines

_LAST_RUN = "SELECT status, status_reason FROM runs ORDER BY id DESC LIMIT 1"


def _failed_and_nothing_else(database: Path) -> str:
    (status, reason) = query(database, _LAST_RUN)[0]
    assert status == "failed"
    assert query(database, "SELECT count(*) FROM people UNION ALL SELECT count(*) FROM src_students") == [
        (0,),
        (0,),
    ]
    return str(reason)


def test_a_message_cut_in_the_middle_is_a_pull_cut_short(database: Path, tmp_path: Path) -> None:
    text = singer_lines(district())
    cut = text.index('"stream": "enrollments", "record"') + 20  # the tap died while writing this record

    result = run_target({"database": str(database)}, text[:cut], tmp_path)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    reason = _failed_and_nothing_else(database)
    assert reason.startswith(
        "the source stopped before the pull was complete (tap-clever did not finish: the input ended in the "
        "middle of message "
    )
    assert reason.endswith("; cut short in enrollments after 0 records); nothing was changed")


def test_records_lost_between_tap_and_target_fail_the_pull(database: Path, tmp_path: Path) -> None:
    messages = [json.loads(line) for line in singer_lines(district()).splitlines()]
    lost = next(i for i, m in enumerate(messages) if m.get("stream") == "students" and m["type"] == "RECORD")
    del messages[lost]  # the finished record still says 3 students were sent

    result = run_target(
        {"database": str(database)}, "".join(json.dumps(m) + "\n" for m in messages), tmp_path
    )

    assert result.returncode == 1, result.stderr
    assert _failed_and_nothing_else(database) == (
        "the pull was not complete (students: 2 of the 3 records tap-clever sent arrived); "
        "nothing was changed"
    )


def test_roster_streams_without_pull_records_are_not_applied(database: Path, tmp_path: Path) -> None:
    result = run_target({"database": str(database)}, singer_lines(district(), pull=None), tmp_path)

    assert result.returncode == 1, result.stderr
    assert _failed_and_nothing_else(database) == (
        "the input has no pull records, so nothing shows the pull was complete: target-bloomz imports what "
        "tap-clever and tap-oneroster send (schemas/roster/pull.json); nothing was changed"
    )


def test_an_incomplete_pull_applied_when_allowed_removes_nothing_even_from_streams_it_closed(
    database: Path, tmp_path: Path, mapping_file
) -> None:
    config = {"database": str(database), "mapping": str(mapping_file("")), "full_data": True, "archive": True}
    assert run_target(config, singer_lines(district()), tmp_path).returncode == 0
    night = district()
    night["enrollments"] = [e for e in night["enrollments"] if e["user_id"] != "stu1"]
    night["sections"] = [s for s in night["sections"] if s["id"] != "sec3"]
    night["students"][1]["first_name"] = "Evie"
    # Every stream closed complete, but the pull never finished (the tap died before its last word).
    cut = singer_lines(night, pull="started")

    result = run_target({**config, "apply_incomplete_pulls": True}, cut, tmp_path)

    assert result.returncode == 4, result.stderr
    assert query(database, "SELECT count(*) FROM people WHERE first_name = 'Evie'") == [(1,)], "updates apply"
    assert query(
        database, "SELECT count(*) FROM plan_rows WHERE run_id = 2 AND action IN ('remove', 'archive')"
    ) == [(0,)]
    assert query(
        database,
        "SELECT count(*) FROM class_members JOIN person_sources USING (person_id) WHERE source_id = 'stu1'",
    ) == [(1,)]
    assert query(database, "SELECT status FROM classes WHERE section_id = 'sec3'") == [("active",)]
