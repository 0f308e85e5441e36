"""bloomz-sync status, runs, plan and export on a store the real target filled."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.district import district, run_target, singer_lines

CLI = str(Path(sys.executable).with_name("bloomz-sync"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    database = tmp / "bloomz.duckdb"
    records = district()
    records["students"].append({"id": "stu9", "school_ids": "sch1"})
    result = run_target({"database": str(database)}, singer_lines(records), tmp)
    assert result.returncode == 0, result.stderr
    return database


def _cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--database", str(database), *args], capture_output=True, text=True, check=False
    )


def test_status_json_shows_the_last_import_of_each_school(filled):
    done = _cli(filled, "status", "--format", "json")

    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert [s["community"] for s in status] == ["clever:sch1", "clever:sch2"]
    lincoln = status[0]
    # warnings: the section whose class name is taken, the status e-mail that reached nobody (every
    # imported staff member starts as School Support Staff; notify_to is School Admin), and the two contacts
    # the contact filter leaves out, one line per value (run-level: every community shows them)
    assert (lincoln["run"], lincoln["status"], lincoln["errors"], lincoln["warnings"]) == (1, "applied", 1, 4)
    assert sorted(issue["stream"] for issue in lincoln["issues"] if issue["severity"] == "warning") == [
        "contacts",
        "contacts",
        "notify_to",
        "sections",
    ]
    assert lincoln["counts"]["class"] == {"create": 2, "skip": 1}
    assert lincoln["options"]["keep_manual_staff"] is True
    assert {
        "severity": "error",
        "stream": "students",
        "record_key": "stu9",
        "message": "school_ids: expected array, got varchar",
    } in lincoln["issues"]


def test_status_text_names_counts_and_issues(filled):
    done = _cli(filled, "status")

    # "Last Import Status": the same text as the Bulk Import Status e-mail (render.render_status_text).
    lincoln = done.stdout.split("Last Import Status of ")[1]
    assert lincoln.startswith("Lincoln Elementary (clever:sch1)")
    assert "Status: Completed" in lincoln
    assert "Classes                    1" in lincoln
    assert "- ERROR students stu9: school_ids: expected array, got varchar" in lincoln
    assert 'WARNING sections sec2: section not imported: class name "Homeroom - Smith" is taken' in lincoln


def test_runs_and_plan_explain_what_happened(filled):
    runs = _cli(filled, "runs")
    assert runs.stdout.splitlines()[1].split()[:2] == ["1", "applied"]

    plan = json.loads(_cli(filled, "plan", "1", "--entity", "class", "--format", "json").stdout)
    assert [(r["action"], r["source_id"]) for r in plan["rows"]] == [
        ("create", "sec1"),
        ("skip", "sec2"),
        ("create", "sec3"),
    ]
    assert plan["rows"][1]["reason"] == 'class name "Homeroom - Smith" is taken by section sec1'

    missing = _cli(filled, "plan", "42")
    assert missing.returncode != 0
    assert "no run 42" in missing.stderr


def test_export_json_has_communities_classes_and_people(filled):
    export = json.loads(_cli(filled, "export", "--format", "json").stdout)

    people = {(p["kind"], p["source_ids"][0]["id"]): p for p in export["people"]}
    gus = people[("parent", "con1")]
    assert (gus["first_name"], gus["phone"], gus["registered"]) == ("Gus", "+13125550199", False)
    assert people[("student", "stu1")]["student_id"] == "S-1"
    homeroom = next(c for c in export["classes"] if c["section_id"] == "sec1")
    assert (homeroom["name"], homeroom["status"], homeroom["community"]) == (
        "Homeroom - Smith",
        "active",
        "clever:sch1",
    )
    assert sorted((m["kind"], m["role"], m["origin"]) for m in homeroom["members"]) == [
        ("parent", "parent", "sync"),
        ("staff", "teacher", "sync"),
        ("student", "student", "sync"),
    ]
    lincoln = next(c for c in export["communities"] if c["key"] == "clever:sch1")
    assert lincoln["school_ids"] == ["sch1"]
    assert sorted(m["role"] for m in lincoln["members"]) == [
        "Parent",
        "School Support Staff",
        "School Support Staff",
        "Student",
        "Student",
    ]


def test_export_csv_writes_one_file_per_table(filled, tmp_path):
    done = _cli(filled, "export", "--format", "csv", "--output", str(tmp_path / "out"))

    assert done.returncode == 0, done.stderr
    with (tmp_path / "out" / "class_members.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert set(rows[0]) == {"class_id", "person_id", "kind", "role", "origin"}
    with (tmp_path / "out" / "people.csv").open() as handle:
        assert {r["source_ids"] for r in csv.DictReader(handle)} >= {"clever:con1", "clever:stu1"}


def test_export_csv_needs_a_folder(filled):
    done = _cli(filled, "export", "--format", "csv")
    assert done.returncode == 2
    assert "give a folder with --output" in done.stderr


def test_commands_on_a_missing_store_say_so(tmp_path):
    done = _cli(tmp_path / "nope.duckdb", "status")
    assert done.returncode == 1
    assert "no Bloomz store at" in done.stderr


def test_bloomz_database_names_the_store_when_no_option_does(filled, tmp_path):
    # From an empty folder, so the default data/bloomz.duckdb is not there to be read instead.
    env = {k: v for k, v in os.environ.items() if k != "BLOOMZ_DATABASE"}
    by_env = subprocess.run(
        [CLI, "status", "--format", "json"],
        env={**env, "BLOOMZ_DATABASE": str(filled)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    by_default = subprocess.run(
        [CLI, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert by_env.returncode == 0, by_env.stderr
    assert by_env.stdout == _cli(filled, "status", "--format", "json").stdout
    assert [s["community"] for s in json.loads(by_env.stdout)] == ["clever:sch1", "clever:sch2"]
    assert by_default.returncode == 1
    assert "no Bloomz store at" in by_default.stderr
    assert str(Path("data") / "bloomz.duckdb") in by_default.stderr
