"""Rosters as OneRoster districts send them: departments, district-level people, no staff, classes with no
teacher, staff enrolled as students, staff who are guardians, classes being deleted. Each lands or is named
in the run's issues; nobody vanishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.district import import_in_process, query, seats, singer_lines, unaccounted

Records = dict[str, list[dict[str, Any]]]


def roster() -> Records:
    """North High (sch1) with a Science department (dep1) in district dist1; nothing else."""
    return {
        "schools": [
            {"id": "sch1", "name": "North High", "district_id": "dist1", "org_type": "school"},
            {"id": "dep1", "name": "Science", "org_type": "department", "parent_id": "sch1"},
        ],
        "terms": [],
        "sections": [
            {"id": "c-hist", "school_id": "sch1", "name": "History 9", "primary_teacher_id": None},
            {"id": "c-chem", "school_id": "dep1", "name": "Chemistry", "primary_teacher_id": "t-dep"},
        ],
        "students": [
            {"id": "s-1", "school_ids": ["sch1"], "sis_id": "1", "first_name": "Ava", "last_name": "Li"},
            {"id": "s-2", "school_ids": ["dep1"], "sis_id": "2", "first_name": "Ben", "last_name": "Li"},
        ],
        "staff": [{"id": "t-dep", "school_ids": ["dep1"], "roles": ["teacher"], "last_name": "Cho"}],
        "contacts": [],
        "student_contacts": [],
        "enrollments": [
            {"section_id": "c-hist", "user_id": "s-1", "role": "student"},
            {"section_id": "c-chem", "user_id": "s-2", "role": "student"},
            {"section_id": "c-chem", "user_id": "t-dep", "role": "teacher", "primary": True},
        ],
    }


def people(records: Records) -> dict[str, set[str]]:
    """The active students, staff and contacts of the records, by stream."""
    return {
        stream: {r["id"] for r in records[stream] if not r.get("_sdc_deleted_at")}
        for stream in ("students", "staff", "contacts")
    }


def issues(database: Path, severity: str = "warning") -> dict[str, str]:
    """record key → message of the run's issues about the roster (not the status e-mails' delivery)."""
    rows = query(
        database,
        "SELECT record_key, message FROM run_issues WHERE severity = ? AND stream <> 'notify_to' ORDER BY 1",
        [severity],
    )
    return dict(rows)


def members(database: Path) -> set[tuple[str, str, str]]:
    """(community key, person kind, source id) of every community member."""
    return set(
        query(
            database,
            """SELECT c.key, ps.kind, ps.source_id FROM community_members m
               JOIN communities c ON c.id = m.community_id
               JOIN person_sources ps ON ps.person_id = m.person_id""",
        )
    )


@pytest.fixture
def run(database: Path, tmp_path: Path):
    def run(records: Records, mapping: str | None = None) -> None:
        config: dict[str, Any] = {"database": str(database), "source": "oneroster"}
        if mapping:
            path = tmp_path / "district.yml"
            path.write_text("extends: oneroster\n" + mapping)
            config["mapping"] = str(path)
        import_in_process(config, singer_lines(records, source="oneroster"))  # a OneRoster pull

    return run


def test_a_roster_without_staff_and_a_class_without_teacher_imports(run, database: Path) -> None:
    records = roster()
    records["staff"] = []
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "t-dep"]
    records["sections"][1]["primary_teacher_id"] = None

    run(records)

    assert query(database, "SELECT status FROM runs") == [("applied",)]
    assert query(database, "SELECT section_id FROM classes ORDER BY 1") == [("c-chem",), ("c-hist",)]
    assert seats(database) == {("c-hist", "s-1", "student"), ("c-chem", "s-2", "student")}
    assert unaccounted(database, people(records)) == {}


def test_a_departments_people_and_classes_join_the_school_above_it(run, database: Path) -> None:
    records = roster()

    run(records)

    assert query(database, "SELECT key, name FROM communities") == [("oneroster:sch1", "North High")]
    assert members(database) == {
        ("oneroster:sch1", "student", "s-1"),
        ("oneroster:sch1", "student", "s-2"),
        ("oneroster:sch1", "staff", "t-dep"),
    }
    assert ("c-chem", "t-dep", "teacher") in seats(database)
    assert issues(database) == {}
    assert unaccounted(database, people(records)) == {}


def test_a_department_becomes_a_community_of_its_own_when_the_mapping_says_so(run, database: Path) -> None:
    run(roster(), "communities:\n  departments: community\n")

    assert query(database, "SELECT key, name FROM communities ORDER BY 1") == [
        ("oneroster:dep1", "Science"),
        ("oneroster:sch1", "North High"),
    ]
    assert ("oneroster:dep1", "student", "s-2") in members(database)
    assert query(
        database,
        "SELECT c.key FROM classes cl JOIN communities c ON c.id = cl.community_id "
        "WHERE cl.section_id = 'c-chem'",
    ) == [("oneroster:dep1",)]


def test_a_department_under_no_school_is_named_with_its_people_and_classes(run, database: Path) -> None:
    records = roster()
    records["schools"][1]["parent_id"] = "org-gone"  # the department's school is not in the source

    run(records)

    found = issues(database)
    assert found["dep1"].startswith("department Science (dep1) is under no school (its parent org org-gone")
    assert found["s-2"] == "student not imported: " + found["dep1"]
    assert found["t-dep"] == "staff member not imported: " + found["dep1"]
    assert ("s-2", "t-dep") not in {(p,) for p in query(database, "SELECT source_id FROM person_sources")}
    assert unaccounted(database, people(records)) == {}


def test_district_level_people_join_the_communities_of_their_classes(run, database: Path) -> None:
    records = roster()
    records["staff"] += [
        {"id": "t-dist", "school_ids": ["dist1"], "roles": ["teacher"], "last_name": "Roe"},
        {"id": "a-dist", "school_ids": ["dist1"], "roles": ["district_admin"], "last_name": "Boss"},
    ]
    records["enrollments"].append({"section_id": "c-hist", "user_id": "t-dist", "role": "teacher"})

    run(records)

    assert ("oneroster:sch1", "staff", "t-dist") in members(database)
    assert ("c-hist", "t-dist", "teacher") in seats(database)
    assert issues(database)["a-dist"] == (
        "staff member not imported: attached to dist1, which is no school or department of the source "
        "(a district, say), and enrolled in no class of an imported school"
    )
    assert unaccounted(database, people(records)) == {}


def test_a_teacher_enrolled_as_a_student_is_imported_but_not_seated_and_a_warning_says_why(
    run, database: Path
) -> None:
    records = roster()
    records["enrollments"].append({"section_id": "c-hist", "user_id": "t-dep", "role": "student"})

    run(records)

    assert not {s for s in seats(database) if s[:2] == ("c-hist", "t-dep")}
    assert issues(database)["c-hist/t-dep"] == (
        "enrollment not imported: staff member t-dep is enrolled as a student, and a class seats staff "
        "only as teachers or aides"
    )
    assert ("c-chem", "t-dep", "teacher") in seats(database)


def test_a_staff_member_who_is_a_guardian_is_both_staff_and_the_students_parent(run, database: Path) -> None:
    records = roster()
    records["contacts"] = [{"id": "t-dep", "last_name": "Cho"}]
    records["student_contacts"] = [
        {"student_id": "s-1", "contact_id": "t-dep", "relationship": "guardian"},
        {"student_id": "s-2", "contact_id": "t-dep", "relationship": "guardian"},
    ]

    run(records)

    assert query(database, "SELECT kind FROM person_sources WHERE source_id = 't-dep' ORDER BY 1") == [
        ("parent",),
        ("staff",),
    ]
    assert query(
        database,
        """SELECT s.source_id FROM student_contacts l
           JOIN person_sources s ON s.person_id = l.student_id
           JOIN person_sources c ON c.person_id = l.contact_id
           WHERE c.source_id = 't-dep' AND c.kind = 'parent' ORDER BY 1""",
    ) == [("s-1",), ("s-2",)]
    assert ("c-hist", "t-dep", "parent") in seats(database)  # the parent of Ava, in Ava's class
    assert unaccounted(database, people(records)) == {}


def test_active_enrollments_in_a_class_being_deleted_say_so(run, database: Path) -> None:
    records = roster()
    records["sections"][0]["_sdc_deleted_at"] = "2026-09-01T00:00:00Z"

    run(records)

    assert issues(database, "error") == {
        "c-hist/s-1": "section_id: class c-hist is being deleted in the source (status tobedeleted): "
        "the enrollment is not imported"
    }
    assert ("oneroster:sch1", "student", "s-1") in members(database)
    assert unaccounted(database, people(records)) == {}


def test_a_relative_left_out_by_the_contact_filter_is_named_in_one_line(run, database: Path) -> None:
    records = roster()
    records["contacts"] = [{"id": "p-1", "last_name": "Li"}, {"id": "p-2", "last_name": "Li"}]
    records["student_contacts"] = [
        {"student_id": "s-1", "contact_id": "p-1", "relationship": "relative"},
        {"student_id": "s-2", "contact_id": "p-2", "relationship": "relative"},
    ]

    run(records)

    assert query(database, "SELECT message FROM run_issues WHERE stream = 'contacts'") == [
        ("contacts.include leaves out relationship relative: 2 contact(s) not imported",)
    ]
    assert unaccounted(database, people(records)) == {"contacts": {"p-1", "p-2"}}
