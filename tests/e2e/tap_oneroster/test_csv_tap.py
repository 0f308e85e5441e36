"""tap-oneroster reading CSV bundles end to end: bulk, delta, absent files, Skyward quirks, bad rows."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox
from tap_oneroster.tap import TapOneRoster

from roster_streams import contract
from tests.support.oneroster_tap import run_tap, sandbox_config, without, write_bundle, zip_folder

SANDBOX_CLI = str(Path(sys.executable).parent / "roster-sandbox")

USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
)
BULK = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    "dist-1,,,Lincoln District,district,D1,\n"
    "sch-1,,,Lincoln Elementary,school,0042,dist-1\n"
    "sch-2,,,Lincoln Middle,school,0043,dist-1\n",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
    "schoolYear\n"
    "term-1,,,Fall 2026,term,2026-08-20,2026-12-20,,2027\n",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
    "orgSourcedId,subjects,subjectCodes\n"
    "crs-1,,,,Math 5,M5,05,sch-1,Math,\n",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
    "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
    'cls-1,,,Math 5 - Hill,05,crs-1,M5-1,scheduled,,sch-1,term-1,Math,,"1,1,2"\n'
    "cls-2,,,Homeroom 7,07,crs-1,HR7,homeroom,,sch-2,term-1,,,\n",
    "users.csv": USERS_HEADER
    + "stu-1,,,true,sch-1,student,ava,{StateID:ST-99},Ava,Stone,,10001,,,,par-1,05,\n"
    "stu-2,,,true,sch-2,student,ben,,Ben,Stone,,10002,,,,par-2,07,\n"
    'par-1,,,true,sch-1,parent,pat,,Pat,Stone,,,pat@example.net,555-0100,,"stu-1,stu-2",,\n'
    "par-2,,,true,sch-2,guardian,gil,,Gil,Moss,,,,,,,,\n"
    "t-1,,,true,sch-1,teacher,tom,,Tom,Hill,,T100,tom@example.net,,,,,\n"
    "t-1,,,true,sch-2,administrator,tom,,Tom,Hill,,T100,tom@example.net,,,,,\n"
    "oops,,,true\n",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
    "primary,beginDate,endDate\n"
    "e1,,,cls-1,sch-1,t-1,teacher,true,,\n"
    "e2,,,cls-1,sch-1,stu-1,student,false,,\n"
    "e3,,,cls-2,sch-2,stu-2,student,false,,\n",
}
BULK_MANIFEST = {"oneroster.version": "1.1"} | {f"file.{name[:-4]}": "bulk" for name in BULK}


@pytest.fixture
def bulk_bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bulk", BULK_MANIFEST | {"file.demographics": "absent"}, BULK)


def test_a_bulk_bundle_becomes_closed_valid_standard_streams(bulk_bundle: Path, tmp_path: Path) -> None:
    run = run_tap(tmp_path, {"csv_path": str(bulk_bundle)})

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts() == {
        "contacts": 2,
        "enrollments": 3,
        "schools": 2,
        "sections": 2,
        "staff": 1,
        "student_contacts": 3,
        "students": 2,
        "terms": 1,
    }
    for stream, records in run.records.items():
        for record in records:
            assert not list(contract.validator(stream).iter_errors(record)), (stream, record)
        # users.csv has a row the tap cannot read: the streams built from it are not whole, so they do not
        # end with ACTIVATE_VERSION (no removal may follow from them); the others do.
        closed = stream not in ("students", "staff", "contacts", "student_contacts")
        assert ([k for k in run.stream_messages(stream) if k != "STATE"][-1] == "ACTIVATE_VERSION") == closed
    # Skyward quirks: one person in several staff rows, and repeated periods.
    (staff,) = run.records["staff"]
    assert staff["school_ids"] == ["sch-1", "sch-2"]
    assert staff["roles"] == ["teacher", "school_admin"]
    section = next(s for s in run.records["sections"] if s["id"] == "cls-1")
    assert (section["period"], section["primary_teacher_id"], section["course_name"]) == (
        "1, 2",
        "t-1",
        "Math 5",
    )
    # Links declared on both sides are written once; one only the student declares is written too.
    links = [(x["student_id"], x["contact_id"], x["relationship"]) for x in run.records["student_contacts"]]
    assert sorted(links) == [
        ("stu-1", "par-1", "parent"),
        ("stu-2", "par-1", "parent"),
        ("stu-2", "par-2", "guardian"),
    ]
    # The broken row is named with its file and line, and everything else was read.
    where = "users.csv line 8: malformed row skipped: 4 fields where the header has 18 (sourcedId oops)"
    assert where in run.stderr


def test_a_zip_bundle_gives_the_same_records(bulk_bundle: Path, tmp_path: Path) -> None:
    archive = zip_folder(bulk_bundle, tmp_path / "bundle.zip", prefix="oneroster/")
    from_folder = run_tap(tmp_path, {"csv_path": str(bulk_bundle)})
    from_zip = run_tap(tmp_path, {"csv_path": str(archive)})

    assert from_zip.returncode == 0, from_zip.stderr[-3000:]
    assert from_zip.records == from_folder.records


def test_the_roster_rests_only_in_a_private_spool_removed_when_the_run_ends(
    bulk_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    archive = zip_folder(bulk_bundle, tmp_path / "bundle.zip")
    tap = TapOneRoster(config={"csv_path": str(archive)}, parse_env_config=False)
    tap.collections.table("users")

    spool = tap.workdir
    assert spool.parent == temp / f"bloomz-sync-{os.getuid()}"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert (spool / "users.csv").exists()  # taken out of the zip: in the spool, nowhere else
    tap.close()
    assert not spool.exists()

    run = run_tap(tmp_path, {"csv_path": str(archive)})  # a whole run, as Meltano starts it
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(spool.parent.iterdir()) == []


def test_a_delta_bundle_marks_deletions_and_closes_nothing(tmp_path: Path) -> None:
    users = USERS_HEADER + (
        "stu-1,tobedeleted,2026-10-02T08:00:00Z,true,sch-1,student,,,Ava,Stone,,10001,,,,,,\n"
        "stu-3,active,2026-10-02T09:00:00Z,true,sch-1,student,,,Cy,Stone,,10003,,,,,,\n"
        "t-9,inactive,2026-10-02T10:00:00Z,true,sch-1,teacher,,,Al,Lee,,,,,,,,\n"
    )
    manifest = {"oneroster.version": "1.1", "file.users": "delta", "file.orgs": "absent"}
    bundle = write_bundle(tmp_path / "delta", manifest, {"users.csv": users})
    run = run_tap(tmp_path, {"csv_path": str(bundle)})

    assert run.returncode == 0, run.stderr[-3000:]
    students = {s["id"]: s for s in run.records["students"]}
    assert students["stu-1"]["_sdc_deleted_at"] == "2026-10-02T08:00:00Z"
    assert "_sdc_deleted_at" not in students["stu-3"]
    assert run.records["staff"][0]["_sdc_deleted_at"] == "2026-10-02T10:00:00Z"
    # Neither a delta file nor an absent one is a whole stream.
    for stream in contract.STREAMS:
        assert "ACTIVATE_VERSION" not in run.stream_messages(stream), stream


def test_a_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    run = run_tap(tmp_path, {"csv_path": str(tmp_path / "nowhere.zip")})

    assert run.returncode != 0
    assert f"OneRoster CSV bundle {tmp_path / 'nowhere.zip'} does not exist" in run.stderr
    assert run.records == {}


@pytest.mark.parametrize(("version", "bundle_name"), [("1.1", "bundle-1.1"), ("1.2", "bundle-1.2.zip")])
def test_the_same_district_over_rest_and_as_csv_gives_the_same_records(
    demo_sandbox: Sandbox, demo_district_dir: Path, tmp_path: Path, version: str, bundle_name: str
) -> None:
    bundle = tmp_path / bundle_name
    exported = subprocess.run(
        [SANDBOX_CLI, "export-csv", str(demo_district_dir), "--version", version, "--out", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    over_rest = run_tap(tmp_path, sandbox_config(demo_sandbox, version))
    from_csv = run_tap(tmp_path, {"csv_path": str(bundle)})

    assert over_rest.returncode == 0, over_rest.stderr[-3000:]
    assert from_csv.returncode == 0, from_csv.stderr[-3000:]
    for stream in contract.STREAMS:
        assert from_csv.records[stream], stream
        # A bulk CSV file leaves dateLastModified blank; everything else, `extra` included, is the same.
        assert without(from_csv.records[stream], "updated_at") == without(
            over_rest.records[stream], "updated_at"
        )
