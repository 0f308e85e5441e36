"""OneRoster CSV bundles of the same district: bulk or delta, 1.1 or 1.2, zip or folder."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from roster_sandbox import dumpfile


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roster_sandbox", *args], capture_output=True, text=True, check=False
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk_11_zip_of_the_demo_district(demo_district_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    result = cli("export-csv", str(demo_district_dir), "--version", "1.1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as bundle:
        files = {name: bundle.read(name).decode() for name in bundle.namelist()}
    assert {
        "manifest.csv",
        "orgs.csv",
        "users.csv",
        "classes.csv",
        "enrollments.csv",
        "academicSessions.csv",
        "courses.csv",
        "demographics.csv",
    } <= set(files)
    manifest = {r["propertyName"]: r["value"] for r in rows(files["manifest.csv"])}
    assert manifest["oneroster.version"] == "1.1"
    assert manifest["file.users"] == "bulk"
    assert manifest["file.resources"] == "absent"
    users = rows(files["users.csv"])
    clever_ids = {u["id"] for u in dumpfile.read_objects(demo_district_dir / "users.json")}
    assert {u["sourcedId"] for u in users} == clever_ids  # the same people as the Clever view
    assert all(u["status"] == "" and u["dateLastModified"] == "" for u in users)
    steve = next(u for u in users if u["sourcedId"] == "5a25ffb0c1bc2a00360003ed")
    assert (steve["role"], steve["givenName"], steve["grades"]) == ("student", "Steve", "KG")
    two_schools = next(u for u in users if u["sourcedId"] == "5a25ffb0c1bc2a00360003ee")
    assert two_schools["orgSourcedIds"] == "5a25ff950a5f621109000004,5a25ff950a5f621109000005"
    assert len(rows(files["classes.csv"])) == 378


def test_delta_12_folder_after_a_night(tmp_path: Path) -> None:
    district = tmp_path / "d"
    assert cli("generate", "tiny", "--seed", "2", "--out", str(district)).returncode == 0
    assert cli("advance", str(district), "--change", "10", "--seed", "2").returncode == 0
    events = dumpfile.read_objects(district / "events.json")
    night = events[0]["created"]
    out = tmp_path / "delta"
    result = cli(
        "export-csv",
        str(district),
        "--version",
        "1.2",
        "--out",
        str(out),
        "--delta-since",
        "2025-07-31T23:00:00Z",
    )
    assert result.returncode == 0, result.stderr
    manifest = {r["propertyName"]: r["value"] for r in rows((out / "manifest.csv").read_text())}
    assert manifest["oneroster.version"] == "1.2"
    assert manifest["file.users"] == "delta"
    assert manifest["file.roles"] == "delta"
    users = rows((out / "users.csv").read_text())
    deleted = {e["data"]["object"]["id"] for e in events if e["type"] == "users.deleted"}
    assert {u["sourcedId"] for u in users if u["status"] == "tobedeleted"} == deleted
    assert all(u["dateLastModified"] == night for u in users)
    created = {e["data"]["object"]["id"] for e in events if e["type"] == "users.created"}
    assert created <= {u["sourcedId"] for u in users if u["status"] == "active"}
    withdrawn = {
        e["data"]["object"]["id"]
        for e in events
        if e["type"] == "users.deleted" and "student" in e["data"]["object"]["roles"]
    }
    demographics = rows((out / "demographics.csv").read_text())
    assert withdrawn
    assert {d["sourcedId"] for d in demographics if d["status"] == "tobedeleted"} == withdrawn
    roles = rows((out / "roles.csv").read_text())
    assert {r["userSourcedId"] for r in roles} == {u["sourcedId"] for u in users}
    assert all(u["primaryOrgSourcedId"] for u in users)


def test_bad_delta_date_is_refused(demo_district_dir: Path, tmp_path: Path) -> None:
    result = cli(
        "export-csv",
        str(demo_district_dir),
        "--version",
        "1.2",
        "--out",
        str(tmp_path / "x"),
        "--delta-since",
        "yesterday",
    )
    assert result.returncode == 1
    assert "--delta-since" in result.stderr
