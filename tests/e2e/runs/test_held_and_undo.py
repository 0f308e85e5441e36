"""Safety limits hold a mass removal; approve, discard and undo from the admin CLI."""

from __future__ import annotations

import json

import pytest

from tests.support.district import district, query, run_target, singer_lines
from tests.support.store_queries import class_of, members, run_row

LIMITS = """
safety_limits:
  removals:
    class_memberships: {count: 1}
"""


def _drop_grade_one(records):
    """Half the district leaves: sec1's students and their enrollments are gone."""
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] != "sec1"]
    return records


@pytest.fixture
def limited(database, tmp_path, mapping_file):
    mapping = mapping_file(LIMITS)

    def run(records, state=None, **options):
        config = {"database": str(database), "mapping": str(mapping), **options}
        return run_target(config, singer_lines(records, state=state), tmp_path)

    return run


def test_a_mass_removal_is_held_with_its_plan_and_does_not_advance_state(limited, database, cli):
    assert limited(district(), state={"bookmarks": {"night": 1}}).states == [{"bookmarks": {"night": 1}}]

    result = limited(_drop_grade_one(district()), state={"bookmarks": {"night": 2}}, full_data=True)

    assert result.returncode == 3, result.stderr  # held: docs/resync.md "Exit status"
    assert result.states == [], "a held run emits no STATE: Meltano's bookmark stays at night 1"
    assert "Run 2 HELD for approval, nothing applied" in result.stderr
    status, reason = run_row(database, 2)
    assert status == "held"
    assert reason == "over the safety limits: 2 class_memberships removals of 6 is over the limit of 1"
    saved = query(database, "SELECT singer_state FROM runs WHERE id = 2")[0][0]
    assert json.loads(saved) == {"bookmarks": {"night": 2}}, "kept for approve to print"
    assert len(members(database, "sec1")) == 3, "nothing applied"
    assert query(database, "SELECT count(*) FROM plan_rows WHERE run_id = 2 AND action = 'remove'") == [(2,)]
    shown = cli("status")
    assert "held" in shown.output


def test_approve_applies_a_held_run_and_prints_how_to_advance_meltano_state(limited, database, cli):
    limited(district())
    limited(_drop_grade_one(district()), state={"bookmarks": {"night": 2}}, full_data=True)

    result = cli("approve", "2", "--state-id", "dev:tap-clever-to-target-bloomz")

    assert result.exit_code == 0, result.output
    assert "Run 2 approved and applied." in result.output
    assert "The store changed" not in result.output
    assert (
        "meltano state set --force dev:tap-clever-to-target-bloomz "
        + "'"
        + json.dumps({"singer_state": {"bookmarks": {"night": 2}}})
        + "'"
    ) in result.output
    assert run_row(database, 2)[0] == "applied"
    assert members(database, "sec1") == [("tea1", "teacher", "sync")]
    again = cli("approve", "2")
    assert again.exit_code != 0
    assert "run 2 is applied, not held" in again.output


def test_approve_re_plans_when_the_store_moved_meanwhile(limited, database, cli):
    limited(district())
    limited(_drop_grade_one(district()), full_data=True)
    assert cli("add-member", "sec3", "tea1", "--role", "aide").exit_code == 0  # the store moves

    result = cli("approve", "2")

    assert result.exit_code == 0, result.output
    assert "The store changed since the run was held: it was planned again before applying." in result.output
    assert members(database, "sec1") == [("tea1", "teacher", "sync")]
    assert ("tea1", "aide", "manual") in members(database, "sec3"), "the edit made meanwhile stands"


def test_discard_drops_a_held_run(limited, database, cli):
    limited(district())
    limited(_drop_grade_one(district()), full_data=True)

    result = cli("discard", "2")

    assert result.exit_code == 0
    assert "Run 2 discarded" in result.output
    assert run_row(database, 2)[0] == "discarded"
    assert len(members(database, "sec1")) == 3
    assert cli("approve", "2").exit_code != 0


def test_undo_reverts_an_applied_run(sync, database, cli):
    sync(district())
    before = query(database, "SELECT id, name, status FROM classes ORDER BY id")
    records = _drop_grade_one(district())
    records["sections"][2]["name"] = "Math 7 Honors"
    records["students"].append(
        {"id": "stu4", "school_ids": ["sch2"], "first_name": "Gil", "last_name": "Lee"}
    )
    records["enrollments"].append({"section_id": "sec3", "user_id": "stu4", "role": "student"})
    records["sections"] = [s for s in records["sections"] if s["id"] != "sec2"]
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] != "sec2"]
    assert sync(records, full_data=True).returncode == 0
    assert members(database, "sec1") == [("tea1", "teacher", "sync")]
    assert "stu4" in [m[0] for m in members(database, "sec3")]

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Run 2 undone:")
    assert "could not be reverted" not in result.output
    assert run_row(database, 2)[0] == "undone"
    assert query(database, "SELECT id, name, status FROM classes ORDER BY id") == before
    assert [m[0] for m in members(database, "sec1")] == ["con1", "stu1", "tea1"]
    assert "stu4" not in [m[0] for m in members(database, "sec3")]
    assert query(database, "SELECT count(*) FROM person_sources WHERE source_id = 'stu4'") == [(0,)]
    assert cli("undo", "2").exit_code != 0


def test_undo_says_what_it_could_not_revert(sync, database, cli):
    sync(district())
    records = district()
    records["sections"][2]["name"] = "Math 7 Honors"
    sync(records)
    class_id = class_of(database, "sec3")[0]
    assert cli("rename-class", "sec3", "Math 7 - Room 12").exit_code == 0  # changed after run 2

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert f'classes {{"id":{class_id}}}: changed in Bloomz after the run' in result.output
    assert class_of(database, "sec3")[1] == "Math 7 - Room 12"


def test_a_held_run_superseded_by_a_newer_applied_run_cannot_be_approved(limited, database, cli):
    limited(district())
    limited(_drop_grade_one(district()), full_data=True)  # run 2: held
    newer = district()
    newer["sections"][2]["name"] = "Math 7 Honors"
    assert limited(newer).returncode == 0  # run 3 of the same schools applies meanwhile

    result = cli("approve", "2")

    assert result.exit_code != 0
    assert "run 2 is superseded by run 3: discard it" in result.output
    assert run_row(database, 2)[0] == "held"
    assert class_of(database, "sec3")[1] == "Math 7 Honors", "run 3's newer data stays"
    assert len(members(database, "sec1")) == 3
    assert cli("discard", "2").exit_code == 0


def test_a_held_run_approved_before_the_next_run_applies_and_the_next_run_follows(limited, database, cli):
    limited(district())
    limited(_drop_grade_one(district()), full_data=True)  # run 2: held
    assert cli("approve", "2").exit_code == 0
    newer = _drop_grade_one(district())
    newer["sections"][2]["name"] = "Math 7 Honors"

    assert limited(newer).returncode == 0

    assert [run_row(database, run)[0] for run in (2, 3)] == ["applied", "applied"]
    assert members(database, "sec1") == [("tea1", "teacher", "sync")]
    assert class_of(database, "sec3")[1] == "Math 7 Honors"


def test_an_update_over_its_limit_is_held(database, tmp_path, mapping_file, cli):
    mapping = mapping_file("safety_limits:\n  updates:\n    classes: {count: 0}\n")
    config = {"database": str(database), "mapping": str(mapping)}
    assert run_target(config, singer_lines(district()), tmp_path).returncode == 0
    renamed = district()
    renamed["sections"][2]["name"] = "Math 7 Honors"

    result = run_target(config, singer_lines(renamed), tmp_path)

    assert result.returncode == 3, result.stderr  # held
    assert result.states == []
    assert run_row(database, 2) == (
        "held",
        "over the safety limits: 1 classes updates of 2 is over the limit of 0",  # sec2: name taken
    )
    assert class_of(database, "sec3")[1] == "Math 7"
    assert cli("approve", "2").exit_code == 0
    assert class_of(database, "sec3")[1] == "Math 7 Honors"


def _with_left_out(lines: str, *users: str) -> str:
    """The tap's finished record listing these users as left out (no role it imports)."""
    messages = [json.loads(line) for line in lines.splitlines()]
    for message in messages:
        if (
            message["type"] == "RECORD"
            and message["stream"] == "pull"
            and message["record"]["event"] == "finished"
        ):
            message["record"]["left_out"] = [
                {"collection": "users", "record_id": user, "where": "users.csv line 9", "reason": "no role"}
                for user in users
            ]
    return "".join(json.dumps(message) + "\n" for message in messages)


def test_a_held_run_names_the_users_the_tap_left_out_again_when_approved(
    database, tmp_path, mapping_file, cli
):
    config = {"database": str(database), "mapping": str(mapping_file(LIMITS)), "full_data": True}
    run_target(config, singer_lines(district()), tmp_path)
    held = run_target(config, _with_left_out(singer_lines(_drop_grade_one(district())), "usr-9"), tmp_path)
    assert held.returncode == 3, held.stderr
    named = "SELECT record_key, message FROM run_issues WHERE run_id = 2 AND stream = 'users'"
    assert query(database, named) == [("usr-9", "user not imported: no role (users.csv line 9)")]

    assert cli("approve", "2").exit_code == 0  # planned again from the held run's staged input

    assert query(database, named) == [("usr-9", "user not imported: no role (users.csv line 9)")]
