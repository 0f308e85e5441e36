"""Incremental syncs over REST: after several `roster-sandbox advance` nights, each night's incremental
records applied onto the previous snapshot equal a full sync of the same night (at the tap level; the store
level is tests/e2e/mirror/test_oneroster_incremental_equals_full.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from roster_streams import contract
from tests.support.dumps import copy_dump
from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")
NIGHTS = 2

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def _key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in contract.key_properties(stream))


def _live(stream: str, records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {_key(stream, r): r for r in records if not r.get("_sdc_deleted_at")}


def snapshot(run: TapRun) -> Snapshot:
    return {stream: _live(stream, run.records.get(stream, [])) for stream in contract.STREAMS}


def apply(previous: Snapshot, run: TapRun) -> Snapshot:
    """What a target does: a stream closed with ACTIVATE_VERSION replaces the old one; a delta is upserted
    record by record, the deleted ones dropped."""
    result = {stream: dict(records) for stream, records in previous.items()}
    for stream in contract.STREAMS:
        records = run.records.get(stream, [])
        if "ACTIVATE_VERSION" in run.stream_messages(stream):
            result[stream] = _live(stream, records)
            continue
        for record in records:
            if record.get("_sdc_deleted_at"):
                result[stream].pop(_key(stream, record), None)
            else:
                result[stream][_key(stream, record)] = record
    return result


def comparable(records: dict[tuple[Any, ...], dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    # `extra` carries the source's own status/dateLastModified bookkeeping, the same either way once
    # applied; everything the target maps is compared.
    return {key: {k: v for k, v in r.items() if k != "extra"} for key, r in records.items()}


@pytest.fixture(scope="module")
def district(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo district that the test moves forward night by night."""
    return copy_dump(demo_district_dir, tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def nightly_sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district, rate_limit=0) as sandbox:
        yield sandbox


@pytest.mark.parametrize("schools", [[], ["5a25ff950a5f621109000004"]], ids=["district", "one-school"])
def test_incremental_nights_equal_a_full_sync(
    district: Path, nightly_sandbox: Sandbox, tmp_path: Path, schools: list[str]
) -> None:
    config = sandbox_config(nightly_sandbox, "1.1", incremental=True, schools=schools)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr[-3000:]
    store, state = snapshot(first), first.last_state()
    for night in range(1, NIGHTS + 1):
        done = subprocess.run(
            [ROSTER_SANDBOX, "advance", str(district), "--change", "5", "--seed", str(night)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        incremental = run_tap(tmp_path, config, state=state)
        assert incremental.returncode == 0, incremental.stderr[-3000:]
        full = run_tap(tmp_path, sandbox_config(nightly_sandbox, "1.1", schools=schools))
        assert full.returncode == 0, full.stderr[-3000:]

        store, expected = apply(store, incremental), snapshot(full)
        for stream in contract.STREAMS:
            stale = set(store[stream]) - set(expected[stream])
            missing = set(expected[stream]) - set(store[stream])
            assert not stale, f"night {night}, {stream}: stale after incremental: {sorted(stale)[:3]}"
            assert not missing, f"night {night}, {stream}: missing after incremental: {sorted(missing)[:3]}"
            assert comparable(store[stream]) == comparable(expected[stream]), (
                f"night {night}: {stream} differs"
            )
        # The night really changed links, and the students came as a delta, not whole.
        assert len(incremental.records["students"]) < len(expected["students"]) / 2
        state = incremental.last_state()
