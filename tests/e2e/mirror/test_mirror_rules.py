"""The source mirror's rules: what merges, what replaces, what never changes it, and what it lets remove."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox
from target_bloomz import store
from target_bloomz.control import held_runs

from roster_streams import contract
from tests.support.district import district, query, run_target, singer_lines
from tests.support.nightly import BIN, advance, export, tap_clever, target_bloomz

FEED = "clever:clever"  # the default feed: <source>:<mapping file stem> of the packaged clever.yml


def mirror(database: Path) -> dict[str, Any]:
    """Every row of the mirror and its bookkeeping (without the times), as a comparable value."""
    rows: dict[str, Any] = {
        stream: sorted(map(repr, query(database, f"SELECT * FROM src_{stream}")))
        for stream in contract.STREAMS
    }
    rows["src_streams"] = query(
        database, "SELECT feed, stream, complete, completed_run, records FROM src_streams ORDER BY ALL"
    )
    return rows


def mirrored_ids(database: Path, stream: str, feed: str = FEED) -> set[str]:
    keys = " || '/' || ".join(contract.key_properties(stream))
    return {row[0] for row in query(database, f"SELECT {keys} FROM src_{stream} WHERE feed = ?", [feed])}


def last_run(database: Path) -> tuple[int, str, list[str]]:
    row = query(database, "SELECT id, status, complete_streams FROM runs ORDER BY id DESC LIMIT 1")[0]
    return row[0], row[1], list(row[2])


def plan_actions(database: Path, run_id: int) -> set[tuple[str, str]]:
    return set(query(database, "SELECT DISTINCT entity, action FROM plan_rows WHERE run_id = ?", [run_id]))


def issues(database: Path, run_id: int) -> list[tuple[str, str, str | None, str]]:
    return query(
        database,
        "SELECT severity, stream, record_key, message FROM run_issues WHERE run_id = ? ORDER BY ALL",
        [run_id],
    )


def deleted(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "_sdc_deleted_at": "2026-11-22T03:00:00Z"}


def test_a_complete_pull_fills_the_mirror_and_a_delta_merges_into_it(database: Path, tmp_path: Path) -> None:
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    assert mirrored_ids(database, "students") == {"stu1", "stu2", "stu3"}
    assert query(database, "SELECT DISTINCT complete FROM src_streams WHERE feed = ?", [FEED]) == [(True,)]

    delta = {
        "students": [
            {"id": "stu4", "school_ids": ["sch1"], "first_name": "Jo", "last_name": "New", "grade": "1"},
            deleted({"id": "stu2", "school_ids": ["sch1"]}),
        ],
        # The new student's enrollment and parent link name a section and a contact only the mirror
        # knows (con3 is an emergency contact: the mapping never imports it into the store).
        "enrollments": [{"section_id": "sec1", "user_id": "stu4", "role": "student"}],
        "student_contacts": [
            {"student_id": "stu4", "contact_id": "con3", "relationship": "Other", "type": "Emergency"}
        ],
    }
    result = run_target({"database": str(database)}, singer_lines(delta, activate=False), tmp_path)

    assert result.returncode == 0, result.stderr
    assert mirrored_ids(database, "students") == {"stu1", "stu3", "stu4"}
    assert "stu4/con3" in mirrored_ids(database, "student_contacts")
    run_id, status, complete = last_run(database)
    assert status == "applied"
    assert complete == sorted(contract.STREAMS)  # complete earlier, merged with a delta since
    assert [i for i in issues(database, run_id) if i[0] == "error"] == []
    # stu4 joins sec1's class beside the members the delta did not resend
    members = query(
        database,
        "SELECT s.source_id FROM class_members m JOIN classes c ON c.id = m.class_id "
        "JOIN person_sources s ON s.person_id = m.person_id WHERE c.section_id = 'sec1' ORDER BY 1",
    )
    assert members == [("con1",), ("stu1",), ("stu4",), ("tea1",)]


def test_a_deletion_of_a_record_the_mirror_never_had_is_a_no_op(database: Path, tmp_path: Path) -> None:
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    before_mirror, before_store = mirror(database), export(database)

    unknown = {
        "students": [deleted({"id": "stu-never-seen", "school_ids": ["sch9"]})],
        "enrollments": [deleted({"section_id": "sec-never-seen", "user_id": "stu1", "role": "student"})],
    }
    result = run_target(
        {"database": str(database), "full_data": True}, singer_lines(unknown, activate=False), tmp_path
    )

    assert result.returncode == 0, result.stderr
    run_id, status, _ = last_run(database)
    assert status == "applied"
    assert [i for i in issues(database, run_id) if i[0] == "error"] == []
    assert export(database) == before_store
    after_mirror = mirror(database)
    assert {k: v for k, v in after_mirror.items() if k != "src_streams"} == {
        k: v for k, v in before_mirror.items() if k != "src_streams"
    }
    assert [row[:3] for row in after_mirror["src_streams"]] == [
        row[:3] for row in before_mirror["src_streams"]
    ]


def without_stu2() -> dict[str, list[dict[str, Any]]]:
    records = district()
    records["students"] = [s for s in records["students"] if s["id"] != "stu2"]
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu2"]
    records["student_contacts"] = [c for c in records["student_contacts"] if c["student_id"] != "stu2"]
    return records


def test_a_pull_without_activate_version_removes_nothing(
    database: Path, nightly_mapping: Path, tmp_path: Path
) -> None:
    feed = "clever:nightly"  # the mapping file's stem
    settings: dict[str, object] = {"database": str(database), "mapping": str(nightly_mapping)}
    assert run_target(settings, singer_lines(district()), tmp_path).returncode == 0
    before = export(database)

    # A full pull that failed half-way: one student, one section, one enrollment, and no ACTIVATE_VERSION.
    records = district()
    partial = {
        "students": records["students"][:1],
        "sections": records["sections"][:1],
        "enrollments": records["enrollments"][:1],
    }
    settings |= {"full_data": True, "archive": True, "scheduled": True}
    result = run_target(settings, singer_lines(partial, activate=False), tmp_path)

    assert result.returncode == 0, result.stderr
    run_id, status, _ = last_run(database)
    assert status == "applied"
    assert not {action for _, action in plan_actions(database, run_id)} & {"remove", "archive"}
    assert export(database) == before
    assert mirrored_ids(database, "students", feed) == {"stu1", "stu2", "stu3"}

    # The positive control: a complete pull without stu2 takes stu2 out of Lincoln (Full Data).
    assert run_target(settings, singer_lines(without_stu2()), tmp_path).returncode == 0
    run_id, status, _ = last_run(database)
    assert status == "applied"
    assert ("community_member", "remove") in plan_actions(database, run_id)
    assert mirrored_ids(database, "students", feed) == {"stu1", "stu3"}


def test_a_held_run_leaves_the_mirror_untouched(database: Path, tmp_path: Path) -> None:
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    before = mirror(database)

    # a third of the students gone: over the default 10% removal limit
    result = run_target(
        {"database": str(database), "full_data": True}, singer_lines(without_stu2()), tmp_path
    )

    assert result.returncode == 3, result.stderr  # held: docs/resync.md "Exit status"
    run_id, status, _ = last_run(database)
    assert status == "held"
    assert ("community_member", "remove") in plan_actions(database, run_id)
    assert mirror(database) == before

    # approved, it lands with its mirror change
    with store.connect(database) as con:
        held_runs.approve(con, database, run_id)
    assert last_run(database)[1] == "applied"
    assert mirrored_ids(database, "students") == {"stu1", "stu3"}


def test_a_feed_never_pulled_complete_may_not_remove(database: Path, tmp_path: Path) -> None:
    records = district()
    result = run_target(
        {"database": str(database), "feed": "clever:lincoln-only"},
        singer_lines(records, activate=False),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    _, status, complete = last_run(database)
    assert status == "applied"
    assert complete == []
    assert query(
        database, "SELECT DISTINCT complete FROM src_streams WHERE feed = 'clever:lincoln-only'"
    ) == [(False,)]
    assert mirrored_ids(database, "students", "clever:lincoln-only") == {"stu1", "stu2", "stu3"}
    assert mirrored_ids(database, "students") == set()  # another feed's mirror is its own


def test_records_set_aside_leave_the_stream_incomplete_until_a_clean_complete_pull(
    database: Path, tmp_path: Path
) -> None:
    records = district()
    records["students"].append({"id": "stu9", "school_ids": "sch1"})  # not an array: set aside
    assert run_target({"database": str(database)}, singer_lines(records), tmp_path).returncode == 0
    assert ("students", False) in query(database, "SELECT stream, complete FROM src_streams")
    # the next delta may not take the mirror's students as whole
    delta = {"terms": district()["terms"]}
    assert (
        run_target({"database": str(database)}, singer_lines(delta, activate=False), tmp_path).returncode == 0
    )
    _, _, complete = last_run(database)
    assert "students" not in complete
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    assert ("students", True) in query(database, "SELECT stream, complete FROM src_streams")


def test_an_empty_complete_pull_where_the_mirror_has_records_changes_nothing(
    database: Path, tmp_path: Path
) -> None:
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    before = mirror(database)
    records = district()
    records["enrollments"] = []  # closed by ACTIVATE_VERSION, yet empty: a failed pull
    result = run_target({"database": str(database), "full_data": True}, singer_lines(records), tmp_path)
    assert result.returncode == 0, result.stderr
    assert mirror(database)["enrollments"] == before["enrollments"]
    run_id, _, _ = last_run(database)
    assert not {action for _, action in plan_actions(database, run_id)} & {"remove", "archive"}


# Through the real tap and sandbox: a dry run, and a tap killed mid-stream.


@pytest.fixture
def synced(tiny_sandbox: Sandbox, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A store with one applied incremental-mode sync of the tiny district, and the STATE it emitted."""
    database = tmp_path / "bloomz.duckdb"
    singer = tap_clever(tiny_sandbox, tmp_path / "first", incremental=True, state=None)
    night = target_bloomz({"database": str(database)}, singer, tmp_path / "first")
    assert night.returncode == 0, night.stderr[-3000:]
    return database, night.states[-1]


def test_a_dry_run_leaves_the_mirror_untouched(
    synced: tuple[Path, dict[str, Any]], tiny_sandbox: Sandbox, tiny_district: Path, tmp_path: Path
) -> None:
    database, state = synced
    advance(tiny_district, 1)
    delta = tap_clever(tiny_sandbox, tmp_path / "delta", incremental=True, state=state)
    before = mirror(database)

    dry = target_bloomz({"database": str(database), "dry_run": True}, delta, tmp_path / "delta")

    assert dry.returncode == 0, dry.stderr[-3000:]
    assert dry.states == []  # a dry run does not move Meltano's bookmark
    run_id, status, _ = last_run(database)
    assert status == "dry_run"
    assert plan_actions(database, run_id) - {("community", "update")}  # it did plan changes
    assert mirror(database) == before

    real = target_bloomz({"database": str(database)}, delta, tmp_path / "delta")
    assert real.returncode == 0, real.stderr[-3000:]
    assert mirror(database) != before


def test_a_tap_killed_mid_stream_changes_nothing(
    synced: tuple[Path, dict[str, Any]], tiny_sandbox: Sandbox, tmp_path: Path
) -> None:
    database, _ = synced
    before_store, before_mirror = export(database), mirror(database)
    config = tmp_path / "tap-config.json"
    config.write_text(
        json.dumps({"api_url": tiny_sandbox.clever_api_url, "district_token": tiny_sandbox.token})
    )

    # A full pull, killed after its first records: what it emitted so far goes to the target.
    tap = subprocess.Popen(
        [BIN / "tap-clever", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert tap.stdout is not None
    lines: list[bytes] = []
    while len([line for line in lines if b'"RECORD"' in line]) < 40:
        line = tap.stdout.readline()
        assert line, "tap-clever ended before the test could kill it"
        lines.append(line)
    tap.send_signal(signal.SIGKILL)
    tap.wait()
    singer = tmp_path / "killed.singer"
    singer.write_bytes(b"".join(lines))
    messages = [json.loads(line) for line in lines]
    cut = {m["stream"] for m in messages if m["type"] == "RECORD"} - {
        m["stream"] for m in messages if m["type"] == "ACTIVATE_VERSION"
    }
    assert cut, "the tap was killed after every stream it started had closed"

    night = target_bloomz(
        {"database": str(database), "full_data": True, "archive": True, "scheduled": True}, singer, tmp_path
    )

    # Cut short (issue 20): not applied at all, and said so.
    assert night.returncode == 1, night.stderr[-3000:]
    run_id, status, _ = last_run(database)
    assert status == "failed"
    assert not plan_actions(database, run_id)
    assert export(database) == before_store
    assert {k: v for k, v in mirror(database).items() if k != "src_streams"} == {
        k: v for k, v in before_mirror.items() if k != "src_streams"
    }
