"""Delta runs: the night after a full sync, over REST (dateLastModified filter) and as a CSV delta bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import run_sandbox

from roster_streams import contract
from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config

# A delta cannot say which links went or whose primary teacher changed: these are rebuilt every run.
REBUILT_STREAMS = ("sections", "student_contacts")
DELTA_STREAMS = [s for s in contract.STREAMS if s not in REBUILT_STREAMS]
SANDBOX_CLI = str(Path(sys.executable).parent / "roster-sandbox")


@dataclass
class Night:
    first: TapRun  # the full (first incremental) sync
    state: dict[str, Any]
    rest_delta: TapRun  # the next night over REST, from the first run's state
    csv_delta: TapRun  # the next night as a CSV delta bundle


def deleted_ids(run: TapRun, stream: str) -> set[tuple[str, ...]]:
    keys = contract.key_properties(stream)
    return {tuple(r[k] for k in keys) for r in run.records.get(stream, []) if r.get("_sdc_deleted_at")}


@pytest.fixture(scope="module")
def night(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    work = tmp_path_factory.mktemp("delta")
    district = work / "district"
    shutil.copytree(demo_district_dir, district)
    with run_sandbox(district) as sandbox:
        config = sandbox_config(sandbox, "1.1", incremental=True)
        first = run_tap(work, config)
        assert first.returncode == 0, first.stderr[-3000:]
        state = first.last_state()
        command = [SANDBOX_CLI, "advance", str(district), "--change", "5", "--seed", "3"]
        subprocess.run(command, check=True, capture_output=True)
        rest_delta = run_tap(work, config, state=state)
        since = state["bookmarks"]["students"]["replication_key_value"]
        bundle = work / "delta.zip"
        command = [SANDBOX_CLI, "export-csv", str(district), "--version", "1.1", "--out", str(bundle)]
        subprocess.run([*command, "--delta-since", since], check=True, capture_output=True)
        csv_delta = run_tap(work, {"csv_path": str(bundle)})
        yield Night(first, state, rest_delta, csv_delta)


def test_the_first_incremental_run_reads_everything_and_bookmarks_each_stream(night: Night) -> None:
    assert night.first.counts()["students"] == 1004
    for stream in DELTA_STREAMS:
        bookmark = night.state["bookmarks"][stream]
        assert bookmark["replication_key"] == "updated_at"
        assert bookmark["replication_key_value"] == max(r["updated_at"] for r in night.first.records[stream])


def test_the_rest_delta_brings_changes_and_deletions_only(night: Night) -> None:
    run = night.rest_delta
    assert run.returncode == 0, run.stderr[-3000:]
    first_students = {s["id"]: s for s in night.first.records["students"]}
    students = run.records["students"]
    assert 0 < len(students) < len(first_students)
    # The 50 withdrawn students arrive deleted; the 50 enrolled ones are new.
    assert len(deleted_ids(run, "students")) == 50
    assert all(
        s["_sdc_deleted_at"] >= night.state["bookmarks"]["students"]["replication_key_value"]
        for s in students
        if s.get("_sdc_deleted_at")
    )
    assert sum(1 for s in students if s["id"] not in first_students) == 50
    assert deleted_ids(run, "contacts")
    assert deleted_ids(run, "enrollments")
    for stream in DELTA_STREAMS:
        assert "ACTIVATE_VERSION" not in run.stream_messages(stream), stream
    for stream in REBUILT_STREAMS:  # read whole every night, and closed
        assert run.stream_messages(stream)[-1] == "ACTIVATE_VERSION", stream


def test_the_csv_delta_of_the_same_night_deletes_the_same_records(night: Night) -> None:
    run = night.csv_delta
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in ("students", "contacts", "enrollments"):
        assert deleted_ids(run, stream) == deleted_ids(night.rest_delta, stream), stream
    for stream in contract.STREAMS:
        assert "ACTIVATE_VERSION" not in run.stream_messages(stream), stream
