"""Bad records, bad mapping files, the dry run, and STATE held until the store committed."""

from __future__ import annotations

import json

import duckdb
from roster_sandbox.testing import free_port

from tests.support.district import DISTRICT_TABLES, district, pull_messages, query, run_target, singer_lines


def test_bad_records_are_set_aside_with_their_reason_and_the_rest_lands(database, tmp_path):
    records = district()
    records["sections"].append({"school_id": "sch1", "name": "No id"})
    records["students"].append({"id": "stu9", "school_ids": "sch1", "first_name": 7})
    records["staff"].append({"id": "tea9", "roles": ["wizard"], "updated_at": "yesterday"})
    records["enrollments"].append({"section_id": "sec404", "user_id": "stu1", "role": "student"})
    records["student_contacts"].append(
        {"student_id": "stu1", "contact_id": "con404", "type": "Parent/Guardian"}
    )

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.states, "a run with bad records still completes and emits its STATE"
    assert query(
        database, "SELECT stream, record_key, message FROM run_issues WHERE severity = 'error' ORDER BY 1, 2"
    ) == [
        ("enrollments", "sec404/stu1", "section_id: unknown section sec404"),
        ("sections", "?", "missing id"),
        (
            "staff",
            "tea9",
            "roles: a value is not one of teacher, staff, school_admin, district_admin, aide; "
            "updated_at: not a valid date-time",
        ),
        ("student_contacts", "stu1/con404", "contact_id: unknown contact con404"),
        (
            "students",
            "stu9",
            "school_ids: expected array, got varchar; first_name: expected string or null, got ubigint",
        ),
    ]
    assert query(database, "SELECT count(*) FROM people WHERE kind = 'student'") == [(3,)]
    assert query(database, "SELECT count(*) FROM classes") == [(2,)]


def test_a_broken_mapping_file_fails_before_any_data_moves(database, tmp_path, mapping_file):
    mapping = mapping_file("""
        students:
          id_field: ssn
    """)

    result = run_target(
        {"database": str(database), "mapping": str(mapping)}, singer_lines(district()), tmp_path
    )

    assert result.returncode != 0
    assert f"{mapping}:3: students.id_field:" in result.stderr
    assert "sis_id" in result.stderr
    assert "student_number" in result.stderr
    assert not database.exists()
    assert result.states == []


def test_archive_without_full_data_is_refused(database, tmp_path):
    result = run_target({"database": str(database), "archive": True}, singer_lines(district()), tmp_path)

    assert result.returncode != 0
    assert "Archive is only valid together with Full Data" in result.stderr
    assert not database.exists()


def test_dry_run_saves_run_and_plan_and_writes_nothing_else(database, tmp_path):
    result = run_target({"database": str(database), "dry_run": True}, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr
    for table in ("outbox", *DISTRICT_TABLES, "journal"):
        assert query(database, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert query(database, "SELECT id, status, dry_run FROM runs") == [(1, "dry_run", True)]
    assert query(database, "SELECT entity, action, count(*) FROM plan_rows GROUP BY ALL ORDER BY ALL") == [
        ("class", "create", 2),
        ("class", "skip", 1),
        ("class_member", "create", 6),
        ("community", "create", 2),
        ("community_member", "create", 9),
        ("person", "create", 7),
        ("student_contact", "create", 2),
    ]
    # The summary table and both contact fields' values with counts, marking what the mapping imports.
    assert "class                       2          0" in result.stderr
    assert "  type          Parent/Guardian                 2  imported" in result.stderr
    assert "  type          Emergency                       1  \n" in result.stderr
    assert "  relationship  Grandparent                     1  \n" in result.stderr
    # A dry run does not advance Meltano's bookmark.
    assert result.states == []


def test_state_is_held_until_the_apply_committed(database, tmp_path):
    messages = singer_lines(district(), state={"bookmarks": {"sections": "2026-11-22"}})
    # Another process holds the store: the target reads everything but cannot commit.
    database.parent.mkdir(parents=True)
    holder = duckdb.connect(str(database))
    try:
        blocked = run_target({"database": str(database)}, messages, tmp_path)
    finally:
        holder.close()
    assert blocked.returncode != 0
    assert blocked.states == []

    applied = run_target({"database": str(database), "batch_size_rows": 2}, messages, tmp_path)

    assert applied.returncode == 0, applied.stderr
    assert applied.states == [{"bookmarks": {"sections": "2026-11-22"}}]
    # the blocked run is recorded as refused as soon as the store could be written (issue 20)
    assert query(database, "SELECT status, singer_state FROM runs ORDER BY id") == [
        ("refused", None),
        ("applied", json.dumps({"bookmarks": {"sections": "2026-11-22"}})),
    ]


def test_the_run_records_which_streams_were_pulled_complete(database, tmp_path):
    records = district()
    # One pull: every stream whole but enrollments, sent as a delta (no version, no ACTIVATE_VERSION).
    complete = singer_lines({k: v for k, v in records.items() if k != "enrollments"}, pull="started")
    partial = singer_lines({"enrollments": records["enrollments"]}, activate=False, pull=None)
    streams = {
        stream: {"records": len(rows), "complete": stream != "enrollments"}
        for stream, rows in records.items()
    }
    finished = pull_messages("finished", streams=streams, unreadable=[], failed={}, not_provided=[])

    result = run_target(
        {"database": str(database)}, complete + partial + json.dumps(finished[0]) + "\n", tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT complete_streams FROM runs") == [
        (["contacts", "schools", "sections", "staff", "student_contacts", "students", "terms"],)
    ]


def test_streams_outside_the_contract_are_reported_not_dropped(database, tmp_path):
    messages = (
        singer_lines(district())
        + json.dumps(
            {
                "type": "SCHEMA",
                "stream": "courses",
                "schema": {"properties": {"id": {"type": "string"}}},
                "key_properties": ["id"],
            }
        )
        + "\n"
        + json.dumps({"type": "RECORD", "stream": "courses", "record": {"id": "c1"}})
        + "\n"
    )

    result = run_target({"database": str(database)}, messages, tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT severity, stream, message FROM run_issues WHERE stream = 'courses'") == [
        ("warning", "courses", "not a standard roster stream: 1 records not imported")
    ]


def test_a_dry_run_queues_and_delivers_no_message(database, tmp_path):
    # Ann (School Support Staff, with an e-mail) is a "Notify to" admin once an import put her in the store;
    # the relay is down for that import, so its status e-mail waits in the outbox.
    notify = {"database": str(database), "notify_to": ["School Support Staff"]}
    outbox = tmp_path / "outbox"
    down = {"smtp_host": "127.0.0.1", "smtp_port": free_port()}
    assert run_target({**notify, **down}, singer_lines(district()), tmp_path).returncode == 0
    assert query(database, "SELECT run_id, kind, status FROM outbox") == [(1, "import_status", "pending")]

    dry = run_target(
        {**notify, "dry_run": True, "outbox_dir": str(outbox)}, singer_lines(district()), tmp_path
    )

    assert dry.returncode == 0, dry.stderr
    assert query(database, "SELECT id, status FROM runs ORDER BY id") == [(1, "applied"), (2, "dry_run")]
    # No status e-mail of the dry run, and the earlier run's pending one is not delivered by it either.
    assert query(database, "SELECT run_id, status FROM outbox") == [(1, "pending")]
    assert not list(tmp_path.rglob("*.eml"))
    assert "Outbox:" not in dry.stderr
