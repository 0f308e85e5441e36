"""OneRoster 1.1 and 1.2 objects map to valid standard records (records.py, over REST-shaped objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tap_oneroster.records import Roster

from roster_streams import contract
from tests.support.oneroster_tap import pull_objects

NOW = "2026-11-23T00:00:00Z"


def ref(sourced_id: str, kind: str = "org") -> dict[str, str]:
    return {"href": f"https://sis.example/{kind}s/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def assert_valid(stream: str, record: dict[str, Any]) -> None:
    errors = [e.message for e in contract.validator(stream).iter_errors(record)]
    assert errors == [], f"{stream} record invalid: {errors}"


STUDENT_11 = {
    "sourcedId": "stu-1",
    "status": "active",
    "dateLastModified": "2026-09-01T12:00:00.000Z",
    "enabledUser": "true",
    "orgs": [ref("sch-1"), ref("dist-1")],
    "role": "student",
    "username": "ava.s",
    "userIds": [{"type": "StateID", "identifier": "ST-99"}],
    "givenName": "Ava",
    "familyName": "Stone",
    "middleName": "Q",
    "identifier": "10001",
    "email": "ava@example.net",
    "sms": "",
    "phone": "",
    "agents": [ref("par-1", "user")],
    "grades": ["05"],
}

STUDENT_12 = {
    "sourcedId": "stu-1",
    "status": "active",
    "dateLastModified": "2026-09-01T12:00:00Z",
    "enabledUser": "true",
    "roles": [{"roleType": "primary", "role": "student", "org": ref("sch-1")}],
    "primaryOrg": ref("sch-1"),
    "userIds": [{"type": "StateID", "identifier": "ST-99"}],
    "givenName": "Ava",
    "familyName": "Stone",
    "preferredFirstName": "Avie",
    "identifier": "10001",
    "email": "ava@example.net",
    "agents": [ref("par-1", "user")],
    "grades": ["05"],
}


def one(tmp_path: Path, stream: str, **objects: list[dict[str, Any]]) -> dict[str, Any]:
    (record,) = pull_objects(tmp_path, objects)(stream)
    assert_valid(stream, record)
    return record


def test_a_11_student_maps_to_a_valid_students_record(tmp_path: Path) -> None:
    record = one(tmp_path, "students", users=[STUDENT_11])

    assert record["id"] == "stu-1"
    assert record["school_ids"] == ["sch-1", "dist-1"]
    assert record["primary_school_id"] == "sch-1"
    assert (record["first_name"], record["middle_name"], record["last_name"]) == ("Ava", "Q", "Stone")
    assert record["state_id"] == "ST-99"
    assert record["student_number"] == "10001"
    assert record["grade"] == "05"
    assert record["phone"] is None
    assert record["updated_at"] == "2026-09-01T12:00:00Z"
    assert "_sdc_deleted_at" not in record
    assert record["extra"]["username"] == "ava.s"
    assert record["extra"]["agents"] == ["par-1"]


def test_a_12_student_reads_roles_primary_org_and_preferred_name(tmp_path: Path) -> None:
    record = one(tmp_path, "students", users=[STUDENT_12])

    assert record["school_ids"] == ["sch-1"]
    assert record["primary_school_id"] == "sch-1"
    assert record["preferred_first_name"] == "Avie"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["teacher"], ["teacher"]),
        (["aide"], ["aide"]),
        (["administrator"], ["school_admin"]),
        (["principal", "teacher"], ["school_admin", "teacher"]),
        (["districtAdministrator"], ["district_admin"]),
        (["counselor"], ["staff"]),
    ],
)
def test_staff_roles_of_11_and_12_map_to_standard_roles_and_keep_the_source_roles(
    tmp_path: Path, roles: list[str], expected: list[str]
) -> None:
    user = {
        "sourcedId": "t-1",
        "status": "active",
        "roles": [{"roleType": "primary", "role": r, "org": ref("sch-1")} for r in roles],
        "givenName": "Tom",
        "familyName": "Hill",
        "identifier": "T100",
    }
    record = one(tmp_path, "staff", users=[user])

    assert record["roles"] == expected
    assert record["extra"]["source_roles"] == roles
    assert record["school_ids"] == ["sch-1"]


def test_several_staff_rows_for_one_person_become_one_record(tmp_path: Path) -> None:
    row_a = {"sourcedId": "t-1", "status": "active", "role": "teacher", "orgs": [ref("sch-1")], "email": ""}
    row_b = {
        "sourcedId": "t-1",
        "status": "active",
        "role": "administrator",
        "orgs": [ref("sch-2")],
        "email": "t@example.net",
    }
    merged = one(tmp_path, "staff", users=[row_a, row_b])

    assert merged["school_ids"] == ["sch-1", "sch-2"]
    assert merged["roles"] == ["teacher", "school_admin"]
    assert merged["email"] == "t@example.net"
    assert merged["extra"]["source_roles"] == ["teacher", "administrator"]


@pytest.mark.parametrize("role", ["parent", "guardian", "relative"])
def test_contacts_keep_their_role_as_the_relationship(tmp_path: Path, role: str) -> None:
    user = {
        "sourcedId": "par-1",
        "status": "active",
        "role": role,
        "givenName": "Pat",
        "sms": "555-0100",
        "agents": [ref("stu-1", "user")],
    }
    pulled = pull_objects(tmp_path, {"users": [user, STUDENT_11]})
    (record,) = pulled("contacts")
    (link,) = pulled("student_contacts")

    assert_valid("contacts", record)
    assert (record["phone"], record["phone_type"]) == ("555-0100", "Cell")
    assert (link["student_id"], link["contact_id"], link["relationship"]) == ("stu-1", "par-1", role)


def test_links_come_from_agents_on_either_side(tmp_path: Path) -> None:
    parent = {"sourcedId": "par-1", "role": "parent", "agents": [ref("stu-1", "user"), ref("stu-2", "user")]}
    quiet = {"sourcedId": "par-2", "role": "guardian"}  # lists no student: stu-2's own list links it
    stu_2 = {**STUDENT_11, "sourcedId": "stu-2", "agents": [ref("par-1", "user"), ref("par-2", "user")]}
    links = pull_objects(tmp_path, {"users": [STUDENT_11, stu_2, parent, quiet]})("student_contacts")

    for link in links:
        assert_valid("student_contacts", link)
    assert [(x["student_id"], x["contact_id"], x["relationship"]) for x in links] == [
        ("stu-2", "par-2", "guardian"),
        ("stu-1", "par-1", "parent"),
        ("stu-2", "par-1", "parent"),
    ]


@pytest.mark.parametrize("status", ["tobedeleted", "inactive"])
def test_deleted_statuses_set_sdc_deleted_at(tmp_path: Path, status: str) -> None:
    record = one(tmp_path, "students", users=[{**STUDENT_11, "status": status}])

    assert record["_sdc_deleted_at"] == "2026-09-01T12:00:00Z"


def test_a_class_becomes_a_section_with_course_teacher_and_collapsed_periods(tmp_path: Path) -> None:
    cls = {
        "sourcedId": "cls-1",
        "status": "active",
        "dateLastModified": "2026-09-01T00:00:00Z",
        "title": "Math 5 - Hill",
        "classCode": "M5-1",
        "classType": "scheduled",
        "grades": ["05"],
        "subjects": ["Math"],
        "course": ref("crs-1", "course"),
        "school": ref("sch-1"),
        "terms": [ref("term-1", "academicSession"), ref("term-1", "academicSession")],
        "periods": ["1", "1", "2"],
    }
    courses = [{"sourcedId": "crs-1", "title": "Math 5", "courseCode": "M5"}]
    enrollments = [
        {"sourcedId": "e1", "class": ref("cls-1"), "user": ref("t-2"), "role": "teacher", "primary": "false"},
        {"sourcedId": "e2", "class": ref("cls-1"), "user": ref("t-1"), "role": "teacher", "primary": "true"},
        {"sourcedId": "e3", "class": ref("cls-1"), "user": ref("stu-1"), "role": "student"},
    ]
    record = one(tmp_path, "sections", classes=[cls], courses=courses, enrollments=enrollments)

    assert record["period"] == "1, 2"
    assert record["term_ids"] == ["term-1"]
    assert (record["course_name"], record["course_number"]) == ("Math 5", "M5")
    assert record["primary_teacher_id"] == "t-1"
    assert record["section_type"] == "scheduled"
    assert record["school_id"] == "sch-1"


def test_enrollments_map_roles_and_drop_administrators(tmp_path: Path) -> None:
    teacher = {"sourcedId": "e1", "class": ref("c"), "user": ref("t"), "role": "teacher", "primary": "true"}
    admin = {"sourcedId": "e2", "class": ref("c"), "user": ref("a"), "role": "administrator"}
    record = one(tmp_path, "enrollments", enrollments=[teacher, admin])

    assert (record["section_id"], record["user_id"], record["role"], record["primary"]) == (
        "c",
        "t",
        "teacher",
        True,
    )


def test_schools_and_terms(tmp_path: Path) -> None:
    org = {
        "sourcedId": "sch-1",
        "name": "Lincoln",
        "type": "school",
        "identifier": "0042",
        "parent": ref("d"),
    }
    session = {
        "sourcedId": "term-1",
        "title": "Fall",
        "type": "term",
        "startDate": "2026-08-20",
        "endDate": "2026-12-20",
    }
    district = {"sourcedId": "d", "name": "Springfield", "type": "district"}
    school = one(tmp_path, "schools", orgs=[district, org])  # a district is no school
    term = one(tmp_path, "terms", academicSessions=[session])

    assert (school["name"], school["school_number"], school["district_id"]) == ("Lincoln", "0042", "d")
    assert (school["org_type"], school["parent_id"]) == ("school", "d")
    assert (term["start_date"], term["end_date"], term["school_id"]) == ("2026-08-20", "2026-12-20", None)


def test_a_11_administrator_of_the_district_org_is_a_district_admin(tmp_path: Path) -> None:
    at_district = {"sourcedId": "a-1", "role": "administrator", "orgs": [ref("dist-1")]}
    at_school = {"sourcedId": "a-2", "role": "administrator", "orgs": [ref("sch-1")]}
    orgs = [{"sourcedId": "dist-1", "type": "district"}, {"sourcedId": "sch-1", "type": "school"}]
    staff = pull_objects(tmp_path, {"users": [at_district, at_school], "orgs": orgs})("staff")

    assert [(s["id"], s["roles"]) for s in staff] == [("a-1", ["district_admin"]), ("a-2", ["school_admin"])]


def test_users_without_a_role_are_left_out_by_id_with_the_reason(tmp_path: Path) -> None:
    orgs = [{"sourcedId": s, "type": "school"} for s in ("sch-1", "sch-2")]
    users: list[dict[str, Any]] = [
        {"sourcedId": "none-1", "orgs": [ref("sch-1")]},
        {"sourcedId": "vendor-2", "roles": [{"roleType": "primary", "role": "ext:sub", "org": ref("sch-2")}]},
        {
            "sourcedId": "vendor-1",
            "roles": [
                {"roleType": "primary", "role": "ext:b", "org": ref("sch-1")},
                {"roleType": "secondary", "role": "ext:a", "org": ref("sch-1")},
            ],
        },
        {"sourcedId": "nowhere"},  # no role and no org: no school can claim it, so every scope names it
        {"sourcedId": "learner", "orgs": [ref("sch-2")]},  # enrolled in a class of sch-1
        {"sourcedId": "gone", "status": "tobedeleted", "orgs": [ref("sch-1")]},
        STUDENT_11,
    ]
    classes = [{"sourcedId": "cls-1", "school": ref("sch-1")}]
    enrollments = [{"sourcedId": "e-1", "class": ref("cls-1", "class"), "user": ref("learner", "user")}]
    objects: dict[str, list[dict[str, Any]]] = {
        "users": users,
        "orgs": orgs,
        "classes": classes,
        "enrollments": enrollments,
    }

    def left_out(schools: list[str]) -> list[tuple[str, str]]:
        tables = pull_objects(tmp_path, objects).tables
        found = Roster(tables, schools, NOW).users_without_a_role()
        assert {(user.collection, user.where) for user in found} == {("users", "GET /users")}
        return [(user.record_id, user.reason) for user in found]

    everyone = [
        ("none-1", "no role"),
        ("vendor-2", "role ext:sub, which tap-oneroster does not import"),
        ("vendor-1", "roles ext:a, ext:b, which tap-oneroster does not import"),
        ("nowhere", "no role"),
        ("learner", "no role"),
    ]
    assert left_out([]) == everyone
    assert left_out(["sch-1"]) == [user for user in everyone if user[0] != "vendor-2"]
