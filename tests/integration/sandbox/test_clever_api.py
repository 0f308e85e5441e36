"""The Clever v3.0 face of the sandbox, against the real demo district and Clever's official spec."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests
from roster_sandbox import dumpfile
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support import clever_spec


def get(sandbox: Sandbox, uri: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    return requests.get(sandbox.clever_api_url + uri, headers=headers, timeout=30, **kwargs)


def read_all(sandbox: Sandbox, uri: str) -> list[dict]:
    """Follow relative `next` links to the end, as tap-clever does."""
    records, pages = [], 0
    while uri:
        response = get(sandbox, uri)
        assert response.status_code == 200, response.text
        body = response.json()
        records += [item["data"] for item in body["data"]]
        uri = next((str(link["uri"]) for link in body["links"] if link["rel"] == "next"), "")
        pages += 1
        assert pages < 1000
    return records


def test_users_by_role_come_complete_in_ascending_id_order(demo_sandbox: Sandbox) -> None:
    counts = {}
    for role in ("student", "teacher", "contact", "district_admin", "staff"):
        users = read_all(demo_sandbox, f"/v3.0/users?role={role}&limit=300")
        ids = [user["id"] for user in users]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
        assert all(role in user["roles"] for user in users)
        counts[role] = len(users)
    assert counts == {"student": 1004, "teacher": 89, "contact": 1002, "district_admin": 3, "staff": 0}
    assert len(read_all(demo_sandbox, "/v3.0/users?limit=10000")) == 2098


def test_paging_links_are_relative_and_last_page_has_no_next(demo_sandbox: Sandbox) -> None:
    body = get(demo_sandbox, "/v3.0/sections?limit=200").json()
    next_links = [link["uri"] for link in body["links"] if link["rel"] == "next"]
    assert next_links == [f"/v3.0/sections?limit=200&starting_after={body['data'][-1]['data']['id']}"]
    last = get(demo_sandbox, next_links[0]).json()
    assert len(last["data"]) == 178
    assert [link["rel"] for link in last["links"]] == ["self", "prev"]
    assert body["data"][0]["uri"] == f"/v3.0/sections/{body['data'][0]['data']['id']}"


def test_ending_before_returns_the_page_just_before_the_cursor(demo_sandbox: Sandbox) -> None:
    ids = [s["id"] for s in read_all(demo_sandbox, "/v3.0/sections?limit=10000")]
    body = get(demo_sandbox, f"/v3.0/sections?ending_before={ids[10]}&limit=3").json()
    assert [item["data"]["id"] for item in body["data"]] == ids[7:10]


def test_schools_terms_courses_are_synthesised_for_every_reference(demo_sandbox: Sandbox) -> None:
    sections = read_all(demo_sandbox, "/v3.0/sections?limit=10000")
    schools = {s["id"]: s for s in read_all(demo_sandbox, "/v3.0/schools")}
    terms = {t["id"] for t in read_all(demo_sandbox, "/v3.0/terms")}
    courses = {c["id"]: c for c in read_all(demo_sandbox, "/v3.0/courses?limit=1000")}
    assert {s["school"] for s in sections} <= set(schools)
    assert {s["term_id"] for s in sections} <= terms
    assert {s["course"] for s in sections} <= set(courses)
    group_guidance = next(s for s in sections if s["name"] == "Group Guidance - Greene - 0")
    assert courses[group_guidance["course"]]["name"] == "Group Guidance"
    again = {s["id"]: s for s in read_all(demo_sandbox, "/v3.0/schools")}
    assert again == schools  # stable names and ids across requests


def test_single_record_and_not_found(demo_sandbox: Sandbox) -> None:
    body = get(demo_sandbox, "/v3.0/users/5a25ffb0c1bc2a00360003ed").json()
    assert body["data"]["name"] == {"first": "Steve", "last": "Ziemann", "middle": "G"}
    missing = get(demo_sandbox, "/v3.0/users/000000000000000000000000")
    assert missing.status_code == 404
    assert "not found" in missing.json()["message"]


def test_limit_over_10000_is_413_and_bad_tokens_are_401(demo_sandbox: Sandbox) -> None:
    too_big = get(demo_sandbox, "/v3.0/users?limit=10001")
    assert too_big.status_code == 413
    assert "10000" in too_big.json()["message"]
    wrong = requests.get(
        demo_sandbox.url + "/v3.0/users", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 401
    assert requests.get(demo_sandbox.url + "/v3.0/users", timeout=10).status_code == 401


def test_token_listing_needs_basic_auth_and_lists_scopes(demo_sandbox: Sandbox) -> None:
    url = demo_sandbox.oauth_tokens_url + "?owner_type=district"
    body = requests.get(url, auth=(demo_sandbox.client_id, demo_sandbox.client_secret), timeout=10).json()
    (token,) = body["data"]
    assert token["access_token"] == demo_sandbox.token
    assert token["owner"] == {"type": "district", "id": "5a0c91b95c7cc000010d417c"}
    assert "read:students" in token["scopes"]
    other = requests.get(
        url + "&district=ffffffffffffffffffffffff",
        auth=(demo_sandbox.client_id, demo_sandbox.client_secret),
        timeout=10,
    )
    assert other.json()["data"] == []
    assert requests.get(url, auth=(demo_sandbox.client_id, "wrong"), timeout=10).status_code == 401


def test_school_scoped_users_and_sections(demo_sandbox: Sandbox) -> None:
    school = "5a25ff950a5f621109000004"
    sections = read_all(demo_sandbox, f"/v3.0/schools/{school}/sections")
    assert len(sections) == 165
    assert {s["school"] for s in sections} == {school}
    students = read_all(demo_sandbox, f"/v3.0/schools/{school}/users?role=student&limit=500")
    assert students
    assert all(school in s["roles"]["student"]["schools"] for s in students)
    assert get(demo_sandbox, "/v3.0/schools/000000000000000000000000/users").status_code == 404


SHAPES = [
    ("/v3.0/districts", "DistrictsResponse"),
    ("/v3.0/schools", "SchoolsResponse"),
    ("/v3.0/terms", "TermsResponse"),
    ("/v3.0/courses?limit=10000", "CoursesResponse"),
    ("/v3.0/sections?limit=10000", "SectionsResponse"),
    ("/v3.0/users?limit=10000", "UsersResponse"),
    ("/v3.0/users?role=contact&limit=50", "UsersResponse"),
    ("/v3.0/users/5a25ffb0c1bc2a00360003ed", "UserResponse"),
    ("/v3.0/sections/5a25ffc265e950634b00017c", "SectionResponse"),
    ("/v3.0/districts/5a0c91b95c7cc000010d417c", "DistrictResponse"),
]


@pytest.mark.parametrize(("uri", "definition"), SHAPES)
def test_responses_validate_against_clevers_spec(
    demo_sandbox: Sandbox, shared_dir: Path, uri: str, definition: str
) -> None:
    spec = shared_dir / "reference" / "clever" / "v3.0.yml"
    body = get(demo_sandbox, uri).json()
    assert body["data"]
    assert clever_spec.errors(spec, definition, body) == []


def test_the_spec_validator_catches_a_wrong_shape(shared_dir: Path) -> None:
    spec = shared_dir / "reference" / "clever" / "v3.0.yml"
    bad = {"data": [{"data": {"id": "x", "roles": {"student": {"grade": "Year 5"}}}}]}
    assert clever_spec.errors(spec, "UsersResponse", bad)


def test_rate_limit_answers_429_with_reset(demo_district_dir: Path) -> None:
    with run_sandbox(demo_district_dir, rate_limit=3) as sandbox:
        statuses = [get(sandbox, "/v3.0/districts") for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        reset = int(statuses[-1].headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 62


def test_missing_scope_hides_those_records(demo_district_dir: Path) -> None:
    with run_sandbox(demo_district_dir, scopes="read:students,read:sections,read:teachers") as sandbox:
        assert get(sandbox, "/v3.0/users?role=contact").json()["data"] == []
        everyone = read_all(sandbox, "/v3.0/users?limit=10000")
        assert len(everyone) == 1004 + 89


def test_serves_the_directory_as_it_is_on_disk(demo_district_dir: Path, tmp_path: Path) -> None:
    for name in ("users.json", "sections.json", "districts.json"):
        shutil.copy(demo_district_dir / name, tmp_path / name)
    with run_sandbox(tmp_path) as sandbox:
        assert len(read_all(sandbox, "/v3.0/sections?limit=10000")) == 378
        sections = dumpfile.read_objects(tmp_path / "sections.json")
        sections[0]["name"] = "Renamed tonight"
        dumpfile.write(tmp_path / "sections.json", "sections", sections[:100])
        served = read_all(sandbox, "/v3.0/sections?limit=10000")
        assert len(served) == 100
        assert served[0]["name"] == "Renamed tonight"


def test_a_broken_directory_is_refused_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "districts.json").write_text('{"data": [')
    (tmp_path / "users.json").write_text('{"data": []}')
    (tmp_path / "sections.json").write_text('{"data": []}')
    with pytest.raises(RuntimeError, match=r"districts\.json"), run_sandbox(tmp_path):
        pass


def test_a_file_broken_while_serving_is_named_in_the_error(demo_district_dir: Path, tmp_path: Path) -> None:
    for name in ("users.json", "sections.json", "districts.json"):
        shutil.copy(demo_district_dir / name, tmp_path / name)
    with run_sandbox(tmp_path) as sandbox:
        assert get(sandbox, "/v3.0/sections?limit=1").status_code == 200
        (tmp_path / "sections.json").write_text('{"data": [{"data": ')
        broken = get(sandbox, "/v3.0/sections?limit=1")
        assert broken.status_code == 500
        assert "sections.json" in broken.json()["message"]
        shutil.copy(demo_district_dir / "sections.json", tmp_path / "sections.json")
        assert len(get(sandbox, "/v3.0/sections?limit=1").json()["data"]) == 1
