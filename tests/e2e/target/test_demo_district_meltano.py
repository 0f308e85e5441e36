"""Clever's real demo district end to end: `meltano run tap-clever target-bloomz` against the sandbox.

The expected numbers are computed here from the raw Clever dump, independently of the target's code.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.support.district import query
from tests.support.project import meltano, meltano_env, pristine_project

pytestmark = pytest.mark.e2e


def _demo_expectations(demo_dir: Path) -> dict[str, int]:
    users = [u["data"] for u in json.loads((demo_dir / "users.json").read_text())["data"]]
    sections = [s["data"] for s in json.loads((demo_dir / "sections.json").read_text())["data"]]
    students = {u["id"] for u in users if "student" in u["roles"]}
    parents = {
        u["id"]
        for u in users
        if "contact" in u["roles"]
        and any(
            r["type"] == "Parent/Guardian" and r["student"] in students
            for r in u["roles"]["contact"]["student_relationships"]
        )
    }
    return {
        "classes": len({(s["school"], s["name"]) for s in sections}),
        "skipped_sections": len(sections) - len({(s["school"], s["name"]) for s in sections}),
        "students": len(students),
        "parents": len(parents),
        "teachers": len({u["id"] for u in users if "teacher" in u["roles"]}),
    }


@pytest.fixture(scope="module")
def meltano_project(tmp_path_factory: pytest.TempPathFactory, demo_sandbox) -> tuple[Path, dict[str, str]]:
    """The committed project pointed at the demo sandbox (with the sandbox environment's token)."""
    project = pristine_project(tmp_path_factory.mktemp("meltano"))
    done = meltano(
        project,
        "--environment=sandbox",
        "config",
        "set",
        "tap-clever",
        "api_url",
        demo_sandbox.clever_api_url,
    )
    assert done.returncode == 0, done.stderr
    return project, meltano_env()


def _contact_row(output: str, field: str, value: str) -> tuple[int, bool]:
    """(links, imported?) of one row of the dry run's contact value table (Meltano prefixes each line)."""
    found = re.findall(rf"\b{field} +{re.escape(value)} +(\d+)(?: +(imported))? *$", output, re.MULTILINE)
    assert len(found) == 1, [line for line in output.splitlines() if "Contact field" in line or value in line]
    return int(found[0][0]), found[0][1] == "imported"


def _meltano_run(project: Path, env: dict[str, str], **settings: str) -> subprocess.CompletedProcess[str]:
    run_env = dict(env, **{f"TARGET_BLOOMZ_{k.upper()}": v for k, v in settings.items()})
    return meltano(project, "run", "tap-clever", "target-bloomz", env=run_env)


def test_the_demo_expectations_are_the_literal_demo_counts(demo_district_dir):
    # The numbers are pinned twice: computed from the dump (below) and as the demo district's known figures.
    assert _demo_expectations(demo_district_dir) == {
        "classes": 349,
        "skipped_sections": 29,
        "students": 1004,
        "parents": 226,  # contacts with a Parent/Guardian link (the Clever default's contact filter)
        "teachers": 89,
    }


def test_demo_district_lands_through_meltano_run(meltano_project, demo_district_dir):
    project, env = meltano_project
    expected = _demo_expectations(demo_district_dir)
    database = project / "data" / "bloomz.duckdb"  # the target's default inside the Meltano project

    dry = _meltano_run(project, env, dry_run="true")
    assert dry.returncode == 0, dry.stderr[-3000:]
    # Both contact fields' values with their link counts; the default imports type Parent/Guardian.
    assert "Contact field values (the mapping imports type in Parent/Guardian):" in dry.stderr
    assert {
        (field, value): _contact_row(dry.stderr, field, value)
        for field, value in (
            ("relationship", "Other"),
            ("type", "Family"),
            ("type", "Other"),
            ("type", "Parent/Guardian"),
        )
    } == {
        ("relationship", "Other"): (1004, False),
        ("type", "Family"): (536, False),
        ("type", "Other"): (241, False),
        ("type", "Parent/Guardian"): (227, True),
    }
    assert query(database, "SELECT count(*) FROM classes") == [(0,)]

    done = _meltano_run(project, env)

    assert done.returncode == 0, done.stderr[-3000:]
    assert query(database, "SELECT status FROM runs ORDER BY id") == [("dry_run",), ("applied",)]
    assert query(database, "SELECT count(*) FROM classes") == [(expected["classes"],)]
    assert query(
        database, "SELECT count(*) FROM run_issues WHERE run_id = 2 AND message LIKE '%is taken by section%'"
    ) == [(expected["skipped_sections"],)]
    assert query(database, "SELECT kind, count(*) FROM people GROUP BY ALL ORDER BY ALL") == [
        ("parent", expected["parents"]),
        ("staff", expected["teachers"]),
        ("student", expected["students"]),
    ]
    assert query(database, "SELECT count(*) FROM run_issues WHERE run_id = 2 AND severity = 'error'") == [
        (0,)
    ]
    assert query(
        database,
        "SELECT DISTINCT role FROM community_members m JOIN people p ON p.id = m.person_id "
        "WHERE p.kind = 'staff'",
    ) == [("School Support Staff",)]

    # Meltano saved the bookmark, and the same pull again changes nothing.
    again = _meltano_run(project, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert query(database, "SELECT count(*) FROM plan_rows WHERE run_id = 3 AND action <> 'skip'") == [(0,)]

    # An option set through the environment takes effect: TARGET_BLOOMZ_FULL_DATA=true removes a class
    # member the source does not have (here a synced membership the source never sent).
    with duckdb.connect(str(database)) as con:
        con.execute(
            """INSERT INTO class_members (class_id, person_id, role, origin)
               SELECT (SELECT min(id) FROM classes), p.id, 'student', 'sync' FROM people p
               WHERE p.kind = 'student' AND p.id NOT IN (
                   SELECT person_id FROM class_members WHERE class_id = (SELECT min(id) FROM classes))
               ORDER BY p.id LIMIT 1"""
        )
    full = _meltano_run(project, env, full_data="true")
    assert full.returncode == 0, full.stderr[-3000:]
    assert query(database, "SELECT status, options->>'full_data' FROM runs WHERE id = 4") == [
        ("applied", "true")
    ]
    assert query(
        database,
        "SELECT entity, action, count(*) FROM plan_rows WHERE run_id = 4 AND action <> 'skip' GROUP BY ALL",
    ) == [("class_member", "remove", 1)]
    assert query(database, "SELECT count(*) FROM class_members") == query(
        database, "SELECT count(*) FROM plan_rows WHERE run_id = 2 AND entity = 'class_member'"
    )
