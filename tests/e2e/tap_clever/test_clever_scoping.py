"""School scoping: with `schools` set, only what belongs to those schools is emitted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox

SCHOOL = "5a25ff950a5f621109000004"


@pytest.fixture(scope="module")
def scoped_run(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    config = {
        "district_token": demo_sandbox.token,
        "api_url": demo_sandbox.clever_api_url,
        "schools": [SCHOOL],
    }
    run = tap_run(tmp_path_factory.mktemp("scoped"), config)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def dump(demo_district_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [item["data"] for item in json.loads((demo_district_dir / f"{name}.json").read_text())["data"]]
        for name in ("users", "sections")
    }


def _ids(records: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in records}


def test_only_the_school_and_its_sections(scoped_run: Any, dump: dict[str, list[dict[str, Any]]]) -> None:
    assert _ids(scoped_run.records("schools")) == {SCHOOL}
    expected_sections = {s["id"] for s in dump["sections"] if s["school"] == SCHOOL}
    assert len(expected_sections) == 165
    assert _ids(scoped_run.records("sections")) == expected_sections
    assert {r["section_id"] for r in scoped_run.records("enrollments")} == expected_sections
    section_terms = {s["term_id"] for s in dump["sections"] if s["school"] == SCHOOL}
    assert _ids(scoped_run.records("terms")) == section_terms


def test_students_contacts_and_staff_of_the_school(
    scoped_run: Any, dump: dict[str, list[dict[str, Any]]]
) -> None:
    sections = [s for s in dump["sections"] if s["school"] == SCHOOL]
    users = dump["users"]
    expected_students = {
        u["id"] for u in users if "student" in u["roles"] and SCHOOL in u["roles"]["student"]["schools"]
    } | {student for s in sections for student in s["students"]}
    assert _ids(scoped_run.records("students")) == expected_students
    assert len(expected_students) < 1004

    expected_contacts = {
        u["id"]
        for u in users
        if "contact" in u["roles"]
        and any(
            link["student"] in expected_students for link in u["roles"]["contact"]["student_relationships"]
        )
    }
    assert _ids(scoped_run.records("contacts")) == expected_contacts
    links = scoped_run.records("student_contacts")
    assert {r["student_id"] for r in links} <= expected_students
    assert {r["contact_id"] for r in links} == expected_contacts

    expected_staff = {
        u["id"] for u in users if "teacher" in u["roles"] and SCHOOL in u["roles"]["teacher"]["schools"]
    } | {teacher for s in sections for teacher in s["teachers"]}
    assert _ids(scoped_run.records("staff")) == expected_staff
    assert all("district_admin" not in r["roles"] for r in scoped_run.records("staff"))


def test_scoped_streams_are_still_closed_as_complete(scoped_run: Any) -> None:
    for stream in ("schools", "sections", "students", "contacts", "staff"):
        assert scoped_run.of_stream(stream)[-1]["type"] == "ACTIVATE_VERSION"
