"""Incremental syncs through Clever events: after any sequence of nights, the incremental records applied
onto the previous snapshot equal a full sync of the same night (at the tap level; the store-level checks
are in tests/e2e/mirror/)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox import dumpfile
from roster_sandbox.testing import Sandbox, run_sandbox

from roster_streams import contract
from tests.support.dumps import copy_dump

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")
NIGHTS = 3
SCHOOL = "5a25ff950a5f621109000004"
# With `schools` set these are pulled whole every night: who is in scope changes without an event about them.
SCOPE_FOLLOWS_OTHERS = {"terms", "students", "staff", "contacts", "student_contacts"}

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def _key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in contract.key_properties(stream))


def snapshot(run: Any) -> Snapshot:
    return {stream: {_key(stream, r): r for r in run.records(stream)} for stream in contract.STREAMS}


def apply(previous: Snapshot, run: Any) -> Snapshot:
    """What a target does with an incremental run: upsert each record, drop the deleted ones; a stream
    closed by ACTIVATE_VERSION was pulled whole and replaces what was there."""
    result = {stream: dict(records) for stream, records in previous.items()}
    whole = {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}
    for stream in whole:
        result[stream] = {}
    for message in run.messages:
        if message["type"] != "RECORD" or message["stream"] == "pull":  # roster records only
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
    return copy_dump(demo_district_dir, tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def nightly_sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district) as sandbox:
        yield sandbox


def _config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    return {"district_token": sandbox.token, "api_url": sandbox.clever_api_url} | extra


def entered_the_school(night_events: list[dict[str, Any]], staff: dict[Any, dict[str, Any]]) -> set[str]:
    """Who joined SCHOOL tonight without an event about themselves: students who moved to it, and
    teachers of another school added to one of its sections."""
    entered = set()
    for event in night_events:
        data = event["data"]
        now, previous = data["object"], data.get("previous_attributes") or {}
        school_before = ((previous.get("roles") or {}).get("student") or {}).get("school")
        if school_before and now["roles"]["student"]["school"] == SCHOOL != school_before:
            entered.add(f"student {now['id']}")
        if event["type"] == "sections.updated" and now["school"] == SCHOOL and "teachers" in previous:
            for teacher in set(now["teachers"]) - set(previous["teachers"] or []):
                if SCHOOL not in staff[(teacher,)]["school_ids"]:  # tonight's full sync has them
                    entered.add(f"teacher {teacher}")
    return entered


@pytest.mark.parametrize("schools", [[], [SCHOOL]], ids=["district", "one-school"])
def test_incremental_equals_full_over_several_nights(
    district: Path, nightly_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, schools: list[str]
) -> None:
    pulled_whole = SCOPE_FOLLOWS_OTHERS if schools else set()
    first = tap_run(tmp_path / "n0", _config(nightly_sandbox, incremental=True, schools=schools))
    assert first.returncode == 0, first.stderr[-3000:]
    # The first run pulls everything, closes each stream, and bookmarks the newest event for each stream
    # read from events.
    assert {m["stream"] for m in first.messages if m["type"] == "ACTIVATE_VERSION"} == set(contract.STREAMS)
    bookmarked = {s for s, b in first.state["bookmarks"].items() if "last_event_id" in b}
    assert bookmarked == set(contract.STREAMS) - pulled_whole
    store, state = snapshot(first), first.state
    deletions = 0
    entered: set[str] = set()
    for night in range(1, NIGHTS + 1):
        events_before = len(dumpfile.read_objects(district / "events.json"))
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
        closed = {m["stream"] for m in incremental.messages if m["type"] == "ACTIVATE_VERSION"}
        assert closed == pulled_whole
        full = tap_run(night_dir / "full", _config(nightly_sandbox, schools=schools))
        assert full.returncode == 0, full.stderr[-3000:]

        deleted = [
            (m["stream"], _key(m["stream"], m["record"]))
            for m in incremental.messages
            if m["type"] == "RECORD" and m["record"].get("_sdc_deleted_at")
        ]
        assert all(key in store[stream] for stream, key in deleted), "a deletion names what the target has"
        store = apply(store, incremental)
        expected = snapshot(full)
        for stream in contract.STREAMS:
            assert store[stream] == expected[stream], f"night {night}: {stream} differs"
        changed = [
            m["record"]
            for m in incremental.messages
            if m["type"] == "RECORD" and m["stream"] not in pulled_whole
        ]
        upserts = [r for r in changed if not r.get("_sdc_deleted_at")]
        # Streams read from events send only what changed.
        from_events = sum(len(expected[s]) for s in contract.STREAMS if s not in pulled_whole)
        assert 0 < len(upserts) < from_events / 2
        deletions += len(changed) - len(upserts)
        night_events = dumpfile.read_objects(district / "events.json")[events_before:]
        entered |= entered_the_school(night_events, expected["staff"])
        state = incremental.state
    assert deletions > 0
    # The nights brought people into the school's scope with no event of their own (what the fix is about).
    assert any(who.startswith("student") for who in entered)
    assert any(who.startswith("teacher") for who in entered)


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
