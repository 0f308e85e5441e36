"""'The next night': the directory moves on and events.json records exactly what changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from roster_sandbox import dumpfile
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support import clever_spec


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roster_sandbox", *args], capture_output=True, text=True, check=False
    )


def snapshot(directory: Path) -> dict[str, dict[str, dict]]:
    return {
        name: {r["id"]: r for r in dumpfile.read_objects(directory / f"{name}.json")}
        for name in ("users", "sections")
    }


@pytest.fixture
def district(tmp_path: Path) -> Path:
    assert cli("generate", "small", "--seed", "4", "--out", str(tmp_path / "d")).returncode == 0
    return tmp_path / "d"


def test_events_match_exactly_what_changed(district: Path) -> None:
    before = snapshot(district)
    result = cli("advance", str(district), "--change", "3", "--seed", "9")
    assert result.returncode == 0, result.stderr
    assert "students withdrawn" in result.stdout
    after = snapshot(district)
    events = [e for e in dumpfile.read_objects(district / "events.json")]
    assert events
    expected = set()
    for name in ("users", "sections"):
        old, new = before[name], after[name]
        expected |= {(f"{name}.created", i) for i in set(new) - set(old)}
        expected |= {(f"{name}.deleted", i) for i in set(old) - set(new)}
        expected |= {(f"{name}.updated", i) for i in set(old) & set(new) if old[i] != new[i]}
    assert {(e["type"], e["data"]["object"]["id"]) for e in events} == expected
    assert len(events) == len(expected)  # one event per change
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert len({e["created"] for e in events}) == 1
    for event in events:
        if event["type"].endswith(".updated"):
            obj, previous = event["data"]["object"], event["data"]["previous_attributes"]
            old = before[event["type"].split(".")[0]][obj["id"]]
            assert previous
            assert all(old.get(k) == v for k, v in previous.items())
            assert obj == after[event["type"].split(".")[0]][obj["id"]]
        if event["type"].endswith(".deleted"):
            assert (
                event["data"]["object"] == before[event["type"].split(".")[0]][event["data"]["object"]["id"]]
            )
    types = {e["type"] for e in events}
    assert {"users.created", "users.updated", "users.deleted", "sections.updated"} <= types


def test_contacts_without_sis_id_churn_and_with_sis_id_keep_their_id(district: Path) -> None:
    before = snapshot(district)
    assert cli("advance", str(district), "--change", "5", "--seed", "1").returncode == 0
    events = dumpfile.read_objects(district / "events.json")
    updated_contacts = [
        e["data"]["object"]
        for e in events
        if e["type"] == "users.updated" and "contact" in e["data"]["object"]["roles"]
    ]
    assert updated_contacts
    assert all(c["roles"]["contact"]["sis_id"] for c in updated_contacts)
    created = [
        e["data"]["object"]
        for e in events
        if e["type"] == "users.created" and "contact" in e["data"]["object"]["roles"]
    ]
    churned = 0
    for event in events:
        gone = event["data"]["object"]
        if (
            event["type"] != "users.deleted"
            or "contact" not in gone["roles"]
            or gone["roles"]["contact"]["sis_id"]
        ):
            continue
        assert gone == before["users"][gone["id"]]
        successors = [c for c in created if c["name"] == gone["name"] and c["created"] != gone["created"]]
        churned += bool(successors)
    assert churned >= 1


def test_advance_is_deterministic(district: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(district, twin)
    for directory in (district, twin):
        assert cli("advance", str(directory), "--change", "2", "--seed", "3").returncode == 0
    for name in ("users", "sections", "events"):
        assert (district / f"{name}.json").read_bytes() == (twin / f"{name}.json").read_bytes()


def clever_get(sandbox: Sandbox, uri: str) -> dict:
    response = requests.get(
        sandbox.clever_api_url + uri, headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_running_server_sees_each_night(district: Path, shared_dir: Path) -> None:
    spec = shared_dir / "reference" / "clever" / "v3.0-events.yml"
    with run_sandbox(district) as sandbox:
        assert clever_get(sandbox, "/v3.0/events")["data"] == []
        assert cli("advance", str(district), "--change", "2", "--seed", "1").returncode == 0
        first = clever_get(sandbox, "/v3.0/events?limit=10000")
        assert first["data"]
        assert clever_spec.errors(spec, "EventsResponse", first) == []
        for item in first["data"]:
            assert clever_spec.errors(spec, item["data"]["type"], item["data"]) == []
        newest = clever_get(sandbox, "/v3.0/events?ending_before=last&limit=1")["data"]
        last_id = first["data"][-1]["data"]["id"]
        assert [e["data"]["id"] for e in newest] == [last_id]
        assert clever_get(sandbox, f"/v3.0/events?starting_after={last_id}")["data"] == []
        assert cli("advance", str(district), "--change", "2", "--seed", "2").returncode == 0
        second = clever_get(sandbox, f"/v3.0/events?starting_after={last_id}&limit=10000")["data"]
        assert second
        assert all(e["data"]["id"] > last_id for e in second)
        users_only = clever_get(sandbox, "/v3.0/events?record_type=users&limit=10000")["data"]
        assert users_only
        assert {e["data"]["type"].split(".")[0] for e in users_only} == {"users"}
        school = next(
            e["data"]["data"]["object"]["school"] for e in second if e["data"]["type"] == "sections.updated"
        )
        about_school = clever_get(sandbox, f"/v3.0/events?school={school}&record_type=sections&limit=10000")[
            "data"
        ]
        assert about_school
        assert {e["data"]["data"]["object"]["school"] for e in about_school} == {school}
        one = clever_get(sandbox, f"/v3.0/events/{last_id}")
        assert one["data"]["id"] == last_id


def test_oneroster_serves_deletions_as_tobedeleted(district: Path) -> None:
    assert cli("advance", str(district), "--change", "2", "--seed", "1").returncode == 0
    events = dumpfile.read_objects(district / "events.json")
    withdrawn = {
        e["data"]["object"]["id"]
        for e in events
        if e["type"] == "users.deleted" and "student" in e["data"]["object"]["roles"]
    }
    night = events[0]["created"]
    with run_sandbox(district) as sandbox:
        token = requests.post(
            sandbox.oneroster_token_url,
            auth=(sandbox.client_id, sandbox.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=10,
        ).json()["access_token"]
        response = requests.get(
            f"{sandbox.oneroster_base_url('1.1')}/students",
            headers={"Authorization": f"Bearer {token}"},
            params={"filter": f"dateLastModified>='{night}'", "limit": "10000"},
            timeout=30,
        )
        delta = response.json()["users"]
    gone = {u["sourcedId"] for u in delta if u["status"] == "tobedeleted"}
    assert gone == withdrawn


def test_advance_refuses_what_is_not_a_district(tmp_path: Path) -> None:
    result = cli("advance", str(tmp_path), "--change", "2")
    assert result.returncode == 1
    assert "users.json" in result.stderr
    (tmp_path / "users.json").write_text("{}")
    (tmp_path / "sections.json").write_text("{}")
    (tmp_path / "districts.json").write_text(json.dumps({"data": []}))
    assert cli("advance", str(tmp_path), "--change", "0").returncode == 1


def test_students_change_school_and_people_join_another_schools_sections(district: Path) -> None:
    before = snapshot(district)
    result = cli("advance", str(district), "--change", "5", "--seed", "2")
    assert result.returncode == 0, result.stderr
    for change in ("students changed school", "students in another school's section"):
        assert change in result.stdout
    assert "teachers added to another school's section" in result.stdout
    after = snapshot(district)
    events = {
        (e["type"], e["data"]["object"]["id"]): e["data"]
        for e in dumpfile.read_objects(district / "events.json")
    }
    school_of = {sid: s["school"] for sid, s in after["sections"].items()}

    movers = [
        uid
        for uid, user in after["users"].items()
        if "student" in user["roles"]
        and uid in before["users"]
        and user["roles"]["student"]["school"] != before["users"][uid]["roles"]["student"]["school"]
    ]
    assert movers
    for uid in movers:
        new, old = after["users"][uid]["roles"]["student"]["school"], before["users"][uid]["roles"]["student"]
        assert after["users"][uid]["roles"]["student"]["schools"] == [new]
        assert events[("users.updated", uid)]["previous_attributes"]["roles"]["student"] == old
        now_in = {sid for sid, s in after["sections"].items() if uid in s["students"]}
        assert {school_of[sid] for sid in now_in} == {new}, "out of the old school's sections, into new ones"

    def works_at(uid: str) -> set[str]:
        teacher = before["users"][uid]["roles"]["teacher"]
        return {teacher["school"], *teacher.get("schools", [])}

    outsiders = [
        (sid, uid)
        for sid, section in after["sections"].items()
        for uid in set(section["teachers"]) - set(before["sections"][sid]["teachers"])
        if uid in before["users"] and section["school"] not in works_at(uid)
    ]
    assert outsiders
    for sid, uid in outsiders:
        previous = events[("sections.updated", sid)]["previous_attributes"]
        assert uid not in previous["teachers"]

    visitors = [
        uid
        for sid, section in after["sections"].items()
        for uid in set(section["students"]) - set(before["sections"][sid]["students"])
        if section["school"] != after["users"][uid]["roles"]["student"]["school"]
    ]
    assert visitors, "a student takes a section at another school"
