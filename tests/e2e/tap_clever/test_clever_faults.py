"""Every fault the sandbox injects: what is transient is retried and loses nothing; the rest stops clearly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox


@pytest.fixture
def sandbox(demo_sandbox: Sandbox) -> Iterator[Sandbox]:
    demo_sandbox.clear_faults()
    yield demo_sandbox
    demo_sandbox.clear_faults()


def _config(sandbox: Sandbox) -> dict[str, Any]:
    return {"district_token": sandbox.token, "api_url": sandbox.clever_api_url}


def _assert_complete(run: Any) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("students")) == 1004
    assert len(run.records("contacts")) == 1002
    assert len(run.records("staff")) == 92
    assert len(run.records("sections")) == 378
    assert len(run.records("enrollments")) == 9406


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "status", "status": 503, "count": 2, "path": "/v3.0/users"},
        {"kind": "status", "status": 500, "count": 1, "path": "/v3.0/sections"},
        {"kind": "rate_limit", "count": 1, "reset_after": 1, "path": "/v3.0/users"},
        {"kind": "slow", "delay": 0.5, "count": 1, "path": "/v3.0/sections"},
        {"kind": "cut", "count": 2, "path": "/v3.0/users"},
        {"kind": "html", "status": 502, "count": 1, "path": "/v3.0/sections"},
    ],
    ids=["503-twice", "500", "429", "slow", "cut-off-body", "html-502"],
)
def test_transient_faults_are_retried_and_nothing_is_lost(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, rule: dict[str, Any]
) -> None:
    sandbox.set_faults(rule)
    run = tap_run(tmp_path, _config(sandbox))
    fired = sandbox.faults()["rules"][0]["fired"]
    assert fired == rule["count"]
    _assert_complete(run)
    assert sandbox.token not in run.stderr


def test_429_waits_for_the_reset_time(sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path) -> None:
    sandbox.set_faults({"kind": "rate_limit", "count": 1, "reset_after": 2, "path": "/v3.0/schools"})
    run = tap_run(tmp_path, _config(sandbox))
    _assert_complete(run)
    assert "Backing off" in run.stderr
    assert "429" in run.stderr


def test_an_html_page_instead_of_json_is_a_clear_error(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox.set_faults({"kind": "html", "status": 200, "count": None, "path": "/v3.0/sections"})
    run = tap_run(tmp_path, _config(sandbox))
    assert run.returncode == 1
    assert "HTML page where JSON was expected" in run.stderr
    assert "/v3.0/sections" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_refused_token_fails_at_once_and_says_what_to_do(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    run = tap_run(tmp_path, _config(sandbox) | {"district_token": "not-the-token"})
    assert run.returncode == 1
    assert "Clever refused the district token (HTTP 401)" in run.stderr
    assert "set district_token again" in run.stderr
    assert "not-the-token" not in run.stderr
    assert "Backing off" not in run.stderr
    assert "Traceback" not in run.stderr
    assert not run.records("students")


def test_expired_tokens_fail_with_the_401_message(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox.set_faults({"kind": "expire_tokens", "count": 1, "path": "/v3.0/users"})
    run = tap_run(tmp_path, _config(sandbox))
    assert run.returncode == 1
    assert "HTTP 401" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_client_error_is_not_retried(sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path) -> None:
    sandbox.set_faults({"kind": "status", "status": 400, "count": None, "path": "/v3.0/terms"})
    run = tap_run(tmp_path, _config(sandbox))
    assert run.returncode == 1
    assert "Clever answered HTTP 400 at /v3.0/terms" in run.stderr
    assert "Backing off" not in run.stderr
    # Streams pulled before the failure were complete; the failed one is never closed.
    terms = run.of_stream("terms")
    assert not [m for m in terms if m["type"] in ("RECORD", "ACTIVATE_VERSION")]


def test_data_the_district_did_not_share_fails_with_what_to_do(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox.set_faults({"kind": "status", "status": 403, "count": None, "path": "/v3.0/users"})
    run = tap_run(tmp_path, _config(sandbox))
    assert run.returncode == 1
    assert "Clever denied access (HTTP 403) to /v3.0/users" in run.stderr
    assert "Ask the district's Clever admin to share it" in run.stderr
    assert "Backing off" not in run.stderr


@pytest.mark.parametrize("status", [403, 404])
def test_events_not_enabled_fall_back_to_a_full_sync(
    sandbox: Sandbox, tap_run: Callable[..., Any], tmp_path: Path, status: int
) -> None:
    sandbox.set_faults({"kind": "status", "status": status, "count": None, "path": "/v3.0/events"})
    first = tap_run(tmp_path / "first", _config(sandbox) | {"incremental": True})
    _assert_complete(first)
    assert "events are not available" in first.stderr
    assert "last_event_id" not in str(first.state)
    # A later run holding a bookmark: Clever will not serve the events after it.
    now = datetime.now(UTC).isoformat()
    state = {"bookmarks": {"students": {"last_event_id": "000000000000000000000001", "events_read_at": now}}}
    later = tap_run(tmp_path / "later", _config(sandbox) | {"incremental": True}, state)
    _assert_complete(later)
    assert "falling back to a full sync" in later.stderr
    assert later.of_stream("students")[-1]["type"] == "ACTIVATE_VERSION"
