"""BATCH mode (``batch_config`` set): the records of the RECORD messages, in JSONL files, closed alike.

Every test runs the real tap-clever executable against a sandbox, once writing RECORD messages and once
writing BATCH files, and compares what a target would read.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from roster_streams import contract
from tests.support.clever_tap import TapRun, batch_config, sandbox_config
from tests.support.dumps import copy_dump

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")
SCHOOL = "5a25ff950a5f621109000004"


def file_lines(url: str) -> list[str]:
    path = Path(urlparse(url).path)
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode().splitlines()


def batched(run: TapRun, stream: str) -> list[dict[str, Any]]:
    """The records of a stream's BATCH files, in order."""
    return [
        json.loads(line)
        for message in run.of_stream(stream)
        if message["type"] == "BATCH"
        for url in message["manifest"]
        for line in file_lines(url)
    ]


def types_of(run: TapRun, stream: str) -> list[str]:
    return [m["type"] for m in run.of_stream(stream)]


def assert_same_records(records_run: TapRun, batch_run: TapRun) -> None:
    for stream in contract.STREAMS:
        assert "RECORD" not in types_of(batch_run, stream), stream
        assert batched(batch_run, stream) == records_run.records(stream), stream


def assert_closed_after_the_last_batch(run: TapRun) -> None:
    """A full pull: each BATCH carries the pull's version; one ACTIVATE_VERSION with it follows the last."""
    for stream in contract.STREAMS:
        messages = run.of_stream(stream)
        batches = [m for m in messages if m["type"] == "BATCH"]
        assert batches, stream
        assert messages[-1]["type"] == "ACTIVATE_VERSION", stream
        assert types_of(run, stream).count("ACTIVATE_VERSION") == 1, stream
        assert {m["version"] for m in batches} == {messages[-1]["version"]}, stream


def ok(run: TapRun) -> TapRun:
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def small_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A generated small district (about 3,000 students, 30,000 records)."""
    directory = tmp_path_factory.mktemp("small")
    done = subprocess.run(
        [ROSTER_SANDBOX, "generate", "small", "--seed", "1", "--out", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with run_sandbox(directory, rate_limit=0) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("district", "schools"),
    [("demo", []), ("demo", [SCHOOL]), ("small", [])],
    ids=["demo", "demo-one-school", "small"],
)
def test_batch_files_hold_the_records_of_the_record_messages(
    request: pytest.FixtureRequest,
    tap_run: Callable[..., TapRun],
    tmp_path: Path,
    district: str,
    schools: list[str],
) -> None:
    sandbox: Sandbox = request.getfixturevalue("demo_sandbox" if district == "demo" else "small_sandbox")
    config = sandbox_config(sandbox, schools=schools)
    records_run = ok(tap_run(tmp_path / "records", config))
    batch_run = ok(tap_run(tmp_path / "batch", config | {"batch_config": batch_config(tmp_path / "files")}))

    assert_same_records(records_run, batch_run)
    assert_closed_after_the_last_batch(batch_run)
    assert sum(len(records_run.records(s)) for s in contract.STREAMS) > 2000


def test_gzip_and_batch_size_are_honoured(
    demo_sandbox: Sandbox, demo_full_run: TapRun, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    files = tmp_path / "files"
    config = batch_config(files, compression="gzip", batch_size=400)
    run = ok(tap_run(tmp_path, sandbox_config(demo_sandbox, batch_config=config)))

    assert_same_records(demo_full_run, run)
    enrollments = [m for m in run.of_stream("enrollments") if m["type"] == "BATCH"]
    assert len(enrollments) == -(-len(demo_full_run.records("enrollments")) // 400)  # 9,406 records
    for message in run.messages:
        if message["type"] == "BATCH":
            assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
            assert len(message["manifest"]) == 1
            assert 0 < len(file_lines(message["manifest"][0])) <= 400
    assert all(path.name.startswith("test-tap-clever--") for path in files.iterdir())
    assert all(path.suffixes == [".jsonl", ".gz"] for path in files.iterdir())


def test_a_pull_that_fails_half_way_is_never_closed(
    demo_sandbox: Sandbox, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    demo_sandbox.set_faults({"kind": "status", "status": 400, "after": 3, "count": 1, "path": "/v3.0/users"})
    try:
        config = batch_config(tmp_path / "files", batch_size=100)
        run = tap_run(tmp_path, sandbox_config(demo_sandbox, page_size=100, batch_config=config))
    finally:
        demo_sandbox.clear_faults()

    assert run.returncode == 1
    assert "tap-clever stopped: Clever answered HTTP 400 at /v3.0/users" in run.stderr
    # contacts (the first stream to read users) wrote its first three pages' files, then failed.
    assert types_of(run, "contacts").count("BATCH") == 3
    assert "ACTIVATE_VERSION" not in [m["type"] for m in run.messages]


@pytest.fixture(scope="module")
def district(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo district, moved one night forward by the test."""
    return copy_dump(demo_district_dir, tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def nightly_sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district, rate_limit=0) as sandbox:
        yield sandbox


def test_an_incremental_night_in_batch_mode(
    district: Path, nightly_sandbox: Sandbox, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    config = sandbox_config(nightly_sandbox, incremental=True)
    batches = config | {"batch_config": batch_config(tmp_path / "files")}
    first = ok(tap_run(tmp_path / "first", batches))
    assert_closed_after_the_last_batch(first)
    assert {s for s, b in first.state["bookmarks"].items() if "last_event_id" in b} == set(contract.STREAMS)

    done = subprocess.run(
        [ROSTER_SANDBOX, "advance", str(district), "--change", "5", "--seed", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records_night = ok(tap_run(tmp_path / "records", config, first.state))
    batch_night = ok(tap_run(tmp_path / "batch", batches, first.state))

    assert_same_records(records_night, batch_night)
    deleted = [r for s in contract.STREAMS for r in batched(batch_night, s) if r.get("_sdc_deleted_at")]
    assert deleted
    # A delta: no version, nothing closed; the bookmarks move as in record mode.
    assert all("version" not in m for m in batch_night.messages if m["type"] == "BATCH")
    assert "ACTIVATE_VERSION" not in [m["type"] for m in batch_night.messages]
    for stream in contract.STREAMS:
        moved = batch_night.state["bookmarks"][stream]["last_event_id"]
        assert moved == records_night.state["bookmarks"][stream]["last_event_id"]
    assert batch_night.state != first.state


def test_stream_maps_send_their_stream_as_record_messages(
    demo_sandbox: Sandbox, demo_full_run: TapRun, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    maps = {"students": {"email": "__NULL__"}}
    config = sandbox_config(demo_sandbox, stream_maps=maps)
    run = ok(tap_run(tmp_path, config | {"batch_config": batch_config(tmp_path / "files")}))

    students = run.records("students")
    assert "BATCH" not in types_of(run, "students")
    assert students == [
        {k: v for k, v in r.items() if k != "email"} for r in demo_full_run.records("students")
    ]
    assert run.of_stream("students")[-1]["type"] == "ACTIVATE_VERSION"
    assert "students: stream maps are configured for it, so it is written as RECORD messages" in run.stderr
    assert batched(run, "staff") == demo_full_run.records("staff")


def test_the_connection_test_writes_no_batch_files(
    demo_sandbox: Sandbox, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    files = tmp_path / "files"
    run = tap_run(tmp_path, sandbox_config(demo_sandbox, batch_config=batch_config(files)), None, "--test")

    assert run.returncode == 0, run.stderr[-3000:]
    assert not files.exists() or not any(files.iterdir())
    assert "BATCH" not in [m["type"] for m in run.messages]


def test_an_unsupported_encoding_is_refused(
    demo_sandbox: Sandbox, tap_run: Callable[..., TapRun], tmp_path: Path
) -> None:
    config = batch_config(tmp_path / "files") | {"encoding": {"format": "parquet", "compression": "none"}}
    run = tap_run(tmp_path, sandbox_config(demo_sandbox, batch_config=config))

    assert run.returncode == 1
    assert "batch_config.encoding.format 'parquet' is not supported by tap-clever; use 'jsonl'" in run.stderr
    assert not (tmp_path / "files").exists()
