"""`tap-clever --test`, the token lookup, and the seed's admin rule (admin_email)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.connection import demo_school_counts, dropping_server, refused_url

ALL_BUT_CONTACTS = (
    "read:district_admins,read:school_admins,read:schools,read:sections,read:students,read:teachers,"
    "read:terms,read:courses"
)
SCHOOL = "5a25ff950a5f621109000004"
DISTRICT_ADMIN = "vicky.enalen@clever.com"
TEACHER = "braeden_glover@example.net"
NOT_CHECKED = (
    "`schools` is set but `admin_email` is not: the rule that a school-level import needs a Clever admin"
)


@pytest.fixture(scope="module")
def no_contacts_sandbox(demo_district_dir: Path) -> Iterator[Sandbox]:
    with run_sandbox(demo_district_dir, scopes=ALL_BUT_CONTACTS) as sandbox:
        yield sandbox


def _lookup_config(sandbox: Sandbox) -> dict[str, Any]:
    """Credentials of the app, so the tap looks the district token up (and learns its scopes)."""
    return {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "district_id": "5a0c91b95c7cc000010d417c",
        "api_url": sandbox.clever_api_url,
        "oauth_tokens_url": sandbox.oauth_tokens_url,
    }


def test_test_lists_district_schools_and_scopes(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, demo_district_dir: Path
) -> None:
    run = tap_run(tmp_path, _lookup_config(demo_sandbox), None, "--test")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "District: #DEMO_DISTRICT (5a0c91b95c7cc000010d417c)" in run.stderr
    assert "Schools this token can see (5; id, name, school number, counts):" in run.stderr
    for number, (school, (sections, students, teachers)) in enumerate(
        sorted(demo_school_counts(demo_district_dir).items()), start=1
    ):
        counts = f"{sections} sections, {students} students, {teachers} teachers"
        line = f"  {school}  School {number}  00{number}  {counts}"
        assert line + "\n" in run.stderr, line
    assert "Scopes the district shared: read:district_admins" in run.stderr
    assert "read:student_contacts" in run.stderr
    assert (
        "Shared with the app: schools, sections, students, teachers, school staff, district admins"
        in run.stderr
    )
    assert "NOT SHARED" not in run.stderr
    assert demo_sandbox.client_secret not in run.stderr
    assert demo_sandbox.token not in run.stderr


def test_test_is_a_short_report_not_a_sync(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    run = tap_run(
        tmp_path,
        {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url},
        None,
        "--test",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.messages == []  # no SCHEMA, RECORD or STATE
    for noise in ("METRIC", "unhandled error", "Beginning sync", "Pagination"):
        assert noise not in run.stderr
    assert len(run.stderr.splitlines()) < 20


def test_test_says_what_to_do_when_nothing_listens(tap_run: Callable[..., Any], tmp_path: Path) -> None:
    url = refused_url()
    run = tap_run(tmp_path, {"district_token": "t", "api_url": url}, None, "--test")
    assert run.returncode == 1
    assert f"Connection test failed: could not connect to Clever at {url} (connection refused)" in run.stderr
    assert "roster-sandbox serve --port" in run.stderr
    assert "Traceback" not in run.stderr


def test_test_does_not_retry_a_connection_that_cannot_be_made(
    tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    with dropping_server() as server:
        run = tap_run(tmp_path, {"district_token": "t", "api_url": server.url}, None, "--test")
    assert run.returncode == 1
    assert f"could not connect to Clever at {server.url}" in run.stderr
    assert server.connections == 1  # a sync would try 6 times, waiting 1, 2, 4, 8 and 16 s between


def test_test_says_plainly_when_contacts_are_not_shared(
    no_contacts_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    run = tap_run(tmp_path, _lookup_config(no_contacts_sandbox), None, "--test")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "NOT SHARED: contacts (read:student_contacts): parents cannot be imported" in run.stderr
    assert "Family Codes" in run.stderr
    assert "NOT SHARED: students" not in run.stderr


def test_test_with_a_bare_token_checks_what_it_can_see(
    no_contacts_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    config = {"district_token": no_contacts_sandbox.token, "api_url": no_contacts_sandbox.clever_api_url}
    run = tap_run(tmp_path, config, None, "--test")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Scopes unknown with a bare district_token" in run.stderr
    assert "NOT SHARED: contacts (read:student_contacts): parents cannot be imported" in run.stderr


def test_sync_with_the_looked_up_token(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    run = tap_run(tmp_path, _lookup_config(demo_sandbox) | {"schools": [SCHOOL]})
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("sections")) == 165


def test_wrong_client_secret_is_a_clear_error(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    run = tap_run(tmp_path, _lookup_config(demo_sandbox) | {"client_secret": "wrong-secret"})
    assert run.returncode == 1
    assert "Clever refused the app's client_id/client_secret" in run.stderr
    assert "wrong-secret" not in run.stderr
    assert "Traceback" not in run.stderr


def test_district_admin_may_import_a_school(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    config = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    run = tap_run(tmp_path, config | {"schools": [SCHOOL], "admin_email": DISTRICT_ADMIN.upper()})
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("sections")) == 165
    assert NOT_CHECKED not in run.stderr


def test_schools_without_admin_email_warn_that_the_admin_rule_is_not_checked(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, demo_full_run: Any
) -> None:
    config = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    run = tap_run(tmp_path / "run", config | {"schools": [SCHOOL]})
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("sections")) == 165  # a warning, not a refusal
    assert run.stderr.count(NOT_CHECKED) == 1  # once per run, not once per stream
    assert "Set admin_email" in run.stderr
    assert NOT_CHECKED not in demo_full_run.stderr  # every school: the rule is about school-level imports

    report = tap_run(tmp_path / "test", config | {"schools": [SCHOOL]}, None, "--test")
    assert report.returncode == 0, report.stderr[-3000:]
    assert f"Admin check skipped: {NOT_CHECKED}" in report.stderr


@pytest.mark.parametrize("email", [TEACHER, "nobody@example.net"], ids=["teacher", "unknown"])
def test_anyone_else_is_refused_with_the_seeds_explanation(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, email: str
) -> None:
    config = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    run = tap_run(tmp_path, config | {"schools": [SCHOOL], "admin_email": email})
    assert run.returncode == 1
    assert "School level import is allowed only for users with admin roles on the Clever side" in run.stderr
    assert "'district_admin'" in run.stderr
    assert "contact the district admin of Clever" in run.stderr
    assert "Traceback" not in run.stderr
    assert not [m for m in run.messages if m["type"] == "RECORD" and m["stream"] != "pull"]


def test_test_reports_a_failed_admin_check(
    demo_sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    config = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    run = tap_run(tmp_path, config | {"schools": [SCHOOL], "admin_email": TEACHER}, None, "--test")
    assert run.returncode == 1
    assert "Admin check FAILED: School level import is allowed only" in run.stderr
