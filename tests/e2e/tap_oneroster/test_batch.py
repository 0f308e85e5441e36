"""BATCH mode (``batch_config`` set): the records of the RECORD messages, in JSONL files, closed alike.

The real tap-oneroster executable runs once writing RECORD messages and once writing BATCH files, over
REST and from a CSV bundle, full and incremental; what a target would read must be the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from roster_streams import contract
from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")


def batch_config(root: Path) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": root.as_uri()},
        "batch_size": 500,
    }


def batched(run: TapRun, stream: str) -> list[dict[str, Any]]:
    """The records of a stream's BATCH files, in order."""
    return [
        json.loads(line)
        for message in run.messages
        if message["type"] == "BATCH" and message["stream"] == stream
        for url in message["manifest"]
        for line in Path(urlparse(url).path).read_text().splitlines()
    ]


def assert_same(records_run: TapRun, batch_run: TapRun) -> None:
    """Same records per stream, in order; the same closing messages, each after the stream's last BATCH."""
    assert records_run.returncode == 0, records_run.stderr[-3000:]
    assert batch_run.returncode == 0, batch_run.stderr[-3000:]
    for stream in contract.STREAMS:
        assert "RECORD" not in batch_run.stream_messages(stream), stream
        assert batched(batch_run, stream) == records_run.records.get(stream, []), stream
        closing = [m for m in records_run.stream_messages(stream) if m == "ACTIVATE_VERSION"]
        assert [m for m in batch_run.stream_messages(stream) if m != "BATCH"] == closing, stream
        versions = [
            m.get("version") for m in batch_run.messages if m["type"] == "BATCH" and m["stream"] == stream
        ]
        if closing:
            assert batch_run.stream_messages(stream)[-1] == "ACTIVATE_VERSION", stream
            assert versions, stream
            assert None not in versions, stream
        else:
            assert set(versions) <= {None}, stream
    assert batch_run.last_state() == records_run.last_state()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_rest_batch_files_hold_the_records_of_the_record_messages(
    demo_sandbox: Sandbox, tmp_path: Path, version: str
) -> None:
    config = sandbox_config(demo_sandbox, version)
    (tmp_path / "records").mkdir()
    records_run = run_tap(tmp_path / "records", config)
    batch_run = run_tap(tmp_path, config | {"batch_config": batch_config(tmp_path / "files")})

    assert_same(records_run, batch_run)
    assert len(records_run.records["enrollments"]) > 5000


def test_a_csv_bundle_in_batch_mode(demo_district_dir: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    done = subprocess.run(
        [ROSTER_SANDBOX, "export-csv", str(demo_district_dir), "--version", "1.1", "--out", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = {"csv_path": str(bundle)}
    (tmp_path / "records").mkdir()
    records_run = run_tap(tmp_path / "records", config)
    batch_run = run_tap(tmp_path, config | {"batch_config": batch_config(tmp_path / "files")})

    assert_same(records_run, batch_run)
    assert len(records_run.records["students"]) == 1004


@pytest.fixture
def nightly_sandbox(demo_district_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, Sandbox]]:
    district = tmp_path / "district"
    district.mkdir()
    for dump in demo_district_dir.glob("*.json"):
        shutil.copyfile(dump, district / dump.name)  # copies of read-only files are writable
    with run_sandbox(district, rate_limit=0) as sandbox:
        yield district, sandbox


def test_an_incremental_night_in_batch_mode(nightly_sandbox: tuple[Path, Sandbox], tmp_path: Path) -> None:
    district, sandbox = nightly_sandbox
    config = sandbox_config(sandbox, "1.2", incremental=True)
    batches = config | {"batch_config": batch_config(tmp_path / "files")}
    (tmp_path / "records").mkdir()
    first_records = run_tap(tmp_path / "records", config)
    first = run_tap(tmp_path, batches)
    assert_same(first_records, first)

    done = subprocess.run(
        [ROSTER_SANDBOX, "advance", str(district), "--change", "5", "--seed", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    night_records = run_tap(tmp_path / "records", config, state=first.last_state())
    night = run_tap(tmp_path, batches, state=first.last_state())

    assert_same(night_records, night)
    assert night.last_state() != first.last_state()  # the bookmarks moved
    assert 0 < len(batched(night, "students")) < 1004  # a delta


def test_the_connection_test_writes_no_files(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    files = tmp_path / "files"
    config = sandbox_config(demo_sandbox, "1.2") | {"batch_config": batch_config(files)}
    run = run_tap(tmp_path, config, "--test")

    assert run.returncode == 0, run.stderr[-3000:]
    assert "The credentials see 5 school(s)" in run.stderr
    assert not files.exists() or not any(files.iterdir())
    assert run.messages == []


def test_stream_maps_send_their_stream_as_record_messages(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox_config(demo_sandbox, "1.2", stream_maps={"students": {"email": "__NULL__"}})
    (tmp_path / "records").mkdir()
    records_run = run_tap(tmp_path / "records", config)
    run = run_tap(tmp_path, config | {"batch_config": batch_config(tmp_path / "files")})

    assert run.returncode == 0, run.stderr[-3000:]
    assert "BATCH" not in run.stream_messages("students")
    assert run.records["students"] == records_run.records["students"]
    assert all("email" not in record for record in run.records["students"])
    assert "students: stream maps are configured for it, so it is written as RECORD messages" in run.stderr
    assert batched(run, "staff") == records_run.records["staff"]
