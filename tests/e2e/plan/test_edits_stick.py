"""Edits by hand and what the next syncs do with them: a member removed by hand stays removed, a role
lowered by hand is kept, roles must fit the person, and a registered person is not invited."""

from __future__ import annotations

from tests.support.district import district, query
from tests.support.mappings import OPEN_LIMITS
from tests.support.store_queries import members


def _person(database, source_id: str) -> int:
    return query(database, "SELECT person_id FROM person_sources WHERE source_id = ?", [source_id])[0][0]


def _community_role(database, community: str, source_id: str) -> tuple[str, bool]:
    return query(
        database,
        "SELECT m.role, m.role_set_by_hand FROM community_members m "
        "JOIN communities c ON c.id = m.community_id WHERE c.key = ? AND m.person_id = ?",
        [community, _person(database, source_id)],
    )[0]


def test_a_member_removed_by_hand_stays_removed_until_the_source_drops_and_re_adds_them(sync, database, cli):
    sync(district())
    removed = cli("remove-member", "sec1", "stu1")
    assert removed.exit_code == 0, removed.output
    assert "the sync does not add them back" in removed.output

    sync(district(), full_data=True)

    assert "stu1" not in [m[0] for m in members(database, "sec1")], "sticky like any edit by hand"
    assert query(
        database, "SELECT action, reason FROM plan_rows WHERE run_id = 2 AND source_id = 'sec1/stu1'"
    ) == [("skip", "removed from the class by hand in Bloomz")]

    dropped = district()
    dropped["enrollments"] = [e for e in dropped["enrollments"] if e["user_id"] != "stu1"]
    sync(dropped)  # the source drops stu1 from sec1: the tombstone is forgotten
    sync(district())  # and later re-adds them: they are back

    assert ("stu1", "student", "sync") in members(database, "sec1")


def test_adding_back_by_hand_lifts_the_removal(sync, database, cli):
    sync(district())
    assert cli("remove-member", "sec1", "stu1").exit_code == 0
    assert cli("add-member", "sec1", "stu1", "--role", "student").exit_code == 0
    assert cli("remove-member", "sec1", "stu1").exit_code == 0
    assert cli("add-member", "sec1", "stu1", "--role", "student").exit_code == 0

    sync(district(), full_data=True)

    assert ("stu1", "student", "manual") in members(database, "sec1")


def test_a_role_lowered_by_hand_is_kept_by_the_sync(sync, database, cli, mapping_file):
    admins = mapping_file(
        OPEN_LIMITS + "staff:\n  rules: [{name: admins, role: School Admin, when: {roles: [school_admin]}}]\n"
    )
    sync(district(), mapping=str(admins))
    assert _community_role(database, "clever:sch1", "adm1")[0] == "School Admin"
    lowered = cli("set-role", "clever:sch1", "adm1", "School Support Staff")
    assert lowered.exit_code == 0, lowered.output

    sync(district(), mapping=str(admins), full_data=True)

    assert _community_role(database, "clever:sch1", "adm1") == ("School Support Staff", True)
    assert _community_role(database, "clever:sch2", "adm1") == ("School Admin", False)


def test_set_role_only_offers_roles_that_fit_the_person(sync, database, cli):
    sync(district())

    student = cli("set-role", "clever:sch1", "stu1", "School Admin")
    parent = cli("set-role", "clever:sch1", "con1", "School Office Staff")
    staff = cli("set-role", "clever:sch1", "tea1", "Parent")

    assert student.exit_code != 0
    assert "does not fit" in student.output
    assert "a student; allowed: Student" in student.output
    assert parent.exit_code != 0
    assert "a parent; allowed: Parent" in parent.output
    assert staff.exit_code != 0
    assert "a staff; allowed: School Admin, School Office Staff, School Support Staff" in staff.output
    assert _community_role(database, "clever:sch1", "stu1") == ("Student", False)


def test_a_person_registered_by_hand_is_added_to_new_classes_without_an_invitation(sync, database, cli):
    sync(district())
    assert cli("register", "con1").exit_code == 0
    records = district()
    records["sections"].append({"id": "sec4", "school_id": "sch1", "name": "Art 1", "term_ids": ["t1"]})
    records["students"].append(
        {"id": "stu4", "school_ids": ["sch1"], "sis_id": "S-4", "first_name": "Jo", "last_name": "Kim"}
    )
    records["contacts"].append({"id": "con4", "last_name": "Kim", "email": "kim@example.org"})
    records["student_contacts"].append(
        {"student_id": "stu4", "contact_id": "con4", "relationship": "Parent", "type": "Parent/Guardian"}
    )
    records["enrollments"] += [
        {"section_id": "sec4", "user_id": "stu1", "role": "student"},
        {"section_id": "sec4", "user_id": "stu4", "role": "student"},
    ]

    result = sync(records, invite_parents=True)

    assert result.returncode == 0, result.stderr
    assert ("con1", "parent", "sync") in members(database, "sec4")
    invited = query(
        database, "SELECT DISTINCT person_id FROM outbox WHERE run_id = 2 AND kind = 'invitation'"
    )
    assert invited == [(_person(database, "con4"),)], "the unregistered new parent only"
