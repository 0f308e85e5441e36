"""Undo takes back everything a run wrote in its transaction: the people step's rows too (issue 7 + 8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from roster_sandbox.testing import free_port

from tests.support.district import district, query, run_target, singer_lines


def person_of(database: Path, source_id: str) -> int | None:
    rows = query(database, "SELECT person_id FROM person_sources WHERE source_id = ?", [source_id])
    return rows[0][0] if rows else None


def churned(records: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Clever re-created Gus's contact (no sis_id) under a new id after an edit of his name."""
    records["contacts"] = [c for c in records["contacts"] if c["id"] != "con1"] + [
        {"id": "con9", "first_name": "Gus", "last_name": "Lee-Smith", "email": "gus@example.org"}
    ]
    for link in records["student_contacts"]:
        if link["contact_id"] == "con1":
            link["contact_id"] = "con9"
    return records


def with_new_family(records: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Gil joins Math 7 with his mother Joy (a parent with an e-mail: invited when parents are)."""
    records["students"].append(
        {"id": "stu4", "school_ids": ["sch2"], "first_name": "Gil", "last_name": "Ray"}
    )
    records["contacts"].append(
        {"id": "con4", "first_name": "Joy", "last_name": "Ray", "email": "joy@example.org"}
    )
    records["student_contacts"].append(
        {"student_id": "stu4", "contact_id": "con4", "relationship": "Parent", "type": "Parent/Guardian"}
    )
    records["enrollments"].append({"section_id": "sec3", "user_id": "stu4", "role": "student"})
    return records


def invitations(database: Path, run_id: int) -> list[tuple[str, str]]:
    """(recipient, status) of a run's invitations in the outbox."""
    return query(
        database,
        "SELECT recipient, status FROM outbox WHERE run_id = ? AND kind = 'invitation' ORDER BY ALL",
        [run_id],
    )


def test_undo_takes_back_the_new_id_of_a_matched_churned_contact(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    sync_ok(district())
    gus = person_of(database, "con1")
    sync_ok(churned(district()))
    assert person_of(database, "con9") == gus, "matched to the same parent"

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "could not be reverted" not in result.output
    assert person_of(database, "con9") is None, "the link the run added is gone"
    assert person_of(database, "con1") == gus
    assert query(database, "SELECT last_name FROM people WHERE id = ?", [gus]) == [("Lee",)]
    # the same night again matches again: one parent, no new account
    sync_ok(churned(district()))
    assert person_of(database, "con9") == gus
    assert query(database, "SELECT count(*) FROM people WHERE kind = 'parent'") == [(1,)]


def test_undo_keeps_a_family_code_given_in_the_run(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    sync_ok(district())
    eve = person_of(database, "stu2")
    with duckdb.connect(str(database)) as con:  # Eve has no code yet (a store from before family codes)
        con.execute("UPDATE people SET family_code = NULL WHERE id = ?", [eve])
    records = district()
    records["students"][1]["grade"] = "2"
    sync_ok(records)  # updates Eve and gives her a code in the same run
    ((grade, code),) = query(database, "SELECT grade, family_code FROM people WHERE id = ?", [eve])
    assert (grade, code is not None) == ("2", True)

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "could not be reverted" not in result.output
    assert query(database, "SELECT grade, family_code FROM people WHERE id = ?", [eve]) == [("1", code)], (
        "the grade is reverted; the code stays valid (a letter may be printed)"
    )


def test_undo_withdraws_the_runs_pending_invitations(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:
    sync_ok(district())
    relay_down = {"smtp_host": "127.0.0.1", "smtp_port": free_port()}  # nothing listens there
    sync_ok(with_new_family(district()), invite_parents=True, **relay_down)
    assert invitations(database, 2) == [("joy@example.org", "pending")]

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "Outbox: 1 pending messages of the run withdrawn, 0 already sent" in result.output
    assert invitations(database, 2) == [], "an undone run's invitation does not go out"
    assert person_of(database, "con4") is None
    # the next night that brings Joy in again invites her (delivered to files this time)
    sync_ok(with_new_family(district()), invite_parents=True)
    assert invitations(database, 3) == [("joy@example.org", "sent")]
    assert any("joy@example.org" in p.read_text() for p in (tmp_path / "outbox").glob("*.eml"))


def test_undo_counts_invitations_already_sent(
    sync_ok: Callable[..., Any], database: Path, cli: Callable[..., Any]
) -> None:
    sync_ok(district())
    sync_ok(with_new_family(district()), invite_parents=True)
    assert invitations(database, 2) == [("joy@example.org", "sent")]

    result = cli("undo", "2")

    assert result.exit_code == 0, result.output
    assert "Outbox: 0 pending messages of the run withdrawn, 1 already sent" in result.output
    assert invitations(database, 2) == [("joy@example.org", "sent")], "the record of what went out stays"
    # Joy's account is gone with the undo: the night that brings her back invites her to the new one
    sync_ok(with_new_family(district()), invite_parents=True)
    assert invitations(database, 3) == [("joy@example.org", "sent")]


def test_approve_invites_with_the_sign_up_link_of_the_held_run(
    database: Path, tmp_path: Path, mapping_file: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    mapping = mapping_file("safety_limits:\n  removals:\n    class_memberships: {count: 1}\n")
    config = {"database": str(database), "mapping": str(mapping), "outbox_dir": str(tmp_path / "outbox")}
    assert run_target(config, singer_lines(district()), tmp_path).returncode == 0
    records = with_new_family(district())
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] != "sec1"]
    link = "https://join.example.org/lincoln"
    night = {**config, "full_data": True, "invite_parents": True, "signup_url": link}
    held = run_target(night, singer_lines(records), tmp_path)
    assert held.returncode == 3, held.stderr  # held
    assert query(database, "SELECT status FROM runs WHERE id = 2") == [("held",)]

    result = cli("approve", "2")

    assert result.exit_code == 0, result.output
    (text,) = query(
        database,
        "SELECT body_text FROM outbox WHERE run_id = 2 AND kind = 'invitation' AND channel = 'email'",
    )[0]
    assert link in text
    assert "bloomz.net/join" not in text
