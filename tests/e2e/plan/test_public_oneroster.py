"""OneRoster data other projects publish as their test data, through the real tap-oneroster into
target-bloomz: what lands, what is named in the run's issues, and that nobody vanishes.

The fixtures are under tests/data/oneroster/ (each with a SOURCE.md: repository, path, commit, licence).
Every expected number below was counted by hand from the raw files, as each comment says; the people a
test expects to be accounted for are read from the raw files here, by the csv and json modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.district import query, seats, unaccounted
from tests.support.public_oneroster import (
    DATA,
    import_bundle,
    import_messages,
    people_of_bundle,
    pull_rest,
)


def counts(database: Path) -> dict[str, Any]:
    return {
        "communities": query(database, "SELECT key, name FROM communities ORDER BY 1"),
        "classes": query(database, "SELECT section_id, name FROM classes ORDER BY 1"),
        "people": dict(query(database, "SELECT kind, count(*) FROM people GROUP BY ALL")),
        "student_contacts": query(database, "SELECT count(*) FROM student_contacts")[0][0],
    }


def issues(database: Path) -> list[tuple[str, str, str | None, str]]:
    return query(database, "SELECT severity, stream, record_key, message FROM run_issues ORDER BY ALL")


# -- Moodle's enrol_oneroster: a OneRoster 1.2 bulk bundle with the shapes of the issue


MOODLE_12 = "moodle-v1p2-bulk"


def test_moodle_12_bundle_with_its_department_as_a_community(database: Path, tmp_path: Path) -> None:
    log = import_bundle(MOODLE_12, database, tmp_path, "communities:\n  departments: community\n")

    # orgs.csv: one org, "History Department", of type department (its parent is not in the bundle).
    # classes.csv: cls-222-123456 "Introduction to Physics" (classType "Scheduled") and cls-222-123478
    # (tobedeleted). roles.csv: 3 students, 3 staff (usr-222-123456 is also a guardian), so 1 contact;
    # 2 students list usr-222-123456 as their agent.
    assert counts(database) == {
        "communities": [("oneroster:org-sch-222-456", "History Department")],
        "classes": [("cls-222-123456", "Introduction to Physics")],
        "people": {"student": 3, "staff": 3, "parent": 1},
        "student_contacts": 2,
    }
    assert query(
        database, "SELECT kind FROM person_sources WHERE source_id = 'usr-222-123456' ORDER BY 1"
    ) == [
        ("parent",),
        ("staff",),
    ]
    # enrollments.csv: usr-222-123456 teaches cls-222-123456; usr-222-987654, a teacher, is enrolled there
    # as a student: not seated, and a warning says so; usr-222-1234561232 is the one student seated, with
    # its parent usr-222-123456.
    assert seats(database) == {
        ("cls-222-123456", "usr-222-123456", "teacher"),
        ("cls-222-123456", "usr-222-1234561232", "student"),
        ("cls-222-123456", "usr-222-123456", "parent"),
    }
    assert query(database, "SELECT section_type FROM src_sections WHERE id = 'cls-222-123456'") == [
        ("scheduled",)
    ]
    found = issues(database)
    # The 3 active enrollments of the class being deleted are named as such.
    assert [i[2] for i in found if i[3].startswith("section_id: class cls-222-123478 is being deleted")] == [
        "cls-222-123478/usr-222-123456",
        "cls-222-123478/usr-222-1234561232",
        "cls-222-123478/usr-222-987654",
    ]
    assert (
        "warning",
        "enrollments",
        "cls-222-123456/usr-222-987654",
        "enrollment not imported: staff member usr-222-987654 is enrolled as a student, and a class seats "
        "staff only as teachers or aides",
    ) in found
    # users.csv writes dates day first (1/05/2023 and 15/06/2023): read as such, none unreadable.
    assert query(database, "SELECT id, updated_at FROM src_students ORDER BY 1") == [
        ("usr-222-1234561232", "2023-05-01T00:00:00Z"),
        ("usr-222-567891", "2023-06-15T00:00:00Z"),
        ("usr-222-66778899", None),
    ]
    assert "warning:" not in log
    assert "malformed row skipped" not in log
    assert unaccounted(database, people_of_bundle(DATA / MOODLE_12)) == {}


def test_moodle_12_bundle_by_default_names_everyone_its_department_cannot_place(
    database: Path, tmp_path: Path
) -> None:
    import_bundle(MOODLE_12, database, tmp_path)

    # The department's parent org-sch-222-3456 is not in orgs.csv: no school to join, nothing imported,
    # and every person is named with the reason.
    assert counts(database)["people"] == {}
    found = {key: message for _, _, key, message in issues(database)}
    department = found["org-sch-222-456"]
    assert department.startswith("department History Department (org-sch-222-456) is under no school")
    for person in ("usr-222-66778899", "usr-222-1234561232", "usr-222-567891"):
        assert found[person] == "student not imported: " + department
    assert found["usr-222-987654"] == "staff member not imported: " + department
    assert unaccounted(database, people_of_bundle(DATA / MOODLE_12)) == {}


def test_moodle_11_bundle(database: Path, tmp_path: Path) -> None:
    import_bundle("moodle-v1p1-bulk", database, tmp_path, "communities:\n  departments: community\n")

    # users.csv (1.1 role column): 3 students, 2 teachers, 1 parent (usr-222-1234561, agent of
    # usr-222-66778899); usr-222-567891 lists a teacher as agent, which is no contact.
    assert counts(database) == {
        "communities": [("oneroster:org-sch-222-456", "History Department")],
        "classes": [("cls-222-123456", "Introduction to Physics")],
        "people": {"student": 3, "staff": 2, "parent": 1},
        "student_contacts": 1,
    }
    assert unaccounted(database, people_of_bundle(DATA / "moodle-v1p1-bulk")) == {}


def test_moodle_12_delta_with_roles_user_profiles_and_demographics(database: Path, tmp_path: Path) -> None:
    log = import_bundle("moodle-v1p2-delta", database, tmp_path, demographics=["birthDate"])

    # One school (ORG_1), one class (CLASS_001), one student (USER_0, a student by roles.csv) enrolled in it.
    assert counts(database) == {
        "communities": [("oneroster:ORG_1", "Gotham High School")],
        "classes": [("CLASS_001", "Basic Detection")],
        "people": {"student": 1},
        "student_contacts": 0,
    }
    assert seats(database) == {("CLASS_001", "USER_0", "student")}
    [(extra,)] = query(database, "SELECT extra FROM src_students")
    extra = json.loads(extra)
    assert extra["demographics"] == {"birthDate": "2010-04-17"}  # demographics.csv, asked for by the tap
    assert [p["vendorId"] for p in extra["userProfiles"]] == ["WEI18954"]  # userProfiles.csv
    assert "Batman.Ru1ez" not in log + json.dumps(extra)  # users.csv's password is never read
    # A delta: no stream is closed, so nothing could be removed.
    assert query(database, "SELECT complete_streams FROM runs") == [([],)]
    assert unaccounted(database, people_of_bundle(DATA / "moodle-v1p2-delta")) == {}


# -- OAT's oneroster-import: OneRoster 1.1 base CSV with vendor columns, no staff, classes without teachers


def test_oat_11_bundle_without_staff_or_teachers(database: Path, tmp_path: Path) -> None:
    import_bundle("oat-v1p1-base", database, tmp_path)

    # orgs.csv: schools 12345 and 54321; classes.csv: class1 and class2 of 12345, class3 of 54321, none with
    # a teacher; users.csv: 2 students, nobody else; enrollments.csv: each student in their classes.
    assert counts(database) == {
        "communities": [("oneroster:12345", "School 1"), ("oneroster:54321", "School 2")],
        "classes": [("class1", "Class 1 title"), ("class2", "Class 2 title"), ("class3", "Class 3 title")],
        "people": {"student": 2},
        "student_contacts": 0,
    }
    assert seats(database) == {
        ("class1", "user1", "student"),
        ("class2", "user1", "student"),
        ("class3", "user2", "student"),
    }
    # The vendor columns reach extra (for mapping templates).
    [(extra,)] = query(database, "SELECT extra FROM src_students WHERE id = 'user1'")
    assert json.loads(extra)["ext_tao_userMotherName"] == "metadata.value1"
    assert [i for i in issues(database) if i[0] == "error"] == []
    assert unaccounted(database, people_of_bundle(DATA / "oat-v1p1-base")) == {}


# -- TCI's one_roster gem: mocked ClassLink responses, users without a role field


def test_tci_11_rest_responses_name_what_cannot_be_imported(database: Path, tmp_path: Path) -> None:
    # A user without a sourcedId is a row the tap cannot read: the pull is not complete, so it is applied
    # only when the district allows it (its adds and updates, no removal).
    pulled = pull_rest("tci-v1p1-rest", tmp_path)
    with pytest.raises(SystemExit) as failed:
        import_messages(pulled.stdout, database, tmp_path, "")
    assert failed.value.code == 1
    with pytest.raises(SystemExit) as incomplete:
        import_messages(pulled.stdout, database, tmp_path, "", apply_incomplete_pulls=True)
    assert incomplete.value.code == 4  # an incomplete pull applied (3 is a held run)
    assert query(database, "SELECT id, status, pull_complete FROM runs ORDER BY id") == [
        (1, "failed", False),
        (2, "applied", False),
    ]
    log = pulled.stderr

    # students.json and teachers.json (answers of /students and /teachers) give no user a role, and one
    # student no sourcedId; student_2 and teacher_2 are tobedeleted. The run's issues name each active
    # user by sourcedId, with the reason (and how many there are), and the row without one by where it is.
    roleless = ["student_1", "student_3", "teacher_1", "teacher_3"]
    found = issues(database)
    each = [("warning", "users", user, "user not imported: no role (GET /users)") for user in roleless]
    count = "4 users not imported: no role (each is named by id in this run's issues)"
    assert [i for i in found if i[1] == "users"] == [*each, ("warning", "users", None, count)]
    assert (
        "error",
        "students",
        None,
        "GET /users: malformed row skipped: the row has no sourcedId; its record was kept as it was",
    ) in found
    for user in roleless:
        assert f"GET /users (sourcedId {user}): not imported: no role" in log
    assert "4 users not imported: they have no role tap-oneroster imports (student, teacher" in log
    for personal in ("average", "meh@school.com", "avgteacher@gmail.com", "bestkid1"):  # ids only
        assert personal not in log + json.dumps(found)
    assert counts(database)["people"] == {}
    assert {(i[1], i[2], i[3]) for i in issues(database) if i[1] == "sections"} >= {
        ("sections", f"class_{n}", "missing school_id") for n in (1, 3, 4)
    }


@pytest.mark.parametrize(
    "name",
    [
        "moodle-v1p1-bulk",
        "moodle-v1p2-bulk",
        "moodle-v1p2-delta",
        "oat-v1p1-base",
        "tci-v1p1-rest",
    ],
)
def test_each_fixture_has_its_source_and_licence(name: str) -> None:
    source = (DATA / name / "SOURCE.md").read_text()
    for field in ("Repository:", "Path:", "Commit:", "Licence:"):
        assert field in source, (name, field)
