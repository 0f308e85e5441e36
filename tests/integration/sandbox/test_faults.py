"""Faults switched on and off during a run, as a test of a tap's retries would do it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from roster_sandbox.testing import Sandbox, run_sandbox


@pytest.fixture(scope="module")
def sandbox(demo_district_dir: Path) -> Iterator[Sandbox]:
    with run_sandbox(demo_district_dir) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()


def clever(sandbox: Sandbox, uri: str = "/v3.0/districts") -> requests.Response:
    return requests.get(
        sandbox.clever_api_url + uri, headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=30
    )


def test_status_faults_fire_count_times_after_letting_some_through(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "status", "status": 502, "after": 1, "count": 2, "path": "/v3.0/users"})
    statuses = [clever(sandbox, "/v3.0/users?limit=1").status_code for _ in range(4)]
    assert statuses == [200, 502, 502, 200]
    assert clever(sandbox, "/v3.0/sections?limit=1").status_code == 200  # other paths untouched
    assert sandbox.faults()["rules"][0]["fired"] == 2


def test_rate_limit_burst_gives_reset_time(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "rate_limit", "count": 3, "reset_after": 2})
    responses = [clever(sandbox) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    reset = int(responses[0].headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 3


def test_cut_body_breaks_the_read(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "cut", "count": 1, "path": "/v3.0/users"})
    with pytest.raises(requests.exceptions.RequestException):
        clever(sandbox, "/v3.0/users?limit=500").json()
    assert len(clever(sandbox, "/v3.0/users?limit=500").json()["data"]) == 500


def test_html_error_page(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "html", "status": 502, "count": 1})
    response = clever(sandbox)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text


def test_slow_responses_still_answer(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "slow", "delay": 0.2, "count": 1})
    assert clever(sandbox).json()["data"][0]["data"]["name"] == "#DEMO_DISTRICT"
    assert sandbox.faults()["rules"][0]["fired"] == 1


def test_probability_is_seeded(sandbox: Sandbox) -> None:
    def run() -> list[int]:
        sandbox.set_faults({"kind": "status", "status": 500, "count": None, "probability": 0.5}, seed=7)
        return [clever(sandbox).status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) == {200, 500}


def test_tokens_expire_mid_sync(sandbox: Sandbox) -> None:
    def token() -> str:
        body = requests.post(
            sandbox.oneroster_token_url,
            auth=(sandbox.client_id, sandbox.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=10,
        ).json()
        return str(body["access_token"])

    url = f"{sandbox.oneroster_base_url('1.2')}/users?limit=5"
    old = {"Authorization": f"Bearer {token()}"}
    sandbox.set_faults({"kind": "expire_tokens", "after": 1, "count": 1, "path": urlparse(url).path})
    assert requests.get(url, headers=old, timeout=10).status_code == 200
    assert requests.get(url, headers=old, timeout=10).status_code == 401
    assert requests.get(url, headers=old, timeout=10).status_code == 401  # the old token stays dead
    assert requests.get(url, headers={"Authorization": f"Bearer {token()}"}, timeout=10).status_code == 200


def test_oneroster_faults_use_oneroster_error_envelopes(sandbox: Sandbox) -> None:
    sandbox.set_faults({"kind": "status", "status": 503, "count": 1})
    response = requests.get(f"{sandbox.oneroster_base_url('1.1')}/orgs", timeout=10)
    assert response.status_code == 503
    assert response.json()["statusInfoSet"][0]["imsx_codeMajor"] == "failure"


def test_bad_fault_rules_are_refused_with_a_reason(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.set_faults({"kind": "explode"})


def test_faults_from_the_command_line(demo_district_dir: Path) -> None:
    with run_sandbox(demo_district_dir, fault=["status:status=503,count=1"]) as started:
        assert [clever(started).status_code for _ in range(2)] == [503, 200]
