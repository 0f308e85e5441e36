"""A full sync of Clever's real demo district: exact counts, spot-checked records, complete streams."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from roster_streams import contract

SCHOOL_WITH_165_SECTIONS = "5a25ff950a5f621109000004"


def test_exact_counts(demo_full_run: Any) -> None:
    assert len(demo_full_run.records("students")) == 1004
    assert len(demo_full_run.records("contacts")) == 1002
    assert len(demo_full_run.records("sections")) == 378
    roles = Counter(role for staff in demo_full_run.records("staff") for role in staff["roles"])
    assert roles == {"teacher": 89, "district_admin": 3}
    assert len(demo_full_run.records("staff")) == 92


def test_every_stream_is_emitted_with_the_contract_schema_and_keys(demo_full_run: Any) -> None:
    schemas = {m["stream"]: m for m in demo_full_run.messages if m["type"] == "SCHEMA"}
    assert set(schemas) == {*contract.STREAMS, contract.PULL}  # the roster streams, framed by the pull
    assert schemas[contract.PULL]["schema"] == contract.load_schema(contract.PULL)
    for stream in contract.STREAMS:
        assert schemas[stream]["key_properties"] == contract.key_properties(stream)
        validator = contract.validator(stream)
        keys = contract.key_properties(stream)
        records = demo_full_run.records(stream)
        assert records, stream
        for record in records:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (stream, errors)
        assert len({tuple(r[k] for k in keys) for r in records}) == len(records), stream


def test_each_stream_is_closed_with_activate_version_after_its_last_record(demo_full_run: Any) -> None:
    for stream in contract.STREAMS:
        messages = demo_full_run.of_stream(stream)
        last = messages[-1]
        assert last["type"] == "ACTIVATE_VERSION", stream
        assert [m["type"] for m in messages].count("ACTIVATE_VERSION") == 1, stream
        assert {m["version"] for m in messages if m["type"] == "RECORD"} == {last["version"]}


def test_student_record(demo_full_run: Any) -> None:
    steve = next(r for r in demo_full_run.records("students") if r["id"] == "5a25ffb0c1bc2a00360003ed")
    assert steve["first_name"] == "Steve"
    assert steve["middle_name"] == "G"
    assert steve["last_name"] == "Ziemann"
    assert steve["sis_id"] == "100095233"
    assert steve["student_number"] == "100095233"
    assert steve["state_id"] == "231786324"
    assert steve["grade"] == "Kindergarten"
    assert steve["school_ids"] == ["5a25ff950a5f621109000005"]
    assert steve["primary_school_id"] == "5a25ff950a5f621109000005"
    assert steve["email"] == "z.steve@example.net"
    # What the standard does not name stays reachable for mapping templates.
    assert steve["extra"]["dob"] == "2/11/2007"
    assert steve["extra"]["credentials"] == {"district_username": "stevez33"}


def test_contact_keeps_its_whole_name_in_last_name(demo_full_run: Any) -> None:
    aaron = next(r for r in demo_full_run.records("contacts") if r["id"] == "603ebb2bb452fb006c7639cd")
    assert aaron["first_name"] is None
    assert aaron["last_name"] == "Aaron Berge"
    assert aaron["email"] == "aaron.berge@example.com"
    assert aaron["phone_type"] == "Other"
    assert aaron["sis_id"] is None  # Clever's "" means the district did not fill it
    links = [r for r in demo_full_run.records("student_contacts") if r["contact_id"] == aaron["id"]]
    assert links == [
        {
            "student_id": "5a25ffb2c1bc2a00360007bf",
            "contact_id": "603ebb2bb452fb006c7639cd",
            "relationship": "Other",
            "type": "Other",
            "updated_at": None,
            "extra": {},
        }
    ]


def test_section_and_its_enrollments(demo_full_run: Any) -> None:
    section = next(r for r in demo_full_run.records("sections") if r["id"] == "5a25ffc265e950634b00017c")
    assert section["name"] == "Group Guidance - Greene - 0"
    assert section["school_id"] == SCHOOL_WITH_165_SECTIONS
    assert section["subject"] == "homeroom/advisory"
    assert section["section_type"] == "homeroom"
    assert section["grades"] == ["Kindergarten"]
    assert section["period"] == "0"
    assert section["sis_id"] == "581"
    assert section["term_ids"] == ["603ebb2ab452fb006c763964"]
    assert section["primary_teacher_id"] == "603ebb2ab452fb006c763989"
    assert section["course_name"] == "Group Guidance"
    members = [r for r in demo_full_run.records("enrollments") if r["section_id"] == section["id"]]
    teachers = {r["user_id"]: r["primary"] for r in members if r["role"] == "teacher"}
    assert teachers == {
        "603ebb2ab452fb006c763989": True,
        "603ebb2ab452fb006c76398a": False,
        "603ebb2ab452fb006c76398b": False,
        "603ebb2ab452fb006c76398c": False,
    }
    assert sum(1 for r in members if r["role"] == "student") == 16


def test_enrollments_cover_every_section_member(demo_full_run: Any, demo_district_dir: Path) -> None:
    dump = json.loads((demo_district_dir / "sections.json").read_text())["data"]
    expected = {(s["data"]["id"], u) for s in dump for u in s["data"]["students"] + s["data"]["teachers"]}
    got = {(r["section_id"], r["user_id"]) for r in demo_full_run.records("enrollments")}
    assert got == expected


def test_district_admin_is_staff(demo_full_run: Any) -> None:
    vicky = next(r for r in demo_full_run.records("staff") if r["id"] == "603ebb2ab452fb006c7639ca")
    assert vicky["roles"] == ["district_admin"]
    assert vicky["school_ids"] == []
    assert vicky["email"] == "vicky.enalen@clever.com"


def test_small_pages_follow_the_next_links_to_the_same_records(
    demo_full_run: Any, demo_sandbox: Any, tap_run: Any, tmp_path: Path
) -> None:
    config = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    run = tap_run(tmp_path, config | {"page_size": 97})
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in contract.STREAMS:
        assert run.records(stream) == demo_full_run.records(stream), stream


def test_a_page_size_over_clevers_limit_is_refused(demo_sandbox: Any, tap_run: Any, tmp_path: Path) -> None:
    config = {
        "district_token": demo_sandbox.token,
        "api_url": demo_sandbox.clever_api_url,
        "page_size": 20000,
    }
    run = tap_run(tmp_path, config)
    assert run.returncode != 0
    assert "page_size" in run.stderr
    assert not run.messages


def test_logs_carry_ids_but_no_personal_data(demo_full_run: Any, demo_sandbox: Any) -> None:
    for personal in ("@example", "Ziemann", "Aaron Berge", "2/11/2007", demo_sandbox.token):
        assert personal not in demo_full_run.stderr
