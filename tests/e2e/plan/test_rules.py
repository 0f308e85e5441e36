"""The re-sync rules, one by one, on Singer message files: each switch on and off (DESIGN.md rules 4-7)."""

from __future__ import annotations

from tests.support.district import district, query
from tests.support.store_queries import class_of, issues, members, run_row


def _without_stu1(records):
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu1"]
    return records


def test_without_full_data_a_sync_adds_and_updates_but_removes_nothing(sync, database):
    assert sync(district()).returncode == 0

    result = sync(_without_stu1(district()))

    assert result.returncode == 0, result.stderr
    assert ("stu1", "student", "sync") in members(database, "sec1")
    assert query(database, "SELECT count(*) FROM plan_rows WHERE run_id = 2 AND action = 'remove'") == [(0,)]


def test_full_data_removes_members_no_longer_in_the_source(sync, database):
    sync(district())

    result = sync(_without_stu1(district()), full_data=True)

    assert result.returncode == 0, result.stderr
    # stu1 left sec1, and so did Gus, stu1's parent, whose only student in that class was stu1.
    assert members(database, "sec1") == [("tea1", "teacher", "sync")]
    assert ("con1", "parent", "sync") in members(database, "sec3")
    assert query(
        database,
        "SELECT source_id, rule, reason FROM plan_rows WHERE run_id = 2 AND action = 'remove' ORDER BY 1",
    ) == [
        ("sec1/con1", "full_data", "Full Data: not in the source for this class"),
        ("sec1/stu1", "full_data", "Full Data: not in the source for this class"),
    ]


def test_staff_added_by_hand_stay_under_full_data_while_keep_manual_staff_is_on(sync, database, cli):
    sync(district())
    assert cli("add-member", "sec1", "tea2", "--role", "teacher").exit_code == 0
    assert ("tea2", "teacher", "manual") in members(database, "sec1")

    sync(district(), full_data=True)
    assert ("tea2", "teacher", "manual") in members(database, "sec1"), "Do not override staff assignments"

    sync(district(), full_data=True, keep_manual_staff=False)
    assert "tea2" not in [m[0] for m in members(database, "sec1")]
    assert query(database, "SELECT reason FROM plan_rows WHERE run_id = 3 AND action = 'remove'") == [
        ("Full Data: not in the source for this class (added by hand)",)
    ]


def test_archive_archives_synced_classes_gone_from_the_source_and_revive_brings_them_back(
    sync, database, cli
):
    sync(district())
    records = district()
    records["sections"] = [s for s in records["sections"] if s["id"] != "sec3"]
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] != "sec3"]

    sync(records, full_data=True)
    assert class_of(database, "sec3")[2] == "active", "Full Data alone archives nothing"

    sync(records, full_data=True, archive=True)
    class_id, _name, status = class_of(database, "sec3")
    assert status == "archived"
    assert len(members(database, "sec3")) == 3, "an archived class keeps its members for a revival"
    assert query(database, "SELECT reason FROM plan_rows WHERE run_id = 3 AND action = 'archive'") == [
        ("the section is no longer in the source",)
    ]

    result = cli("revive-class", str(class_id))
    assert result.exit_code == 0
    assert "revived" in result.output
    assert class_of(database, "sec3")[2] == "active"


def test_an_archived_class_is_skipped_unless_recreate_archived_and_a_deleted_one_comes_back(
    sync, database, cli
):
    sync(district())
    assert cli("archive-class", "sec3").exit_code == 0
    sync(district())
    assert class_of(database, "sec3")[2] == "archived"
    sync(district(), recreate_archived=True)
    assert class_of(database, "sec3")[2] == "active"

    assert cli("delete-class", "sec3").exit_code == 0
    assert query(database, "SELECT count(*) FROM classes WHERE section_id = 'sec3'") == [(0,)]
    sync(district())
    assert class_of(database, "sec3")[1:] == ("Math 7", "active")
    assert len(members(database, "sec3")) == 3


def test_scheduled_import_removes_contacts_added_by_hand_that_the_source_lacks(sync, database, cli):
    records = district()
    records["student_contacts"][2]["type"] = "Parent/Guardian"  # Hal Lee (con2) becomes a parent of stu2
    sync(records)
    added = cli("add-member", "sec1", "con2", "--role", "parent")
    assert added.exit_code == 0, added.output

    sync(records)
    assert ("con2", "parent", "manual") in members(database, "sec1"), "kept when scheduled import is off"

    result = sync(records, scheduled=True)
    assert result.returncode == 0, result.stderr
    assert "con2" not in [m[0] for m in members(database, "sec1")]
    assert ("con1", "parent", "sync") in members(database, "sec1")
    assert query(database, "SELECT rule, reason FROM plan_rows WHERE run_id = 3 AND action = 'remove'") == [
        ("scheduled", "scheduled import: a contact not in the source for this class (added by hand)")
    ]


def test_a_scheduled_import_of_a_school_never_imported_refuses_to_run(sync, database):
    result = sync(district(), scheduled=True)

    assert result.returncode != 0
    assert "scheduled import refused" in result.stderr
    assert "Lincoln Elementary (clever:sch1)" in result.stderr
    assert "requires the initial sync before autosync" in result.stderr
    assert result.states == []
    assert query(database, "SELECT count(*) FROM classes") == [(0,)]

    assert sync(district()).returncode == 0  # the first import
    assert sync(district(), scheduled=True).returncode == 0


def test_a_class_renamed_by_hand_keeps_its_name_and_a_role_set_by_hand_is_kept(sync, database, cli):
    sync(district())
    assert cli("rename-class", "sec3", "Math 7 - Room 12").exit_code == 0
    assert cli("set-role", "clever:sch2", "adm1", "School Admin").exit_code == 0
    records = district()
    records["sections"][2]["name"] = "Math 7 (new)"

    sync(records, full_data=True)

    assert class_of(database, "sec3")[1] == "Math 7 - Room 12"
    assert query(
        database,
        "SELECT m.role, m.role_set_by_hand FROM community_members m "
        "JOIN communities c ON c.id = m.community_id JOIN person_sources s ON s.person_id = m.person_id "
        "WHERE s.source_id = 'adm1' AND c.key = 'clever:sch2'",
    ) == [("School Admin", True)]


def test_edits_refuse_what_the_app_would_refuse(sync, database, cli):
    sync(district())
    assert cli("rename-class", "sec1", "Homeroom A").exit_code == 0
    sync(district())  # the renamed class freed its name: sec2 comes in as "Homeroom - Smith"
    assert class_of(database, "sec2")[1] == "Homeroom - Smith"

    taken = cli("rename-class", "sec2", "homeroom a")
    assert taken.exit_code != 0
    assert 'the name "homeroom a" is taken' in taken.output
    unknown = cli("add-member", "nope", "tea1")
    assert unknown.exit_code != 0
    assert "no class 'nope'" in unknown.output
    twice = cli("add-member", "sec1", "tea1")
    assert twice.exit_code != 0
    assert "already" in twice.output
    assert cli("register", "con1").exit_code == 0


def test_removals_only_from_complete_pulls(sync, database):
    sync(district())
    records = _without_stu1(district())

    # A delta (no ACTIVATE_VERSION) merges into the feed's mirror: what it lacks is not taken as gone.
    assert sync(records, activate=False, full_data=True).returncode == 0
    assert ("stu1", "student", "sync") in members(database, "sec1")

    # A feed never pulled complete: nothing it lacks may be removed, and the run says why.
    result = sync(records, activate=False, full_data=True, feed="clever:new-feed")
    assert result.returncode == 0, result.stderr
    assert ("stu1", "student", "sync") in members(database, "sec1")
    assert (
        "enrollments: Full Data: no removals from enrollments this run: it did not close complete "
        "(no ACTIVATE_VERSION: an incremental or failed pull)"
    ) in issues(database, 3)

    empty = _without_stu1(district())
    empty["enrollments"] = []  # the pull came back empty while the store has members
    sync(empty, full_data=True)
    assert ("stu1", "student", "sync") in members(database, "sec1")
    assert (
        "enrollments: Full Data: no removals from enrollments this run: it came back empty while the "
        "store has data for it"
    ) in issues(database, 4)

    bad = _without_stu1(district())
    bad["enrollments"].append({"section_id": "sec1", "user_id": None, "role": "student"})  # set aside
    sync(bad, full_data=True)
    assert ("stu1", "student", "sync") in members(database, "sec1")
    assert (
        "enrollments: Full Data: no removals from enrollments this run: 1 of its records were set aside"
    ) in issues(database, 5)
    assert run_row(database, 5)[0] == "applied"

    sync(_without_stu1(district()), full_data=True)  # a clean complete pull removes
    assert "stu1" not in [m[0] for m in members(database, "sec1")]
