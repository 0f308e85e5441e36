"""Hostile answers from the source's server, through tap-clever and tap-oneroster: bad JSON, wrong shapes, cut
bodies, error statuses, endless pagination, redirects to other hosts, and settings that would send a
credential in clear.

The sandbox serves a small generated district and answers a request the way a fault rule says
(roster_sandbox/faults.py). An answer the tap cannot use stops it (exit 1) naming the endpoint, and the
store is left as it was; a fault that passes (a body cut once) is retried, and the whole pull lands.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox

from tests.support import runner
from tests.support.hostile import assert_clean, assert_store

BIN = Path(sys.executable).parent
V11 = "/ims/oneroster/v1p1"


@dataclass(frozen=True)
class Case:
    """A fault rule on the sandbox (or settings for the tap), and what the tap must do."""

    tap: str  # "tap-clever" or "tap-oneroster"
    rule: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 1
    names: str = ""  # the endpoint or setting the failure names
    settings: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {}


def clever(name: str, rule: dict[str, Any], exit_code: int = 1, names: str = "/v3.0/users") -> None:
    CASES[f"clever-{name}"] = Case(
        "tap-clever", {"path": "/v3.0/users", "count": None} | rule, exit_code, names
    )


def oneroster(name: str, rule: dict[str, Any], exit_code: int = 1, names: str = "/users") -> None:
    path = {"path": f"{V11}/users", "count": None}
    CASES[f"oneroster-{name}"] = Case("tap-oneroster", path | rule, exit_code, names)


def body(text: str, **rule: Any) -> dict[str, Any]:
    return {"kind": "body", "body": text, "status": 200} | rule


# -- bad JSON, cut bodies: retried, so a fault that passes leaves the pull whole ---------------------------
for name, text in {
    "cut-json": '{"data": [{"data": {"id": "x"',
    "not-json": "<<< not json >>>",
    "empty-body": "",
    "deep-nesting": '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}",
}.items():
    clever(f"once-{name}", body(text, count=1), 0)
    oneroster(f"once-{name}", body(text.replace("data", "users"), count=1), 0)
    oneroster(f"always-{name}", body(text.replace("data", "users")), names="GET /users")
_DEEP_ERROR = "[" * 100_000 + "]" * 100_000
clever("error-page-deep-json", body(_DEEP_ERROR, status=503, count=1), 0)
oneroster("error-page-deep-json", body(_DEEP_ERROR, status=503), names="GET /users")
clever("once-cut-connection", {"kind": "cut", "count": 1}, 0)
oneroster("once-cut-connection", {"kind": "cut", "count": 1}, 0)
oneroster("always-cut-connection", {"kind": "cut"}, names="users")

# -- JSON of the wrong shape: the tap stops at once, naming the endpoint -----------------------------------
for name, text in {
    "null": "null",
    "array": "[]",
    "number": "5",
    "no-data": "{}",
    "data-string": '{"data": "users"}',
    "data-object": '{"data": {"id": "x"}}',
    "item-number": '{"data": [1, 2]}',
    "item-no-data": '{"data": [{"id": "x"}]}',
    "object-no-id": '{"data": [{"data": {"name": {"first": "Zyxwy"}}}]}',
    "object-id-number": '{"data": [{"data": {"id": 5}}]}',
    "object-id-empty": '{"data": [{"data": {"id": ""}}]}',
    "roles-string": '{"data": [{"data": {"id": "u1", "roles": "student", "name": {"first": "Zyxwy"}}}]}',
    "name-string": '{"data": [{"data": {"id": "u1", "roles": {"student": {}}, "name": "Zyxwy"}}]}',
    "schools-number": '{"data": [{"data": {"id": "u1", "roles": {"student": {"schools": 5}}}}]}',
    "links-string": '{"data": [], "links": "next"}',
    "huge-number-id": '{"data": [{"data": {"id": ' + "9" * 5000 + "}}]}",
}.items():
    clever(f"shape-{name}", body(text))
for name, text in {
    "null": "null",
    "array": "[]",
    "no-collection": '{"classes": []}',
    "collection-string": '{"users": "x"}',
    "item-number": '{"users": [1]}',
    "no-sourcedid": '{"users": [{"givenName": "Zyxwy"}]}',
    "sourcedid-number": '{"users": [{"sourcedId": 5}]}',
    "orgs-string": '{"users": [{"sourcedId": "u1", "role": "student", "orgs": "x", "givenName": "Zyxwy"}]}',
    "role-list": '{"users": [{"sourcedId": "u1", "role": ["student"], "orgs": [], "givenName": "Zyxwy"}]}',
}.items():
    oneroster(f"shape-{name}", body(text), names="users")

# -- error statuses, HTML pages -----------------------------------------------------------------------------
for status in (400, 401, 403, 404, 418):
    clever(f"status-{status}", {"kind": "status", "status": status})
    oneroster(f"status-{status}", {"kind": "status", "status": status}, names="GET /users")
clever("status-503-once", {"kind": "status", "status": 503, "count": 1}, 0)
oneroster("status-503-always", {"kind": "status", "status": 503}, names="GET /users")
oneroster("status-429-always", {"kind": "rate_limit", "reset_after": 0}, names="GET /users")
clever("html-page", {"kind": "html", "status": 200})
oneroster("html-page", {"kind": "html", "status": 200}, names="GET /users")
oneroster("plain-text", body('{"users": []}', content_type="text/plain"), names="GET /users")

# -- endless pagination, redirects --------------------------------------------------------------------------
clever("endless-pages", {"kind": "endless"}, names="paging would never end")
oneroster("endless-pages", {"kind": "endless"}, names="paging would never end")
for name, location in {
    "other-host": "https://elsewhere.example/v3.0/users",
    "other-host-plain": "http://203.0.113.9/steal",
    "same-host": "/v3.0/users?limit=10",
}.items():
    host = location.split("/")[2] if "://" in location else "127.0.0.1"
    clever(
        f"redirect-{name}", {"kind": "redirect", "location": location}, names=f"redirect (HTTP 302) to {host}"
    )
    oneroster(
        f"redirect-{name}", {"kind": "redirect", "location": location}, names=f"redirect (HTTP 302) to {host}"
    )

# -- the token endpoints ------------------------------------------------------------------------------------
_CLEVER_APP = {
    "district_token": None,
    "client_id": "sandbox-client-id",
    "client_secret": "sandbox-client-secret",
    "district_id": "688bea800100000000000001",  # the district roster-sandbox generates
}
for name, rule in {
    "status-401": {"kind": "status", "status": 401},
    "not-json": body("<<<"),
    "no-data": body("{}"),
    "redirect": {"kind": "redirect"},
}.items():
    CASES[f"clever-token-{name}"] = Case(
        "tap-clever", {"path": "/oauth/tokens", "count": None} | rule, 1, "/oauth/tokens", _CLEVER_APP
    )
for name, rule in {
    "status-401": {"kind": "status", "status": 401},
    "not-json": body("<<<"),
    "no-token": body('{"token_type": "bearer"}'),
}.items():
    CASES[f"oneroster-token-{name}"] = Case(
        "tap-oneroster", {"path": "/oauth2/token", "count": None} | rule, 1, "token request"
    )

# -- settings that would send a credential in clear, or reach nothing ---------------------------------------
for name, settings, names in (
    ("api-url-plain-http", {"api_url": "http://api.clever.example"}, "api_url http://api.clever.example"),
    ("api-url-ftp", {"api_url": "ftp://api.clever.example"}, "api_url 'ftp://api.clever.example'"),
    ("api-url-no-host", {"api_url": "https://"}, "is not an https:// URL"),
    (
        "tokens-url-plain-http",
        _CLEVER_APP | {"oauth_tokens_url": "http://clever.example/oauth/tokens", "district_id": "d"},
        "oauth_tokens_url http://clever.example",
    ),
):
    CASES[f"clever-settings-{name}"] = Case("tap-clever", {}, 1, names, settings)
for name, settings, names in (
    ("base-url-plain-http", {"base_url": "http://sis.example.org"}, "base_url http://sis.example.org"),
    (
        "token-url-plain-http",
        {"token_url": "http://sis.example.org/token"},
        "token_url http://sis.example.org",
    ),
    ("base-url-javascript", {"base_url": "javascript:alert(1)"}, "is not an https:// URL"),
    ("unreachable", {"base_url": "http://127.0.0.1:9", "token_url": "http://127.0.0.1:9/t"}, "127.0.0.1:9"),
):
    CASES[f"oneroster-settings-{name}"] = Case("tap-oneroster", {}, 1, names, settings)


@pytest.fixture(scope="module")
def personal(tiny_district: Path) -> tuple[str, ...]:
    """E-mail addresses and last names of the district: never printed."""
    users = [item["data"] for item in json.loads((tiny_district / "users.json").read_text())["data"]]
    emails = [u["email"] for u in users if u.get("email")][:20]
    names = [u["name"]["last"] for u in users if len((u.get("name") or {}).get("last") or "") > 5][:10]
    return (*emails, *names, "Zyxwy")


def tap_settings(tap: str, sandbox: Sandbox) -> dict[str, Any]:
    if tap == "tap-clever":
        return {"api_url": sandbox.clever_api_url, "oauth_tokens_url": sandbox.oauth_tokens_url,
                "district_token": sandbox.token}  # fmt: skip
    return {
        "base_url": sandbox.url,
        "token_url": sandbox.oneroster_token_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "max_tries": 2,  # a fault that lasts fails after one retry, at once
        "backoff_factor": 0,
    }


@pytest.fixture(scope="module")
def good_stores(tiny_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The district imported once through each tap, for every case to start from."""
    stores = {}
    for tap, source in (("tap-clever", "clever"), ("tap-oneroster", "oneroster")):
        folder = tmp_path_factory.mktemp(tap)
        target = {"database": str(folder / "bloomz.duckdb"), "source": source}
        runner.pipeline(tap, tap_settings(tap, tiny_sandbox), target, folder)
        stores[tap] = folder / "bloomz.duckdb"
    return stores


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_server_answer(
    case: Case,
    tiny_sandbox: Sandbox,
    good_stores: dict[str, Path],
    personal: tuple[str, ...],
    tmp_path: Path,
    capfd: Any,
) -> None:
    store = tmp_path / "data" / "bloomz.duckdb"
    store.parent.mkdir()
    shutil.copyfile(good_stores[case.tap], store)
    before = runner.store_state(store)
    settings = tap_settings(case.tap, tiny_sandbox) | case.settings
    settings = {name: value for name, value in settings.items() if value is not None}
    if case.rule:
        tiny_sandbox.set_faults(case.rule)
    try:
        tapped = runner.tap(case.tap, settings, capfd, tmp_path)
    finally:
        tiny_sandbox.clear_faults()

    assert_clean(
        tapped, exit_code=case.exit_code, names=[case.names] if case.exit_code else [], private=personal
    )
    if case.exit_code:
        assert_store(store, before, applied=False)
        return
    source = "clever" if case.tap == "tap-clever" else "oneroster"
    imported = runner.target({"database": str(store), "source": source}, tapped.stdout, capfd, tmp_path)
    assert_clean(imported, exit_code=0, private=personal)
    assert_store(store, before, applied=True)


def test_the_cases_cover_every_kind_of_hostile_answer() -> None:
    kinds = {name.split("-")[1] for name in CASES}
    assert kinds >= {"once", "always", "shape", "status", "endless", "redirect", "token", "settings", "html"}
    assert len(CASES) >= 60
