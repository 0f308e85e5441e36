"""tap-oneroster against the sandbox's OneRoster REST API: auth methods, paging, --test, errors, faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from roster_sandbox.testing import Sandbox, run_sandbox

from roster_streams import contract
from tests.support.connection import demo_school_counts, dropping_server, refused_url
from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config, without

# The demo district as OneRoster: 5 schools, 378 classes, 1004 students, 1002 contacts, 92 staff.
DEMO_COUNTS = {
    "contacts": 1002,
    "enrollments": 9406,
    "schools": 5,
    "sections": 378,
    "staff": 92,
    "student_contacts": 1004,
    "students": 1004,
    "terms": 5,
}


def test_a_full_sync_emits_every_standard_stream_valid_and_closed(full_run_11: TapRun) -> None:
    assert full_run_11.counts() == DEMO_COUNTS
    for stream, records in full_run_11.records.items():
        validator = contract.validator(stream)
        for record in records:
            assert not list(validator.iter_errors(record)), (stream, record)
    for stream in contract.STREAMS:
        messages = [m for m in full_run_11.messages if m.get("stream") == stream and m["type"] != "STATE"]
        # One ACTIVATE_VERSION, after the last record and with the records' version: the stream is whole.
        closing = messages[-1]
        assert closing["type"] == "ACTIVATE_VERSION", stream
        assert [m["type"] for m in messages].count("ACTIVATE_VERSION") == 1, stream
        assert {m["version"] for m in messages if m["type"] == "RECORD"} == {closing["version"]}, stream


def test_the_demo_district_maps_as_a_district_admin_would_expect(full_run_11: TapRun) -> None:
    sections = {s["id"]: s for s in full_run_11.records["sections"]}
    staff_ids = {s["id"] for s in full_run_11.records["staff"]}
    assert all(s["primary_teacher_id"] in staff_ids for s in sections.values() if s["primary_teacher_id"])
    assert sum(1 for s in sections.values() if s["primary_teacher_id"]) > 300
    assert {s["section_type"] for s in sections.values()} <= {"homeroom", "scheduled", None}
    roles = {role for s in full_run_11.records["staff"] for role in s["roles"]}
    assert {"teacher", "district_admin"} <= roles
    relationships = {link["relationship"] for link in full_run_11.records["student_contacts"]}
    assert relationships <= {"parent", "guardian", "relative"}
    students = {s["id"] for s in full_run_11.records["students"]}
    contacts = {c["id"] for c in full_run_11.records["contacts"]}
    assert all(link["student_id"] in students for link in full_run_11.records["student_contacts"])
    assert all(link["contact_id"] in contacts for link in full_run_11.records["student_contacts"])


@pytest.mark.parametrize(("version", "auth"), [("1.2", "oauth2"), ("1.1", "oauth1"), ("1.2", "oauth1")])
def test_every_version_and_auth_method_reads_the_same_district(
    demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path, version: str, auth: str
) -> None:
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, version, auth))

    assert run.returncode == 0, run.stderr[-3000:]
    for stream in contract.STREAMS:
        # `extra` carries the version's own fields (1.2 roles[], userMasterIdentifier): the rest is equal.
        assert without(run.records[stream], "extra") == without(full_run_11.records[stream], "extra"), stream
    assert demo_sandbox.client_secret not in run.stderr


def test_a_bearer_token_works(demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path) -> None:
    token = requests.post(
        demo_sandbox.oneroster_token_url,
        data={"grant_type": "client_credentials"},
        auth=(demo_sandbox.client_id, demo_sandbox.client_secret),
        timeout=10,
    ).json()["access_token"]
    config = sandbox_config(demo_sandbox, "1.2", "bearer", access_token=token)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts() == DEMO_COUNTS
    assert token not in run.stderr


def test_dash_dash_test_lists_the_schools_the_credentials_see(
    demo_sandbox: Sandbox, tmp_path: Path, demo_district_dir: Path
) -> None:
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.1", "oauth1"), "--test")

    assert run.returncode == 0, run.stderr[-3000:]
    assert "District: #DEMO_DISTRICT (5a0c91b95c7cc000010d417c)" in run.stderr
    assert "The credentials see 5 school(s) (id, name, counts):" in run.stderr
    for number, (school, (classes, students, teachers)) in enumerate(
        sorted(demo_school_counts(demo_district_dir).items()), start=1
    ):
        line = f"  {school}  School {number}  {classes} classes, {students} students, {teachers} teachers\n"
        assert line in run.stderr, line
    assert "#DEMO_DISTRICT  " not in run.stderr  # the district is an org, not one of the schools
    assert "Shared with the app: schools, classes, users, terms, enrollments" in run.stderr
    assert "NOT SHARED" not in run.stderr
    # a short report, not a sync: no Singer message, no METRIC line
    assert run.messages == []
    assert "METRIC" not in run.stderr
    assert len(run.stderr.splitlines()) < 20


def test_dash_dash_test_says_what_to_do_when_nothing_listens(tmp_path: Path) -> None:
    url = refused_url()
    config = {"base_url": url, "auth": "bearer", "access_token": "t"}
    run = run_tap(tmp_path, config, "--test")

    assert run.returncode == 1
    assert (
        f"Connection test failed: could not connect to the OneRoster server at {url} (connection refused)"
        in (run.stderr)
    )
    assert "roster-sandbox serve --port" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_sync_that_cannot_connect_ends_on_the_same_one_line(tmp_path: Path) -> None:
    # A sync retries (a night's network may come back); once the tries are spent it says why and what to do.
    url = refused_url()
    config = {"base_url": url, "auth": "bearer", "access_token": "t", "max_tries": 1}
    run = run_tap(tmp_path, config)

    assert run.returncode == 1
    assert (
        f"tap-oneroster stopped: could not connect to the OneRoster server at {url} (connection refused)"
        in run.stderr
    )
    assert "roster-sandbox serve --port" in run.stderr
    assert "Traceback" not in run.stderr


def test_dash_dash_test_does_not_retry_a_connection_that_cannot_be_made(tmp_path: Path) -> None:
    with dropping_server() as server:
        config = {
            "base_url": server.url,
            "token_url": f"{server.url}/token",
            "client_id": "c",
            "client_secret": "s",
        }
        run = run_tap(tmp_path, config, "--test")

    assert run.returncode == 1
    assert f"could not connect to the OneRoster token endpoint at {server.url}" in run.stderr
    assert server.connections == 1  # a sync tries max_tries (6) times, waiting between


def test_the_schools_setting_narrows_every_stream(
    demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path
) -> None:
    school = "5a25ff950a5f621109000004"
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, schools=[school]))

    assert run.returncode == 0, run.stderr[-3000:]
    assert [s["id"] for s in run.records["schools"]] == [school]
    assert run.records["sections"]
    assert all(s["school_id"] == school for s in run.records["sections"])
    assert run.records["students"]
    assert all(school in s["school_ids"] for s in run.records["students"])
    students = {s["id"] for s in run.records["students"]}
    assert all(link["student_id"] in students for link in run.records["student_contacts"])
    linked = {link["contact_id"] for link in run.records["student_contacts"]}
    assert {c["id"] for c in run.records["contacts"]} == linked
    assert 0 < len(students) < DEMO_COUNTS["students"]


def test_paging_without_headers_and_with_a_clamped_limit_reads_everything(
    demo_district_dir: Path, full_run_11: TapRun, tmp_path: Path
) -> None:
    with run_sandbox(demo_district_dir, max_page=37, total_count=False, link_header=False) as sandbox:
        run = run_tap(tmp_path, sandbox_config(sandbox, "1.2", page_size=100))

    assert run.returncode == 0, run.stderr[-3000:]
    for stream in contract.STREAMS:
        assert without(run.records[stream], "extra") == without(full_run_11.records[stream], "extra"), stream


def test_dash_dash_test_with_wrong_credentials_says_why_without_a_traceback(
    demo_sandbox: Sandbox, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, client_secret="wrong-secret"), "--test")

    assert run.returncode == 1
    assert "Connection test failed: OneRoster token request" in run.stderr
    assert "check the Client ID and Secret Key" in run.stderr
    assert "Traceback" not in run.stderr


def test_wrong_credentials_say_what_to_check_and_emit_nothing(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    oauth2 = run_tap(tmp_path, sandbox_config(demo_sandbox, client_secret="wrong-secret"))
    oauth1 = run_tap(tmp_path, sandbox_config(demo_sandbox, auth="oauth1", client_secret="wrong-secret"))

    for run in (oauth2, oauth1):
        assert run.returncode != 0
        assert "check the Client ID" in run.stderr
        assert "wrong-secret" not in run.stderr
        assert "Traceback" not in run.stderr
        assert run.stderr.count("tap-oneroster stopped:") == 1
        assert run.records == {}
    assert "token request" in oauth2.stderr
    assert "HTTP 401" in oauth2.stderr
    assert "GET /" in oauth1.stderr
    assert "unauthorisedrequest" in oauth1.stderr


def test_a_wrong_api_path_says_to_check_the_url(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, api_path="/ims/oneroster/v9"))

    assert run.returncode != 0
    assert "check the OneRoster API URL" in run.stderr


RECOVERABLE_FAULTS: list[dict[str, Any]] = [
    {"kind": "status", "status": 503, "path": "/ims/oneroster/v1p1/users", "after": 2, "count": 2},
    {"kind": "status", "status": 500, "path": "/ims/oneroster/v1p1/enrollments", "count": 1},
    {"kind": "rate_limit", "path": "/ims/oneroster/v1p1/classes", "count": 2, "reset_after": 1},
    {"kind": "cut", "path": "/ims/oneroster/v1p1/users", "after": 1, "count": 1},
    {"kind": "html", "status": 502, "path": "/ims/oneroster/v1p1/orgs", "count": 1},
    {"kind": "html", "status": 200, "path": "/ims/oneroster/v1p1/academicSessions", "count": 1},
    {"kind": "slow", "path": "/ims/oneroster/v1p1/courses", "delay": 0.5, "count": 1},
    {"kind": "expire_tokens", "path": "/ims/oneroster/v1p1/users", "after": 3, "count": 1},
    {"kind": "status", "status": 503, "path": "/oauth2/token", "count": 1},
]


@pytest.mark.parametrize("fault", RECOVERABLE_FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status', '')}")
def test_a_bad_night_loses_nothing(
    demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path, fault: dict[str, Any]
) -> None:
    demo_sandbox.set_faults(fault)
    try:
        run = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.1"))
        fired = demo_sandbox.faults()
    finally:
        demo_sandbox.clear_faults()

    assert run.returncode == 0, run.stderr[-3000:]
    assert sum(rule["fired"] for rule in fired["rules"]) >= 1, fired
    assert run.counts() == DEMO_COUNTS
    assert without(run.records["students"], "x") == without(full_run_11.records["students"], "x")


def test_a_server_that_keeps_failing_stops_with_a_clear_error(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    demo_sandbox.set_faults(
        {"kind": "status", "status": 500, "path": "/ims/oneroster/v1p1/classes", "count": None}
    )
    try:
        run = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.1", max_tries=3))
    finally:
        demo_sandbox.clear_faults()

    assert run.returncode == 1
    assert "OneRoster GET /classes: HTTP 500" in run.stderr
    assert "internal_server_error" in run.stderr
    assert "kept failing after retries" in run.stderr
    assert "Traceback" not in run.stderr
    # The stream that failed was never closed, so the target cannot take it as whole.
    assert "ACTIVATE_VERSION" not in run.stream_messages("sections")
    assert "ACTIVATE_VERSION" in run.stream_messages("contacts")  # read before the failure, and whole


def test_a_1_2_error_envelope_becomes_one_line_naming_the_request_and_the_cause(
    demo_sandbox: Sandbox, tmp_path: Path
) -> None:
    # OneRoster 1.2 answers errors as a bare imsx_StatusInfo object (1.1 wraps it in statusInfoSet).
    path = "/ims/oneroster/rostering/v1p2/classes"
    demo_sandbox.set_faults({"kind": "status", "status": 403, "path": path, "count": None})
    try:
        run = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.2"))
    finally:
        demo_sandbox.clear_faults()

    assert run.returncode == 1
    [line] = [line for line in run.stderr.splitlines() if "tap-oneroster stopped:" in line]
    assert "OneRoster GET /classes: HTTP 403" in line
    assert "internal_server_error; injected fault 403" in line  # imsx_codeMinor and imsx_description
    assert "ask the district to grant the API user access" in line
    assert "Traceback" not in run.stderr


def test_an_incremental_run_asks_only_for_what_changed_since_the_bookmark(
    demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path
) -> None:
    bookmarks = {
        stream: sorted(r["updated_at"] for r in full_run_11.records[stream])[
            len(full_run_11.records[stream]) // 2
        ]
        for stream in ("students", "contacts", "enrollments")
    }
    state = {
        "bookmarks": {
            stream: {"replication_key": "updated_at", "replication_key_value": value}
            for stream, value in bookmarks.items()
        }
    }
    run = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.2", incremental=True), state=state)

    assert run.returncode == 0, run.stderr[-3000:]
    for stream, bookmark in bookmarks.items():
        expected = [r for r in full_run_11.records[stream] if r["updated_at"] > bookmark]
        assert 0 < len(expected) < len(full_run_11.records[stream])
        assert without(run.records[stream], "extra") == without(expected, "extra"), stream
        # A delta is not the whole stream: it must not be closed as one.
        assert "ACTIVATE_VERSION" not in run.stream_messages(stream)
        final = run.last_state()["bookmarks"][stream]
        assert final["replication_key_value"] == max(r["updated_at"] for r in expected)
    # Streams without a bookmark are read whole on their first incremental run.
    assert len(run.records["schools"]) == DEMO_COUNTS["schools"]
    # Sections and links are rebuilt whole every run, and closed so the target replaces them.
    for stream in ("sections", "student_contacts"):
        assert len(run.records[stream]) == DEMO_COUNTS[stream]
        assert run.stream_messages(stream)[-1] == "ACTIVATE_VERSION"


def test_a_short_lived_token_is_renewed_before_it_expires(
    demo_district_dir: Path, full_run_11: TapRun, tmp_path: Path
) -> None:
    # 25 data responses held 0.2 s each: the run outlives the 4 s token however fast the machine is, and
    # each hold stays well inside the refresh margin (a tenth of the lifetime, 0.4 s), leaving room for a
    # loaded machine's delay between the tap's check of the token and the server's.
    slow = "slow:delay=0.2,count=25,path=/ims/oneroster/v1p1"
    with run_sandbox(demo_district_dir, token_lifetime=4, fault=[slow]) as sandbox:
        run = run_tap(tmp_path, sandbox_config(sandbox, "1.1", "oauth2"))

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.counts() == DEMO_COUNTS
    assert run.stderr.count("Requesting new access token") > 1
    assert "HTTP 401" not in run.stderr  # renewed in time, never refused


def test_each_collection_is_fetched_once_per_run(full_run_11: TapRun) -> None:
    # Four streams are built from /users and two from /enrollments: later ones replay the run's spool.
    passes = [
        json.loads(line.split("METRIC: ", 1)[1])["tags"]["endpoint"]
        for line in full_run_11.stderr.splitlines()
        if '"metric":"http_request_count"' in line
    ]
    assert sorted(passes) == sorted(
        ["/orgs", "/academicSessions", "/courses", "/classes", "/users", "/enrollments"]
    )
