"""How target-bloomz reads its input: roster records spooled as they came, every other message by singer-sdk.

Each test runs the real target-bloomz executable on Singer lines and checks the store, its exit code and
what it printed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from typing import Any

from roster_streams import contract
from tests.support.district import TARGET, district, query, run_target, singer_lines
from tests.support.mappings import OPEN_LIMITS
from tests.support.store_queries import every_issue, export_without_codes


def _messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_records_written_with_spaces_and_in_any_key_order_land_as_compact_ones(tmp_path):
    records = district()
    records["students"][0]["extra"] = {"nickname": "Dee Dee", "house": {"name": "Red", "points": 12}}
    compact = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in _messages(singer_lines(records)))
    shuffle = random.Random(9)

    def reordered(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        items = [(key, reordered(item)) for key, item in value.items()]
        shuffle.shuffle(items)
        return dict(items)

    # Python's json module writes ", " and ": "; keys of messages and records come in a shuffled order.
    spaced = "".join(json.dumps(reordered(m)) + "\n" for m in _messages(singer_lines(records)))
    assert spaced != compact
    assert '"type": "RECORD"' in spaced

    first, second = tmp_path / "compact" / "bloomz.duckdb", tmp_path / "spaced" / "bloomz.duckdb"
    assert run_target({"database": str(first)}, compact, tmp_path).returncode == 0
    result = run_target({"database": str(second)}, spaced, tmp_path)

    assert result.returncode == 0, result.stderr
    assert export_without_codes(second) == export_without_codes(first)
    assert every_issue(second) == every_issue(first)
    [(extra,)] = query(second, "SELECT extra FROM src_students WHERE id = 'stu1'")
    assert json.loads(extra) == records["students"][0]["extra"]
    assert len(export_without_codes(second)["people"]) == 7  # 3 staff, 3 students, Gus (the one parent)


def test_a_line_that_is_not_json_names_its_line_and_nothing_of_its_content(database, tmp_path):
    lines = singer_lines(district()).splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if '"stu2"' in line and '"RECORD"' in line)
    lines[number - 1] = lines[number - 1].replace('"first_name": "Eve"', '"first_name": Eve')

    result = run_target({"database": str(database)}, "".join(lines), tmp_path)

    assert result.returncode != 0
    assert f"line {number} of the input is not a valid Singer message: JSON is malformed" in result.stderr
    assert "Eve" not in result.stderr
    assert "S-2" not in result.stderr
    assert not database.exists()
    assert result.states == []


def test_a_failed_read_leaves_no_spooled_records_behind(database, tmp_path):
    spools = tmp_path / "tmp"
    spools.mkdir()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database": str(database)}))
    text = singer_lines(district()).replace('"id": "stu3"', '"id": stu3')

    done = subprocess.run(
        [TARGET, "--config", str(config)],
        input=text,
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(spools)},
        check=False,
    )

    assert done.returncode != 0
    assert "is not a valid Singer message" in done.stderr
    # Spools live in the user's private folder under TMPDIR (plugin_runtime/private.py): it is left empty.
    assert [path.name for path in spools.rglob("*")] == [f"bloomz-sync-{os.getuid()}"]


def test_a_message_with_fields_of_the_wrong_type_names_its_line_and_field(database, tmp_path):
    messages = _messages(singer_lines(district()))
    number = next(i for i, m in enumerate(messages, 1) if m.get("record", {}).get("id") == "stu3")
    messages[number - 1]["version"] = "one"
    text = "".join(json.dumps(m) + "\n" for m in messages)

    result = run_target({"database": str(database)}, text, tmp_path)

    assert result.returncode != 0
    assert f"line {number} of the input is not a valid Singer message: Expected `int | null`" in result.stderr
    assert "`$.version`" in result.stderr
    assert "Fay" not in result.stderr
    assert "555-0142" not in result.stderr
    assert not database.exists()


def test_a_record_that_is_not_an_object_names_its_line(database, tmp_path):
    messages = _messages(singer_lines(district()))
    number = next(i for i, m in enumerate(messages, 1) if m.get("record", {}).get("id") == "con1")
    messages[number - 1]["record"] = ["con1", "Gus", "gus@example.org"]
    text = "".join(json.dumps(m) + "\n" for m in messages)

    result = run_target({"database": str(database)}, text, tmp_path)

    assert result.returncode != 0
    assert (
        f"line {number} of the input: the record of a contacts RECORD is not a JSON object" in result.stderr
    )
    assert "gus@example.org" not in result.stderr
    assert not database.exists()


def test_a_record_before_its_schema_still_fails(database, tmp_path):
    messages = _messages(singer_lines(district()))
    first_student = next(m for m in messages if m["type"] == "RECORD" and m["stream"] == "students")
    text = "".join(json.dumps(m) + "\n" for m in [first_student, *messages])

    result = run_target({"database": str(database)}, text, tmp_path)

    assert result.returncode != 0
    assert (
        "target-bloomz stopped: line 1 of the input: a RECORD message of stream 'students' came before the "
        "stream's SCHEMA message; the tap must send the SCHEMA first"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()


def test_a_record_without_its_key_is_set_aside_and_the_rest_lands(database, tmp_path):
    records = district()
    records["contacts"].append({"last_name": "No Id", "email": "no.id@example.org"})

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert ("error", "contacts", "?", "missing id") in every_issue(database)
    assert query(database, "SELECT source_id FROM person_sources WHERE kind = 'parent'") == [("con1",)]


def test_a_record_of_another_stream_still_needs_its_key(database, tmp_path):
    text = singer_lines(district()) + "".join(
        json.dumps(m) + "\n"
        for m in [
            {"type": "SCHEMA", "stream": "courses", "schema": {"properties": {}}, "key_properties": ["id"]},
            {"type": "RECORD", "stream": "courses", "record": {"name": "Math"}},
        ]
    )

    result = run_target({"database": str(database)}, text, tmp_path)

    assert result.returncode != 0
    assert "Record is missing one or more key_properties" in result.stderr
    assert not database.exists()


def test_stream_maps_still_apply_to_roster_records(database, tmp_path):
    config = {"database": str(database), "stream_maps": {"students": {"grade": "'9'"}}}

    result = run_target(config, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT DISTINCT grade FROM people WHERE kind = 'student'") == [("9",)]
    assert query(database, "SELECT count(*) FROM people") == [(7,)]


def test_a_full_pull_cut_short_applied_when_allowed_removes_nothing(database, tmp_path, mapping_file):
    config = {"database": str(database), "mapping": str(mapping_file(OPEN_LIMITS)), "full_data": True}
    assert run_target(config, singer_lines(district()), tmp_path).returncode == 0
    records = district()
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu1"]
    # The pull's records carry its version, but no ACTIVATE_VERSION nor finished came: it stopped half-way.
    messages = _messages(singer_lines(records, pull="started"))
    cut_short = [m for m in messages if m["type"] != "ACTIVATE_VERSION"]

    result = run_target(
        {**config, "apply_incomplete_pulls": True}, "".join(json.dumps(m) + "\n" for m in cut_short), tmp_path
    )

    assert result.returncode == 4, result.stderr
    assert "enrollments did not close complete" in result.stderr
    assert (
        "warning",
        "enrollments",
        None,
        "did not close complete; removals judged from the mirror as of run 1",
    ) in every_issue(database)
    assert query(
        database,
        "SELECT count(*) FROM class_members m JOIN classes c ON c.id = m.class_id "
        "JOIN person_sources s ON s.person_id = m.person_id WHERE s.source_id = 'stu1'",
    ) == [(1,)]


def test_every_roster_stream_is_read(database, tmp_path):
    records = district()

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    for stream in contract.STREAMS:
        assert query(database, f"SELECT count(*) FROM src_{stream}") == [(len(records[stream]),)], stream
    assert f"{sum(len(rows) for rows in records.values())} records" in result.stderr


def test_numbers_reach_staging_as_the_tap_sent_them(database, tmp_path):
    records = district()
    records["students"][0]["extra"] = {"gpa": 3.5, "credits": 12}
    records["students"][1]["first_name"] = 2.5  # a number where the contract wants a string

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    [(extra,)] = query(database, "SELECT extra FROM src_students WHERE id = 'stu1'")
    assert json.loads(extra) == {"gpa": 3.5, "credits": 12}
    assert (
        "error",
        "students",
        "stu2",
        "first_name: expected string or null, got double",
    ) in every_issue(database)
