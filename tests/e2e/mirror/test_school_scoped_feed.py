"""Issue 4's invariant for a school-scoped feed (tap-clever with `schools` set): after nights in which
students move into the school, bringing their parents, an incremental sync leaves the store identical to a
full sync of the same night."""

from __future__ import annotations

from pathlib import Path

from roster_sandbox import dumpfile
from roster_sandbox.testing import run_sandbox

from tests.support.nightly import advance, differences, export, tap_clever, target_bloomz

SCHOOL = "5a25ff950a5f621109000004"  # the demo district's largest school
NIGHTS = 2


def moved_in_with_a_parent(district: Path, since: int) -> set[str]:
    """Students who moved to SCHOOL with the events after the first ``since`` and have a Parent/Guardian
    contact: the contact and its link enter the school's scope with no event of their own."""
    movers = set()
    for event in dumpfile.read_objects(district / "events.json")[since:]:
        now, previous = event["data"]["object"], event["data"].get("previous_attributes") or {}
        before = ((previous.get("roles") or {}).get("student") or {}).get("school")
        if before and now["roles"]["student"]["school"] == SCHOOL != before:
            movers.add(now["id"])
    return {
        link["student"]
        for user in dumpfile.read_objects(district / "users.json")
        for link in (user["roles"].get("contact") or {}).get("student_relationships") or []
        if link["student"] in movers and link["type"] == "Parent/Guardian"
    }


def test_a_school_scoped_feed_stays_equal_to_a_full_sync(
    demo_copy: Path, nightly_mapping: Path, tmp_path: Path
) -> None:
    settings = {"mapping": str(nightly_mapping), "feed": "clever:demo-one-school"}
    incremental_store, full_store = tmp_path / "incremental.duckdb", tmp_path / "full.duckdb"
    state = None
    came_in: set[str] = set()
    with run_sandbox(demo_copy, rate_limit=0) as sandbox:
        for night in range(NIGHTS + 1):
            events_before = len(dumpfile.read_objects(demo_copy / "events.json"))
            if night:
                advance(demo_copy, night)
                came_in |= moved_in_with_a_parent(demo_copy, events_before)
            folder = tmp_path / f"night-{night}"
            full = tap_clever(sandbox, folder / "full", incremental=False, state=None, schools=[SCHOOL])
            delta = tap_clever(sandbox, folder / "inc", incremental=True, state=state, schools=[SCHOOL])
            a = target_bloomz({"database": str(incremental_store), **settings}, delta, folder / "inc")
            assert a.returncode == 0, a.stderr[-3000:]
            assert a.states, f"night {night}: the target emitted no STATE ({a.stderr[-2000:]})"
            state = a.states[-1]  # as Meltano keeps it for the next run
            b = target_bloomz({"database": str(full_store), **settings}, full, folder / "full")
            assert b.returncode == 0, b.stderr[-3000:]

            after_incremental, after_full = export(incremental_store), export(full_store)
            if after_incremental != after_full:
                raise AssertionError(f"night {night}:\n{differences(after_incremental, after_full)}")
    # One school's community only, with classes and parents: the scope held, and the store is a real one.
    assert len(after_full["communities"]) == 1
    assert after_full["classes"]
    assert any(p["kind"] == "parent" for p in after_full["people"])
    # The nights did what this test is about: students moved into the school, with parents of their own.
    assert came_in
