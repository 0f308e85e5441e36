"""Each school's Bulk Import Status lists its own errors and warnings and the run-level ones, not another's.

One run of the real target-bloomz executable over a two-school district (Lincoln sch1, Jefferson sch2) with
problems in each school, one shared by both, and one about the run itself; then what Ann (Lincoln's staff)
and Bob (Jefferson's) receive by SMTP, and what `bloomz-sync status` says of each school.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pytest
from target_bloomz import store
from target_bloomz.report.status import run_summary
from target_bloomz.store import duckdb_store

from tests.support.district import district, query, run_target, singer_lines
from tests.support.smtp import SmtpServer, body

CLI = str(Path(sys.executable).with_name("bloomz-sync"))
LINCOLN, JEFFERSON = "clever:sch1", "clever:sch2"

# (issue line start in the e-mail, the school it concerns: LINCOLN, JEFFERSON or None for both)
EXPECTED = [
    ("ERROR sections sec9: grades: expected array", LINCOLN),  # set aside: its school read as received
    ("ERROR students stu8: grade: expected string", JEFFERSON),
    ("ERROR student_contacts stu1/ghost: contact_id: unknown contact ghost", LINCOLN),  # the student's
    ("ERROR enrollments sec3/ghost: user_id: unknown student or staff member ghost", JEFFERSON),  # section's
    ('WARNING sections sec2: section not imported: class name "Homeroom - Smith" is taken', LINCOLN),
    ("WARNING contacts con4: phone number is not valid", JEFFERSON),  # parent of a Jefferson student only
    ("WARNING contacts con1: e-mail address is not valid", None),  # parent of students in both schools
    ("WARNING students stu4: e-mail address is not valid", None),  # a student of both schools
    ("WARNING students stu4: students.id_field: the student has no sis_id", None),  # no student id
    ("WARNING courses: not a standard roster stream: 1 records not imported", None),  # run-level
    # the district's contacts of types the default contact filter leaves out, one line per type (issue 18)
    ("WARNING contacts: contacts.include leaves out type Emergency: 1 contact(s) not imported", None),
    ("WARNING contacts: contacts.include leaves out type Family: 1 contact(s) not imported", None),
]


def _records() -> dict:
    records = district()
    records["staff"][1]["email"] = "bob.jones@example.org"  # Bob, Jefferson's teacher, reads its status
    records["sections"].append({"id": "sec9", "school_id": "sch1", "name": "Art", "grades": "K"})
    records["students"] += [
        {"id": "stu4", "school_ids": ["sch1", "sch2"], "first_name": "Jo", "email": "jo@@example"},
        {"id": "stu8", "school_ids": ["sch2"], "first_name": "Kim", "grade": 7},
    ]
    records["contacts"][0]["email"] = "gus@@example.org"  # Gus: parent of stu1 (sch1) and stu3 (sch2)
    records["contacts"].append({"id": "con4", "first_name": "Lu", "phone": "555-01"})
    records["student_contacts"] += [
        {"student_id": "stu3", "contact_id": "con4", "relationship": "Parent", "type": "Parent/Guardian"},
        {"student_id": "stu1", "contact_id": "ghost", "relationship": "Parent", "type": "Parent/Guardian"},
    ]
    records["enrollments"].append({"section_id": "sec3", "user_id": "ghost", "role": "student"})
    return records


def _courses() -> str:
    schema = {"properties": {"id": {"type": "string"}}}
    return "".join(
        json.dumps(message) + "\n"
        for message in (
            {"type": "SCHEMA", "stream": "courses", "schema": schema, "key_properties": ["id"]},
            {"type": "RECORD", "stream": "courses", "record": {"id": "c1"}},
        )
    )


@dataclass
class Run:
    database: Path
    emails: dict[str, EmailMessage]  # recipient -> their Bulk Import Status e-mail


@pytest.fixture(scope="module")
def run(smtp_server: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("issues-per-school")
    smtp_server.mailbox.messages.clear()
    config = {
        "database": str(tmp / "bloomz.duckdb"),
        "notify_to": ["School Support Staff"],
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
    }
    result = run_target(config, singer_lines(_records()) + _courses(), tmp)
    assert result.returncode == 0, result.stderr
    emails = {rcpt[0]: message for rcpt, message in smtp_server.mailbox.messages}
    assert sorted(emails) == ["ann.smith@example.org", "bob.jones@example.org"]
    return Run(tmp / "bloomz.duckdb", emails)


def _expected(community: str) -> list[str]:
    return [line for line, school in EXPECTED if school in (community, None)]


def _issue_lines(text: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if re.match(r"- (ERROR|WARNING) ", line)]


def _tally(text: str) -> tuple[int, int]:
    found = re.search(r"^(\d+) errors?, (\d+) warnings?\.\s*$", text, re.MULTILINE)
    assert found, text
    return int(found[1]), int(found[2])


@pytest.mark.parametrize(
    ("recipient", "community", "school"),
    [
        ("ann.smith@example.org", LINCOLN, "Lincoln Elementary"),
        ("bob.jones@example.org", JEFFERSON, "Jefferson Middle"),
    ],
)
def test_each_school_email_lists_its_own_and_the_run_level_issues(
    run: Run, recipient: str, community: str, school: str
) -> None:
    email = run.emails[recipient]
    text = body(email, "plain")
    lines = _issue_lines(text)

    for expected in _expected(community):
        assert any(line.startswith(expected) for line in lines), f"{expected!r} missing from {school}"
    assert len(lines) == len(_expected(community)), lines  # nothing of the other school
    errors = sum(line.startswith("ERROR") for line in lines)
    assert _tally(text) == (errors, len(lines) - errors)
    tally = f"{errors} errors, {len(lines) - errors} warnings"
    assert str(email["Subject"]) == f"Bulk Import Status: {school} (Clever): Completed, {tally}"
    html = body(email, "html")
    other = "sec9" if community == JEFFERSON else "stu8"
    assert other not in html
    assert "stu4" in html


def test_the_other_schools_records_are_not_named(run: Run) -> None:
    lincoln = body(run.emails["ann.smith@example.org"], "plain")
    jefferson = body(run.emails["bob.jones@example.org"], "plain")

    for absent in ("stu8", "sec3/ghost", "con4"):
        assert absent not in lincoln
    for absent in ("sec9", "stu1/ghost", "sec2"):
        assert absent not in jefferson


def test_status_json_counts_and_lists_each_schools_issues(run: Run) -> None:
    done = subprocess.run(
        [CLI, "--database", str(run.database), "status", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    status = {row["community"]: row for row in json.loads(done.stdout)}
    for community in (LINCOLN, JEFFERSON):
        row = status[community]
        lines = [
            " ".join(part for part in (i["severity"].upper(), i["stream"], i["record_key"]) if part)
            + f": {i['message']}"
            for i in row["issues"]
        ]
        expected = _expected(community)
        assert len(lines) == len(expected)
        for line in expected:
            assert any(found.startswith(line) for found in lines), f"{line!r} missing from {community}"
        errors = sum(i["severity"] == "error" for i in row["issues"])
        assert (row["errors"], row["warnings"]) == (errors, len(lines) - errors)
    # the store keeps every issue of the run once, whichever schools read it
    assert query(run.database, "SELECT count(*) FROM run_issues WHERE run_id = 1") == [(len(EXPECTED),)]


def test_status_text_of_each_school_matches_its_email(run: Run) -> None:
    done = subprocess.run(
        [CLI, "--database", str(run.database), "status", "--issues", "0"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lincoln, jefferson = done.stdout.split("Last Import Status of ")[1:]
    assert jefferson.startswith("Jefferson Middle (clever:sch2)")
    assert _issue_lines(jefferson) == _issue_lines(body(run.emails["bob.jones@example.org"], "plain"))
    assert _issue_lines(lincoln) == _issue_lines(body(run.emails["ann.smith@example.org"], "plain"))


def test_an_issue_recorded_before_store_version_6_stays_run_level(tmp_path: Path) -> None:
    database = tmp_path / "bloomz.duckdb"
    with duckdb.connect(str(database)) as con:  # a version-5 store with a run of both schools
        for version in range(1, 6):
            duckdb_store._UPGRADES[version](con)
        con.execute("INSERT INTO store_meta VALUES ('schema_version', '5')")
        con.execute(
            "INSERT INTO runs (id, source, scope, status, started_at) "
            "VALUES (1, 'clever', ['clever:sch1', 'clever:sch2'], 'applied', now())"
        )
        con.execute(
            "INSERT INTO run_issues VALUES (1, 'warning', 'students', 'stu4', 'e-mail address is not valid')"
        )

    with store.connect(database) as con:
        issues = {key: run_summary(con, 1, key)["issues"] for key in (LINCOLN, JEFFERSON)}

    assert (
        issues[LINCOLN]
        == issues[JEFFERSON]
        == [
            {
                "severity": "warning",
                "stream": "students",
                "record": "stu4",
                "message": "e-mail address is not valid",
            }
        ]
    )
