"""The sandbox's hard OneRoster shapes (``export-csv --shapes hard``) through tap-oneroster into
target-bloomz, for 1.1 and 1.2: each shape lands or is named, and nobody vanishes.

What each shape is given to is read back from the bundle's own files (the csv module), not from the
sandbox's code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bloomz_sync.cli import main
from tests.support.district import query, seats, unaccounted
from tests.support.public_oneroster import csv_rows, import_bundle, people_of_bundle

SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("district") / "tiny"
    subprocess.run(
        [SANDBOX, "generate", "tiny", "--seed", "3", "--out", str(out)], check=True, capture_output=True
    )
    return out


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_hard_shapes_land_or_are_named(district: Path, database: Path, tmp_path: Path, version: str) -> None:
    bundle = tmp_path / "hard"
    subprocess.run(
        [
            SANDBOX,
            "export-csv",
            str(district),
            "--version",
            version,
            "--out",
            str(bundle),
            "--shapes",
            "hard",
        ],
        check=True,
        capture_output=True,
    )
    orgs = csv_rows(bundle / "orgs.csv")
    classes = csv_rows(bundle / "classes.csv")
    enrollments = csv_rows(bundle / "enrollments.csv")
    users = csv_rows(bundle / "users.csv")
    assert (bundle / "users.csv").read_text().splitlines()[0].endswith(",,")  # a header ending in ,,
    assert all("/" in u["dateLastModified"] for u in users)  # dates written day first

    log = import_bundle("", database, tmp_path, csv_path=str(bundle))

    schools = {o["sourcedId"] for o in orgs if o["type"] == "school"}
    departments = {o["sourcedId"]: o["parentSourcedId"] for o in orgs if o["type"] == "department"}
    district_id = next(o["sourcedId"] for o in orgs if o["type"] == "district")
    assert departments
    community = dict(
        query(
            database,
            "SELECT cl.section_id, c.key FROM classes cl JOIN communities c ON c.id = cl.community_id",
        )
    )
    named = dict(query(database, "SELECT record_key, message FROM run_issues"))
    # A department's classes are classes of the school above it (or named: a name taken, say).
    in_departments = [
        c for c in classes if c["schoolSourcedId"] in departments and c["status"] != "tobedeleted"
    ]
    for cls in in_departments:
        school = departments[cls["schoolSourcedId"]]
        assert community.get(cls["sourcedId"]) == f"oneroster:{school}" or cls["sourcedId"] in named
    assert {c["sourcedId"] for c in in_departments} & set(community)
    assert {key for key in community.values()} == {f"oneroster:{s}" for s in schools}
    # A teacher attached to the district alone teaches their classes, in those classes' communities.
    roles_csv = csv_rows(bundle / "roles.csv")
    orgs_of = {u["sourcedId"]: set(u.get("orgSourcedIds", "").split(",")) - {""} for u in users}
    for role in roles_csv:
        orgs_of.setdefault(role["userSourcedId"], set()).add(role["orgSourcedId"])
    at_district = {u for u, o in orgs_of.items() if o == {district_id}}
    taught = {(e["classSourcedId"], e["userSourcedId"]) for e in enrollments if e["role"] == "teacher"}
    district_teachers = {u for u in at_district if any(t == u for _, t in taught)}
    assert district_teachers
    placed = seats(database)
    for section, teacher in taught:
        if teacher in district_teachers and section in community:
            assert (section, teacher, "teacher") in placed
    # A class with no teacher is a class all the same.
    no_teacher = {c["sourcedId"] for c in classes} - {c for c, _ in taught}
    assert no_teacher
    assert no_teacher - {c["sourcedId"] for c in classes if c["status"] == "tobedeleted"} <= set(community)
    # Active enrollments in a class being deleted are named as such; a teacher enrolled as a student too.
    deleted = {c["sourcedId"] for c in classes if c["status"] == "tobedeleted"}
    for e in enrollments:
        if e["classSourcedId"] in deleted:
            assert "is being deleted in the source" in named[f"{e['classSourcedId']}/{e['userSourcedId']}"]
    teachers = {t for _, t in taught}
    as_students = {
        (e["classSourcedId"], e["userSourcedId"])
        for e in enrollments
        if e["role"] == "student" and e["userSourcedId"] in teachers
    }
    assert as_students
    for section, teacher in as_students:
        assert named[f"{section}/{teacher}"].startswith(
            f"enrollment not imported: staff member {teacher} is enrolled"
        )
    # A teacher who is also a guardian: staff and parent, the parent of the students listing them.
    guardians = query(
        database,
        "SELECT source_id FROM person_sources WHERE kind = 'parent' "
        "INTERSECT SELECT source_id FROM person_sources WHERE kind = 'staff'",
    )
    assert guardians
    # Day-first dates read, and no classType lost to its case.
    assert "dateLastModified" not in log
    assert query(database, "SELECT count(*) FROM src_sections WHERE section_type IS NULL") == [(0,)]
    # A user whose only role is a vendor one is named by id with the reason, in the plan and the status.
    vendor_roles = {r["userSourcedId"] for r in roles_csv if r["role"] == "ext:substitute"}
    vendor_roles |= {u["sourcedId"] for u in users if u.get("role") == "ext:substitute"}
    assert vendor_roles
    line = {u["sourcedId"]: n for n, u in enumerate(users, start=2)}  # no line breaks in the sandbox's rows
    expected = [
        f"warning: users {user}: user not imported: role ext:substitute, which tap-oneroster does not "
        f"import (users.csv line {line[user]})"
        for user in sorted(vendor_roles)
    ]
    plan = CliRunner().invoke(main, ["--database", str(database), "plan", "1"], catch_exceptions=False)
    assert [row for row in plan.stdout.splitlines() if "ext:substitute" in row] == [
        f"  {e}" for e in expected
    ]
    status = CliRunner().invoke(main, ["--database", str(database), "status"], catch_exceptions=False)
    for user in vendor_roles:
        assert status.stdout.count(f"WARNING users {user}: user not imported: role ext:substitute") == len(
            schools
        )  # a user of no stream concerns every school's admins
    # Nobody vanishes; no error says a person fell through every rule.
    assert unaccounted(database, people_of_bundle(bundle)) == {}
    assert query(database, "SELECT count(*) FROM run_issues WHERE message LIKE '%please report this%'") == [
        (0,)
    ]
