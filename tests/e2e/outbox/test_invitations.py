"""Invitations through the real target: who is invited, by which channel, once, and delivered after commit."""

from __future__ import annotations

import json
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from tests.support.district import district, query, run_target, singer_lines
from tests.support.smtp import body

INVITE_ALL = {
    "invite_teachers": True,
    "invite_parents": True,
    "invite_students": True,
    "invite_from": "adm1",
}


def eml_files(folder: Path) -> dict[str, Any]:
    """The .eml files in the outbox folder by recipient (one each expected)."""
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        found.setdefault(str(message["To"]), []).append(message)
    return found


def sms_lines(folder: Path) -> list[dict[str, Any]]:
    path = folder / "sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_invitations_by_email_and_text_once(target_config: Callable[..., dict], tmp_path: Path) -> None:
    records = district()
    records["staff"][2]["email"] = "cy.boss@example.org"  # the "Invite from" admin
    result = run_target(target_config(**INVITE_ALL), singer_lines(records), tmp_path)
    assert result.returncode == 0, result.stderr
    outbox = tmp_path / "outbox"
    mails = eml_files(outbox)
    # Ann (teacher, e-mail), Gus (parent, e-mail and phone), Cy himself (staff); Bob has no e-mail or phone.
    assert set(mails) == {"ann.smith@example.org", "gus@example.org", "cy.boss@example.org"}
    assert [len(mails[a]) for a in sorted(mails)] == [1, 2, 2]  # Ann; Cy and Gus are in both schools
    # Gus is a parent in both schools: one invitation per school community.
    gus = sorted(str(m["Subject"]) for m in mails["gus@example.org"])
    assert gus == [
        "Cy Boss invited you to Jefferson Middle on Bloomz",
        "Cy Boss invited you to Lincoln Elementary on Bloomz",
    ]
    lincoln = next(m for m in mails["gus@example.org"] if "Lincoln" in str(m["Subject"]))
    text = body(lincoln, "plain")
    assert "Homeroom - Smith" in text  # his class there
    assert "Dee" in text  # and his child
    texts = sms_lines(outbox)
    # Gus by text in both schools; Fay, a student with a phone only, by text.
    assert sorted(line["to"] for line in texts) == ["+13125550142", "+13125550199", "+13125550199"]
    assert all("Bloomz" in line["body"] for line in texts)
    assert query(
        Path(target_config()["database"]),
        "SELECT count(*) FROM outbox WHERE kind = 'invitation' AND status <> 'sent'",
    ) == [(0,)]

    # The same roster again, and again with a new class for Ann: no one is invited a second time.
    records["sections"].append(
        {"id": "sec9", "school_id": "sch1", "name": "Art", "primary_teacher_id": "tea1", "term_ids": ["t1"]}
    )
    for _ in range(2):
        again = run_target(target_config(**INVITE_ALL), singer_lines(records), tmp_path)
        assert again.returncode == 0, again.stderr
    assert sum(len(v) for v in eml_files(outbox).values()) == 5
    assert len(sms_lines(outbox)) == 3


def test_switches_off_invite_no_one(target_config: Callable[..., dict], tmp_path: Path) -> None:
    result = run_target(target_config(), singer_lines(district()), tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(
        Path(target_config()["database"]), "SELECT count(*) FROM outbox WHERE kind = 'invitation'"
    ) == [(0,)]
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_students_need_a_switch_and_a_way_to_reach_them(
    target_config: Callable[..., dict], tmp_path: Path
) -> None:
    result = run_target(target_config(invite_students=True), singer_lines(district()), tmp_path)
    assert result.returncode == 0, result.stderr
    rows = query(
        Path(target_config()["database"]),
        "SELECT o.channel, s.source_id FROM outbox o JOIN person_sources s ON s.person_id = o.person_id "
        "WHERE o.kind = 'invitation'",
    )
    assert rows == [("sms", "stu3")]  # only Fay has a phone; Dee and Eve have neither


def test_registered_person_is_added_without_invitation(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    assert run_target(target_config(), singer_lines(records), tmp_path).returncode == 0
    import duckdb

    with duckdb.connect(str(database)) as con:  # Ann signed up in Bloomz
        con.execute(
            "UPDATE people SET registered = true WHERE id = "
            "(SELECT person_id FROM person_sources WHERE source_id = 'tea1')"
        )
    records["sections"].append(
        {"id": "sec9", "school_id": "sch1", "name": "Art", "primary_teacher_id": "tea1", "term_ids": ["t1"]}
    )
    result = run_target(target_config(invite_teachers=True), singer_lines(records), tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(
        database,
        "SELECT cl.name FROM class_members m JOIN classes cl ON cl.id = m.class_id "
        "JOIN person_sources s ON s.person_id = m.person_id WHERE s.source_id = 'tea1' ORDER BY 1",
    ) == [("Art",), ("Homeroom - Smith",)]
    invited = query(
        database,
        "SELECT s.source_id FROM outbox o JOIN person_sources s ON s.person_id = o.person_id "
        "WHERE o.kind = 'invitation'",
    )
    assert ("tea1",) not in invited
