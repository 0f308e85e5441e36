"""The paginator's decisions on responses shaped like real servers' (no server needed)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import requests
from tap_oneroster.client import OneRosterPaginator

BASE = "https://sis.example/ims/oneroster/v1p1/users"


def page(url: str, count: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = url
    response.request = requests.Request("GET", url).prepare()
    response.headers.update(headers or {})
    first = int(dict(parse_qsl(urlsplit(url).query)).get("offset", 0))  # each page its own records
    users = [{"sourcedId": str(first + i)} for i in range(count)]
    response._content = json.dumps({"users": users}).encode()
    return response


def paginator() -> OneRosterPaginator:
    return OneRosterPaginator(lambda response: [user["sourcedId"] for user in response.json()["users"]])


def test_without_headers_the_offset_moves_by_what_came_back_until_a_short_page() -> None:
    pager = paginator()
    # The server clamps limit=100 to 40 without saying so.
    first = pager.get_next_url(page(f"{BASE}?limit=100&offset=0", 40))
    assert first == f"{BASE}?limit=100&offset=40"
    assert pager.get_next_url(page(f"{BASE}?limit=100&offset=40", 40)) == f"{BASE}?limit=100&offset=80"
    assert pager.get_next_url(page(f"{BASE}?limit=100&offset=80", 17)) is None


def test_an_empty_page_ends_and_a_filter_is_kept() -> None:
    url = f"{BASE}?limit=100&offset=0&filter=dateLastModified%3E%272026-01-01%27"
    pager = paginator()
    following = pager.get_next_url(page(url, 100))

    assert following is not None
    assert "filter=dateLastModified%3E%272026-01-01%27" in following
    assert pager.get_next_url(page(following, 0)) is None


def test_a_relative_link_next_is_followed_and_its_absence_ends_a_linked_listing() -> None:
    pager = paginator()
    linked = page(
        f"{BASE}?limit=2&offset=0", 2, {"Link": '</ims/oneroster/v1p1/users?limit=2&offset=2>; rel="next"'}
    )

    assert pager.get_next_url(linked) == f"{BASE}?limit=2&offset=2"
    last = page(f"{BASE}?limit=2&offset=2", 2, {"Link": f'<{BASE}?limit=2&offset=0>; rel="first"'})
    assert pager.get_next_url(last) is None


def test_x_total_count_ends_the_listing_when_present() -> None:
    pager = paginator()
    assert pager.get_next_url(page(f"{BASE}?limit=50&offset=50", 50, {"X-Total-Count": "100"})) is None
