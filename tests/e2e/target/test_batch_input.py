"""BATCH messages (singer-sdk's batch extension): JSONL files of records, read into the same store rows.

Each test writes the batch files itself, as a tap in batch mode leaves them, and runs the real
target-bloomz executable on the messages that point at them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from roster_streams import contract
from tests.support.batches import batch_lines, batch_root
from tests.support.district import district, query, run_target, singer_lines
from tests.support.mappings import OPEN_LIMITS
from tests.support.store_queries import every_issue, export_without_codes

_MEMBERSHIPS_OF_STU1 = (
    "SELECT count(*) FROM class_members m JOIN person_sources s USING (person_id) WHERE s.source_id = 'stu1'"
)


def _imported_in_batches(database: Path, tmp_path: Path, mapping_file: Any) -> dict[str, Any]:
    """Full Data settings with a batch folder, after a first complete import of the district in batches."""
    config = {"database": str(database), "mapping": str(mapping_file(OPEN_LIMITS)), "full_data": True}
    config |= batch_root(tmp_path)
    assert (
        run_target(config, batch_lines(district(), tmp_path / "batches" / "first"), tmp_path).returncode == 0
    )
    return config


def test_batch_files_land_the_same_rows_as_record_messages(tmp_path):
    records = district()
    records["contacts"].append({"last_name": "No Id"})  # set aside the same way in both
    by_record, by_batch = tmp_path / "records" / "bloomz.duckdb", tmp_path / "batch" / "bloomz.duckdb"
    assert run_target({"database": str(by_record)}, singer_lines(records), tmp_path).returncode == 0
    files = tmp_path / "batches" / "files"

    result = run_target(
        {"database": str(by_batch), **batch_root(tmp_path)}, batch_lines(records, files), tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert export_without_codes(by_batch) == export_without_codes(by_record)
    assert every_issue(by_batch) == every_issue(by_record)
    assert ("error", "contacts", "?", "missing id") in every_issue(by_batch)
    for stream in contract.STREAMS:
        kept = len(records[stream]) - (stream == "contacts")  # all but the contact without an id
        assert query(by_batch, f"SELECT count(*) FROM src_{stream}") == [(kept,)], stream
    assert query(by_batch, "SELECT status FROM runs") == [("applied",)]
    assert result.states == [{"bookmarks": {"run": "1"}}]
    assert list(files.iterdir()) == [], "the target deletes the local batch files it has read"


def test_a_batch_pull_cut_short_is_not_applied(database, tmp_path, mapping_file):
    config = _imported_in_batches(database, tmp_path, mapping_file)
    records = district()
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu1"]
    records["students"][0]["first_name"] = "Changed"

    # The batches carry the pull's version, but no ACTIVATE_VERSION nor the pull's finished record came.
    cut_short = batch_lines(records, tmp_path / "batches" / "second", activate=False, pull="started")
    result = run_target(config, cut_short, tmp_path)

    assert result.returncode == 1, result.stderr
    assert query(database, "SELECT status, status_reason FROM runs WHERE id = 2") == [
        (
            "failed",
            "the source stopped before the pull was complete (tap-clever did not finish: cut short in "
            "enrollments after 4 records); nothing was changed",
        )
    ]
    assert query(database, _MEMBERSHIPS_OF_STU1) == [(1,)]
    assert query(database, "SELECT count(*) FROM people WHERE first_name = 'Changed'") == [(0,)]
    assert result.states == []


def test_a_batch_pull_cut_short_applies_adds_and_updates_when_allowed_and_removes_nothing(
    database, tmp_path, mapping_file
):
    config = _imported_in_batches(database, tmp_path, mapping_file)
    records = district()
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu1"]

    cut_short = batch_lines(records, tmp_path / "batches" / "second", activate=False, pull="started")
    result = run_target({**config, "apply_incomplete_pulls": True}, cut_short, tmp_path)

    assert result.returncode == 4, result.stderr
    assert (
        "warning",
        "enrollments",
        None,
        "did not close complete; removals judged from the mirror as of run 1",
    ) in every_issue(database)
    assert query(database, _MEMBERSHIPS_OF_STU1) == [(1,)]
    assert query(database, "SELECT status, pull_complete FROM runs WHERE id = 2") == [("applied", False)]
    assert result.states == [], "Meltano's state does not move after an incomplete pull"


def test_a_delta_in_batches_deletes_what_the_source_deleted(database, tmp_path, mapping_file):
    config = _imported_in_batches(database, tmp_path, mapping_file)
    gone = {
        "section_id": "sec1",
        "user_id": "stu1",
        "role": "student",
        "_sdc_deleted_at": "2026-11-23T03:00:00Z",
    }

    delta = batch_lines({"enrollments": [gone]}, tmp_path / "batches" / "delta", version=None, activate=False)
    result = run_target(config, delta, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "did not close complete" not in result.stderr  # a delta carries no version
    assert query(database, _MEMBERSHIPS_OF_STU1) == [(0,)]


def test_parquet_batches_fail_with_a_clear_error(database, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "students.parquet").write_bytes(b"PAR1")
    schema = {
        "type": "SCHEMA",
        "stream": "students",
        "schema": contract.load_schema("students"),
        "key_properties": ["id"],
    }
    batch = {
        "type": "BATCH",
        "stream": "students",
        "encoding": {"format": "parquet", "compression": None},
        "manifest": [(files / "students.parquet").as_uri()],
    }

    result = run_target({"database": str(database)}, f"{json.dumps(schema)}\n{json.dumps(batch)}\n", tmp_path)

    assert result.returncode != 0
    assert (
        "BATCH of stream students: parquet files (compression: none) are not supported; "
        "target-bloomz reads jsonl batch files, uncompressed or gzip"
    ) in result.stderr
    assert not database.exists()
    assert (files / "students.parquet").exists()
