"""Parents who stay the same person, family codes, and the people commands of bloomz-sync."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from target_bloomz.apply.family_code_format import is_family_code

from tests.support.district import district, query, run_target, singer_lines

CLI = str(Path(sys.executable).with_name("bloomz-sync"))


def cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--database", str(database), *args], capture_output=True, text=True, check=False
    )


def person_of(database: Path, source_id: str) -> int:
    return query(database, "SELECT person_id FROM person_sources WHERE source_id = ?", [source_id])[0][0]


def classes_of(database: Path, person_id: int) -> list[str]:
    rows = query(
        database,
        "SELECT cl.name FROM class_members m JOIN classes cl ON cl.id = m.class_id WHERE m.person_id = ? "
        "ORDER BY 1",
        [person_id],
    )
    return [name for (name,) in rows]


def churned(records: dict, *, email: str) -> dict:
    """The next night: Clever re-created Gus's contact (no sis_id) under a new id after an edit."""
    records["contacts"] = [c for c in records["contacts"] if c["id"] != "con1"] + [
        {"id": "con9", "first_name": "Gus", "last_name": "Lee-Smith", "email": email, "phone": "312-555-0199"}
    ]
    for link in records["student_contacts"]:
        if link["contact_id"] == "con1":
            link["contact_id"] = "con9"
    return records


def test_one_parent_of_students_in_two_schools_is_one_account(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    assert run_target(target_config(), singer_lines(district()), tmp_path).returncode == 0
    gus = person_of(database, "con1")
    assert query(database, "SELECT count(*) FROM people WHERE kind = 'parent'") == [(1,)]
    communities = query(
        database,
        "SELECT c.name, m.role FROM community_members m JOIN communities c ON c.id = m.community_id "
        "WHERE m.person_id = ? ORDER BY 1",
        [gus],
    )
    assert communities == [("Jefferson Middle", "Parent"), ("Lincoln Elementary", "Parent")]
    assert classes_of(database, gus) == ["Homeroom - Smith", "Math 7"]  # Dee's and Fay's classes


def test_churned_contact_id_is_matched_to_the_same_parent(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    first = run_target(target_config(invite_parents=True), singer_lines(records), tmp_path)
    assert first.returncode == 0, first.stderr
    gus = person_of(database, "con1")
    invitations = query(database, "SELECT count(*) FROM outbox WHERE kind = 'invitation'")

    # A scheduled nightly run with Full Data: con1 is gone, con9 is new (same e-mail, typed differently).
    records = churned(records, email=" GUS@Example.org ")
    night = run_target(target_config(invite_parents=True, full_data=True), singer_lines(records), tmp_path)
    assert night.returncode == 0, night.stderr
    assert person_of(database, "con9") == gus
    assert query(database, "SELECT count(*) FROM people WHERE kind = 'parent'") == [(1,)]
    assert query(database, "SELECT last_name FROM people WHERE id = ?", [gus]) == [("Lee-Smith",)]
    assert classes_of(database, gus) == ["Homeroom - Smith", "Math 7"]  # not removed, not added again
    assert query(database, "SELECT count(*) FROM outbox WHERE kind = 'invitation'") == invitations
    (message,) = query(database, "SELECT message FROM run_issues WHERE run_id = 2 AND record_key = 'con9'")[
        0:1
    ][0]
    assert message.startswith(f"matched to existing parent #{gus} (contact id con1 before): same student stu")
    assert "same e-mail" in message
    assert "gus@" not in message.lower()  # ids only, never the address

    explained = cli(database, "explain", "con9")
    assert explained.returncode == 0, explained.stderr
    assert f"Person #{gus} (parent)" in explained.stdout
    assert "clever parent con1 (first seen in run 1)" in explained.stdout
    assert "clever parent con9 (first seen in run 2)" in explained.stdout
    assert "Lincoln Elementary (clever:sch1) as Parent: sync, run 1" in explained.stdout
    assert "run 1 (applied): create class_member" in explained.stdout
    assert "contacts.include" in explained.stdout
    assert "run 2 warning: contacts con9: matched to existing parent" in explained.stdout


def test_a_new_contact_with_other_details_is_a_new_parent(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    assert run_target(target_config(), singer_lines(records), tmp_path).returncode == 0
    gus = person_of(database, "con1")
    records = churned(records, email="someone.else@example.org")
    records["contacts"][-1]["phone"] = None
    assert run_target(target_config(), singer_lines(records), tmp_path).returncode == 0
    assert person_of(database, "con9") != gus
    assert query(database, "SELECT count(*) FROM run_issues WHERE message LIKE 'matched%'") == [(0,)]


def test_a_second_guardian_sharing_the_family_email_is_not_merged(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    assert run_target(target_config(), singer_lines(records), tmp_path).returncode == 0
    # An incremental pull brings only what changed: a new guardian of Dee with Gus's e-mail (con1 not resent).
    delta = {
        "contacts": [{"id": "con7", "first_name": "Liv", "last_name": "Lee", "email": "gus@example.org"}],
        "student_contacts": [
            {"student_id": "stu1", "contact_id": "con7", "relationship": "Parent", "type": "Parent/Guardian"}
        ],
    }
    assert run_target(target_config(), singer_lines(delta, activate=False), tmp_path).returncode == 0
    assert person_of(database, "con7") != person_of(database, "con1")
    assert query(database, "SELECT count(*) FROM run_issues WHERE message LIKE 'matched%'") == [(0,)]


def test_students_without_a_parent_get_a_stable_family_code(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    for _ in range(2):
        assert run_target(target_config(), singer_lines(district()), tmp_path).returncode == 0
        codes = dict(
            query(
                database,
                "SELECT s.source_id, p.family_code FROM people p JOIN person_sources s ON s.person_id = p.id "
                "WHERE p.kind = 'student'",
            )
        )
        if _ == 0:
            first = codes
    # Eve's contacts are a grandparent (Family) and an emergency contact: none imported, so a code.
    assert codes["stu1"] is None
    assert codes["stu3"] is None
    assert is_family_code(codes["stu2"])
    assert codes == first  # the same code on the next run

    listed = cli(database, "family-codes", "--school", "Lincoln Elementary", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [(r["first_name"], r["student_id"], r["family_code"]) for r in rows] == [
        ("Eve", "S-2", codes["stu2"])
    ]
    letters = tmp_path / "letters.html"
    printed = cli(database, "family-codes", "--school", "sch1", "--format", "html", "--output", str(letters))
    assert printed.returncode == 0, printed.stderr
    page = letters.read_text()
    assert codes["stu2"] in page
    assert "Eve Lee" in page
    assert "Lincoln Elementary" in page
    unknown = cli(database, "family-codes", "--school", "Nowhere High")
    assert unknown.returncode != 0
    assert 'no school community "Nowhere High"' in unknown.stderr


def test_reinvite_after_a_pre_launch_import(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    assert run_target(target_config(), singer_lines(district()), tmp_path).returncode == 0  # invitations off
    outbox = tmp_path / "reinvite-outbox"
    args = ("reinvite", "--school", "Lincoln Elementary", "--role", "parents", "--outbox-dir", str(outbox))
    sent = cli(database, *args)
    assert sent.returncode == 0, sent.stderr
    assert "Lincoln Elementary: 1 e-mails and 1 text messages queued" in sent.stdout
    assert "Outbox: 2 sent" in sent.stdout
    assert len(list(outbox.glob("*.eml"))) == 1
    again = cli(database, *args)  # a retry the same day sends nothing twice
    assert "0 e-mails and 0 text messages queued" in again.stdout
    # A later sync with invitations on does not invite Gus to Lincoln again.
    later = run_target(target_config(invite_parents=True), singer_lines(district()), tmp_path)
    assert later.returncode == 0, later.stderr
    assert query(
        database, "SELECT count(*) FROM outbox WHERE kind = 'invitation' AND dedupe_key LIKE '%clever:sch1%'"
    ) == [(2,)]


def test_report_page_of_a_run(target_config: Callable[..., dict], database: Path, tmp_path: Path) -> None:
    assert run_target(target_config(), singer_lines(district()), tmp_path).returncode == 0
    page = tmp_path / "run1.html"
    # the README's form: a run over two schools gives one page with a section per school (issue 17)
    both = cli(database, "report", "1", "--html", str(page))
    assert both.returncode == 0, both.stderr
    assert "Lincoln Elementary" in page.read_text()
    assert "Jefferson Middle" in page.read_text()
    done = cli(database, "report", "1", "--school", "Jefferson Middle", "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "Jefferson Middle" in html
    assert "Bulk Import Status" in html
    assert "Completed" in html
    assert cli(database, "report", "9", "--html", str(page)).returncode != 0
