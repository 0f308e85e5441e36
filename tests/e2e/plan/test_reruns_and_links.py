"""The same input applied twice changes nothing the second time (duplicate section names, renamed classes,
churned contacts), a name freed tonight is taken tonight, and a student's parent links follow the source.
Through the real target-bloomz and bloomz-sync executables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.district import district, query
from tests.support.store_queries import class_of, members

CLI = str(Path(sys.executable).with_name("bloomz-sync"))


def _export(database: Path) -> dict[str, Any]:
    done = subprocess.run(
        [CLI, "--database", str(database), "export"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _changes(database: Path, run_id: int) -> list[tuple]:
    """The plan rows of a run that change the store."""
    return query(
        database,
        "SELECT entity, action, target FROM plan_rows WHERE run_id = ? AND action <> 'skip' ORDER BY seq",
        [run_id],
    )


_LINK_REMOVALS = (
    "SELECT rule, reason FROM plan_rows WHERE run_id = 2 AND entity = 'student_contact' AND action = 'remove'"
)


def _codes(database: Path) -> dict[str, bool]:
    rows = query(
        database,
        """SELECT s.source_id, p.family_code IS NOT NULL FROM people p
           JOIN person_sources s ON s.person_id = p.id WHERE p.kind = 'student' ORDER BY 1""",
    )
    return dict(rows)


def _links(database: Path) -> list[tuple[str, str]]:
    return query(
        database,
        """SELECT st.source_id, min(ct.source_id) FROM student_contacts sc
           JOIN person_sources st ON st.person_id = sc.student_id AND st.kind = 'student'
           JOIN person_sources ct ON ct.person_id = sc.contact_id AND ct.kind = 'parent'
           GROUP BY st.source_id, sc.contact_id ORDER BY 1, 2""",
    )


def _night() -> dict[str, list[dict[str, Any]]]:
    """The holder of "Homeroom - Smith" renamed; a third section takes its old name; Gus's contact id churns
    (no sis_id: Clever re-creates the contact) and he is now linked to stu1 only."""
    night = district()
    night["sections"][0]["name"] = "Homeroom - Smith (Room 101)"
    night["sections"].append({**night["sections"][1], "id": "sec0", "name": "Homeroom - Smith"})
    night["enrollments"].append({"section_id": "sec0", "user_id": "stu2", "role": "student"})
    night["contacts"][0]["id"] = "con9"
    night["student_contacts"] = [
        {**link, "contact_id": "con9"} for link in night["student_contacts"] if link["contact_id"] == "con1"
    ][:1] + [link for link in night["student_contacts"] if link["contact_id"] != "con1"]
    return night


def test_a_name_freed_tonight_is_taken_tonight_and_a_rerun_changes_nothing(sync, database):
    assert sync(district(), full_data=True).returncode == 0
    assert class_of(database, "sec1")[1] == "Homeroom - Smith"
    assert not query(database, "SELECT 1 FROM classes WHERE section_id = 'sec2'"), "its name was taken"

    assert sync(_night(), full_data=True).returncode == 0

    # sec1 took its new name, which freed "Homeroom - Smith" tonight: the first section by id takes it
    assert class_of(database, "sec1")[1] == "Homeroom - Smith (Room 101)"
    assert class_of(database, "sec0")[1] == "Homeroom - Smith"
    assert not query(database, "SELECT 1 FROM classes WHERE section_id = 'sec2'")
    assert ("stu2", "student", "sync") in members(database, "sec0")
    after = _export(database)

    rerun = sync(_night(), full_data=True)

    assert rerun.returncode == 0, rerun.stderr
    assert _changes(database, 3) == [], "the same input applied again changes nothing"
    assert _export(database) == after


def test_a_rerun_of_a_first_import_with_duplicate_names_changes_nothing(sync, database):
    records = district()
    records["sections"].append({**records["sections"][0], "id": "sec0", "name": "homeroom - smith "})
    assert sync(records).returncode == 0
    first = _export(database)

    assert sync(records).returncode == 0

    assert _changes(database, 2) == []
    assert _export(database) == first
    assert [c["section_id"] for c in first["classes"] if c["name"].strip().lower() == "homeroom - smith"] == [
        "sec0"
    ]


def test_a_parent_who_left_is_unlinked_and_the_student_gets_a_family_code_that_run(sync, database):
    assert sync(district(), full_data=True).returncode == 0
    assert _links(database) == [("stu1", "con1"), ("stu3", "con1")]
    assert _codes(database) == {"stu1": False, "stu2": True, "stu3": False}  # stu2's contacts: not parents

    assert sync(_night(), full_data=True).returncode == 0

    # Gus (con1, churned to con9) stays stu1's parent; his link to stu3 left the source
    assert _links(database) == [("stu1", "con1")]
    assert _codes(database) == {"stu1": False, "stu2": True, "stu3": True}
    removed = [("full_data", "Full Data: the link is no longer in the source")]
    assert query(database, _LINK_REMOVALS) == removed


def test_a_link_whose_contact_type_is_no_longer_imported_is_removed(sync, database):
    assert sync(district(), full_data=True).returncode == 0
    night = district()
    night["student_contacts"][1]["type"] = "Emergency"  # stu3 / con1

    assert sync(night, full_data=True).returncode == 0

    assert _links(database) == [("stu1", "con1")]
    assert _codes(database)["stu3"] is True
    assert query(database, _LINK_REMOVALS) == [
        ("full_data", "Full Data: the contact field value is no longer in contacts.include")
    ]


def test_without_full_data_links_stay(sync, database):
    assert sync(district()).returncode == 0

    assert sync(_night()).returncode == 0

    assert _links(database) == [("stu1", "con1"), ("stu3", "con1")], "without Full Data nothing is removed"
