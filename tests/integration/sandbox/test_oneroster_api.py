"""The OneRoster 1.1 / 1.2 face of the sandbox: the same demo district, OAuth 2 and OAuth 1.0a, paging."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client
from roster_sandbox.testing import Sandbox, run_sandbox

VERSIONS = ("1.1", "1.2")


def oauth2_token(sandbox: Sandbox) -> str:
    response = requests.post(
        sandbox.oneroster_token_url,
        auth=(sandbox.client_id, sandbox.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] > 0
    return str(body["access_token"])


@pytest.fixture(scope="module")
def bearer(demo_sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {oauth2_token(demo_sandbox)}"}


def read_all(url: str, headers: dict[str, str], key: str, limit: int = 500) -> list[dict]:
    """Follow Link rel=next when present, else advance offset until a short page."""
    records: list[dict] = []
    response = requests.get(url, headers=headers, params={"limit": limit}, timeout=30)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()[key]
        records += page
        if "next" in response.links:
            response = requests.get(response.links["next"]["url"], headers=headers, timeout=30)
        elif len(page) == limit:
            response = requests.get(
                url, headers=headers, params={"limit": limit, "offset": len(records)}, timeout=30
            )
        else:
            return records


@pytest.mark.parametrize("version", VERSIONS)
def test_same_people_as_the_clever_view(demo_sandbox: Sandbox, bearer: dict[str, str], version: str) -> None:
    base = demo_sandbox.oneroster_base_url(version)
    users = read_all(f"{base}/users", bearer, "users")
    assert len(users) == 2098
    students = read_all(f"{base}/students", bearer, "users")
    teachers = read_all(f"{base}/teachers", bearer, "users")
    assert (len(students), len(teachers)) == (1004, 89)
    steve = next(u for u in students if u["sourcedId"] == "5a25ffb0c1bc2a00360003ed")
    assert (steve["givenName"], steve["familyName"], steve["identifier"]) == ("Steve", "Ziemann", "100095233")
    assert steve["grades"] == ["KG"]
    # Guardians link to students through agents, both ways.
    by_id = {u["sourcedId"]: u for u in users}
    contact_id = steve["agents"][0]["sourcedId"]
    assert {a["sourcedId"] for a in by_id[contact_id]["agents"]} >= {steve["sourcedId"]}
    ids = [u["sourcedId"] for u in users]
    assert ids == sorted(ids)


def test_version_shapes_differ_where_the_standards_do(demo_sandbox: Sandbox, bearer: dict[str, str]) -> None:
    teacher_id = "603ebb2ab452fb006c76396d"
    v11 = requests.get(
        f"{demo_sandbox.oneroster_base_url('1.1')}/users/{teacher_id}", headers=bearer, timeout=10
    ).json()
    v12 = requests.get(
        f"{demo_sandbox.oneroster_base_url('1.2')}/users/{teacher_id}", headers=bearer, timeout=10
    ).json()
    assert v11["user"]["role"] == "teacher"
    assert {o["sourcedId"] for o in v11["user"]["orgs"]} == {
        "5a25ff950a5f621109000004",
        "5a25ff950a5f621109000005",
    }
    roles = v12["user"]["roles"]
    assert {r["role"] for r in roles} == {"teacher"}
    assert len(roles) == 2
    assert "role" not in v12["user"]
    assert v12["user"]["primaryOrg"]["type"] == "org"


@pytest.mark.parametrize("version", VERSIONS)
def test_classes_enrollments_orgs_sessions(
    demo_sandbox: Sandbox, bearer: dict[str, str], version: str
) -> None:
    base = demo_sandbox.oneroster_base_url(version)
    classes = read_all(f"{base}/classes", bearer, "classes")
    assert len(classes) == 378
    homeroom = next(c for c in classes if c["sourcedId"] == "5a25ffc265e950634b00017c")
    assert (homeroom["title"], homeroom["classType"], homeroom["periods"]) == (
        "Group Guidance - Greene - 0",
        "homeroom",
        ["0"],
    )
    enrollments = read_all(f"{base}/classes/5a25ffc265e950634b00017c/enrollments", bearer, "enrollments")
    assert sum(e["role"] == "student" for e in enrollments) == 16
    assert [e["user"]["sourcedId"] for e in enrollments if e["primary"] == "true"] == [
        "603ebb2ab452fb006c763989"
    ]
    orgs = read_all(f"{base}/orgs", bearer, "orgs")
    assert [o["type"] for o in orgs].count("district") == 1
    assert len(read_all(f"{base}/schools", bearer, "orgs")) == 5
    assert len(read_all(f"{base}/terms", bearer, "academicSessions")) == 5


@pytest.mark.parametrize("version", VERSIONS)
def test_school_scoped_forms(demo_sandbox: Sandbox, bearer: dict[str, str], version: str) -> None:
    base = demo_sandbox.oneroster_base_url(version)
    school = "5a25ff950a5f621109000004"
    classes = read_all(f"{base}/schools/{school}/classes", bearer, "classes")
    assert len(classes) == 165
    assert {c["school"]["sourcedId"] for c in classes} == {school}
    students = read_all(f"{base}/schools/{school}/students", bearer, "users")
    assert students
    assert all(s["sourcedId"] for s in students)
    class_id = classes[0]["sourcedId"]
    nested = read_all(f"{base}/schools/{school}/classes/{class_id}/enrollments", bearer, "enrollments")
    assert nested == read_all(f"{base}/classes/{class_id}/enrollments", bearer, "enrollments")
    missing = requests.get(f"{base}/schools/nope/classes", headers=bearer, timeout=10)
    assert missing.status_code == 404


def test_paging_headers_and_limit(demo_sandbox: Sandbox, bearer: dict[str, str]) -> None:
    base = demo_sandbox.oneroster_base_url("1.2")
    response = requests.get(
        f"{base}/users", headers=bearer, params={"limit": 100, "offset": 2000}, timeout=10
    )
    assert response.headers["X-Total-Count"] == "2098"
    assert "offset=2100" not in response.headers["Link"]
    assert response.links["last"]["url"].endswith("offset=2000")
    last = requests.get(f"{base}/users", headers=bearer, params={"offset": 2000}, timeout=10)
    assert len(last.json()["users"]) == 98
    assert "next" not in last.links


def test_headers_can_be_switched_off_and_page_size_clamped(demo_district_dir: Path) -> None:
    with run_sandbox(demo_district_dir, max_page=50, total_count=False, link_header=False) as sandbox:
        headers = {"Authorization": f"Bearer {oauth2_token(sandbox)}"}
        response = requests.get(
            f"{sandbox.oneroster_base_url('1.1')}/users?limit=1000", headers=headers, timeout=10
        )
        assert len(response.json()["users"]) == 50
        assert "X-Total-Count" not in response.headers
        assert "Link" not in response.headers
        assert len(read_all(f"{sandbox.oneroster_base_url('1.1')}/users", headers, "users", limit=50)) == 2098


@pytest.mark.parametrize("version", VERSIONS)
def test_filter_on_date_last_modified_and_role(
    demo_sandbox: Sandbox, bearer: dict[str, str], version: str
) -> None:
    base = demo_sandbox.oneroster_base_url(version)
    newer = read_all(f"{base}/users?filter=dateLastModified>'2021-03-02T22:24:55.000Z'", bearer, "users")
    assert newer
    assert all(u["dateLastModified"] > "2021-03-02T22:24:55.000Z" for u in newer)
    assert len(newer) < 2098
    none = requests.get(
        f"{base}/users",
        headers=bearer,
        params={"filter": "dateLastModified>'2030-01-01T00:00:00Z'"},
        timeout=10,
    )
    assert none.json()["users"] == []
    bad = requests.get(
        f"{base}/users", headers=bearer, params={"filter": "dateLastModified is new"}, timeout=10
    )
    assert bad.status_code == 400
    info = bad.json()["statusInfoSet"][0] if version == "1.1" else bad.json()
    assert (
        info["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invalid_filter_field"
    )


def test_oauth1_hmac_sha256_signatures_are_checked(demo_sandbox: Sandbox) -> None:
    url = f"{demo_sandbox.oneroster_base_url('1.1')}/students?limit=3&offset=0&filter=status%3D%27active%27"
    good = Client(
        demo_sandbox.client_id,
        client_secret=demo_sandbox.client_secret,
        signature_method=SIGNATURE_HMAC_SHA256,
    )
    uri, headers, _ = good.sign(url)
    response = requests.get(uri, headers=headers, timeout=10)
    assert response.status_code == 200
    assert len(response.json()["users"]) == 3
    wrong = Client(
        demo_sandbox.client_id, client_secret="not-the-secret", signature_method=SIGNATURE_HMAC_SHA256
    )
    uri, headers, _ = wrong.sign(url)
    refused = requests.get(uri, headers=headers, timeout=10)
    assert refused.status_code == 401
    assert "signature" in refused.json()["statusInfoSet"][0]["imsx_description"]
    # A signature made for other query parameters does not cover this request.
    uri, headers, _ = good.sign(url)
    assert requests.get(uri.replace("limit=3", "limit=4"), headers=headers, timeout=10).status_code == 401


def test_oauth2_tokens_are_checked_and_expire(demo_district_dir: Path) -> None:
    with run_sandbox(demo_district_dir, token_lifetime=1) as sandbox:
        url = f"{sandbox.oneroster_base_url('1.2')}/orgs"
        assert requests.get(url, timeout=10).status_code == 401
        refused = requests.post(
            sandbox.oneroster_token_url,
            auth=(sandbox.client_id, "x"),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        token = oauth2_token(sandbox)
        assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
        time.sleep(1.2)
        expired = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert expired.status_code == 401
        assert (
            expired.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
            == "unauthorisedrequest"
        )


def test_base_paths_are_configurable(demo_district_dir: Path) -> None:
    with run_sandbox(
        demo_district_dir, oneroster_12_base="/ims/oneroster/v1p2", oneroster_token_path="/token"
    ) as sandbox:
        assert sandbox.oneroster_base_url("1.2").endswith("/ims/oneroster/v1p2")
        headers = {"Authorization": f"Bearer {oauth2_token(sandbox)}"}
        assert (
            requests.get(f"{sandbox.oneroster_base_url('1.2')}/orgs", headers=headers, timeout=10).status_code
            == 200
        )
