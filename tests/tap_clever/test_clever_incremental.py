"""Incremental syncs through Clever events: after any sequence of nights, the incremental records applied
onto the previous snapshot equal a full sync of the same night (at the tap level; the store-level check
belongs with target-bloomz)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from bloomz_sync import contract

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")
NIGHTS = 3

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def _key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in contract.key_properties(stream))


def snapshot(run: Any) -> Snapshot:
    return {stream: {_key(stream, r): r for r in run.records(stream)} for stream in contract.STREAMS}


def apply(previous: Snapshot, run: Any) -> Snapshot:
    """What a target does with an incremental run: upsert each record, drop the deleted ones."""
    result = {stream: dict(records) for stream, records in previous.items()}
    for message in run.messages:
        if message["type"] != "RECORD":
            continue
        stream, record = message["stream"], message["record"]
        if record.get("_sdc_deleted_at"):
            result[stream].pop(_key(stream, record), None)
        else:
            result[stream][_key(stream, record)] = record
    return result


@pytest.fixture(scope="module")
def district(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo district that the test moves forward night by night."""
    directory = tmp_path_factory.mktemp("district")
    for dump in demo_district_dir.glob("*.json"):
        shutil.copyfile(dump, directory / dump.name)  # copies of read-only files are writable
    return directory


@pytest.fixture(scope="module")
def nightly_sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district) as sandbox:
        yield sandbox


def _config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    return {"district_token": sandbox.token, "api_url": sandbox.clever_api_url} | extra


@pytest.mark.parametrize("schools", [[], ["5a25ff950a5f621109000004"]], ids=["district", "one-school"])
def test_incremental_equals_full_over_several_nights(
    district: Path, nightly_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, schools: list[str]
) -> None:
    first = tap_run(tmp_path / "n0", _config(nightly_sandbox, incremental=True, schools=schools))
    assert first.returncode == 0, first.stderr[-3000:]
    # The first run pulls everything, closes each stream, and bookmarks the newest event for each stream.
    assert [m for m in first.messages if m["type"] == "ACTIVATE_VERSION"]
    assert set(first.state["bookmarks"]) == set(contract.STREAMS)
    store, state = snapshot(first), first.state
    deletions = 0
    for night in range(1, NIGHTS + 1):
        done = subprocess.run(
            [ROSTER_SANDBOX, "advance", str(district), "--change", "5", "--seed", str(night)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        night_dir = tmp_path / f"n{night}"
        incremental = tap_run(
            night_dir / "inc", _config(nightly_sandbox, incremental=True, schools=schools), state
        )
        assert incremental.returncode == 0, incremental.stderr[-3000:]
        assert not [m for m in incremental.messages if m["type"] == "ACTIVATE_VERSION"]
        full = tap_run(night_dir / "full", _config(nightly_sandbox, schools=schools))
        assert full.returncode == 0, full.stderr[-3000:]

        store = apply(store, incremental)
        expected = snapshot(full)
        for stream in contract.STREAMS:
            assert store[stream] == expected[stream], f"night {night}: {stream} differs"
        changed = [m["record"] for m in incremental.messages if m["type"] == "RECORD"]
        upserts = [r for r in changed if not r.get("_sdc_deleted_at")]
        # Only what changed is sent (deletions may also name records outside the selected schools).
        assert 0 < len(upserts) < sum(len(records) for records in expected.values()) / 2
        deletions += len(changed) - len(upserts)
        state = incremental.state
    assert deletions > 0


def test_a_bookmark_older_than_30_days_falls_back_to_a_full_sync(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    stale = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    state = {
        "bookmarks": {
            stream: {"last_event_id": "000000000000000000000001", "events_read_at": stale}
            for stream in contract.STREAMS
        }
    }
    run = tap_run(tmp_path, _config(demo_sandbox, incremental=True), state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "over 30 days ago" in run.stderr
    assert "falling back to a full sync" in run.stderr
    assert len(run.records("students")) == 1004
    assert run.of_stream("students")[-1]["type"] == "ACTIVATE_VERSION"
    fresh = datetime.fromisoformat(run.state["bookmarks"]["students"]["events_read_at"])
    assert datetime.now(UTC) - fresh < timedelta(days=1)
