"""Reading OneRoster collections over REST: paging, retries and error messages an admin can act on."""

from __future__ import annotations

import decimal
import time
import weakref
from collections.abc import Generator, Iterator
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

from plugin_runtime import network, unreachable
from tap_oneroster.auth import OAuth2ClientCredentials

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.authenticators import APIAuthenticatorBase

API_PATHS = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}

# The longest a 429 may make us wait before the next try, whatever the server asks.
MAX_RATE_LIMIT_WAIT_SECONDS = 120

# What an admin should check when the server refuses a request.
_HINTS = {
    400: "the server rejected the query; if it names the filter, turn incremental off for this server",
    401: "the credentials were refused: check the Client ID, the Secret Key and the auth method",
    403: "the credentials may not read this data: ask the district to grant the API user access to it",
    404: "no such endpoint: check the OneRoster API URL, the API path and the version",
}


class OneRosterPaginator(BaseHATEOASPaginator):
    """Follows `Link: rel=next`; without one, moves `offset` on by the items received.

    Servers clamp `limit` silently and often send neither `Link` nor `X-Total-Count`, so the page size is
    learnt from the pages themselves: an empty page, or one shorter than the longest seen so far, ends it.
    """

    def __init__(self, ids_in: Any) -> None:
        super().__init__()
        self._ids_in = ids_in  # the sourcedIds of a response's items
        self._longest_page = 0
        self._repeats = network.PageRepeats()

    def get_next_url(self, response: requests.Response) -> str | None:
        ids = self._ids_in(response)
        next_url = self._next_url(response, len(ids))
        self._repeats.check(ids, next_url, f"OneRoster paging at {urlsplit(response.url).path}")
        return next_url

    def _next_url(self, response: requests.Response, received: int) -> str | None:
        if next_link := response.links.get("next", {}).get("url"):
            return urljoin(response.url, next_link)  # some servers send it relative
        query = dict(parse_qsl(urlsplit(response.request.url or "").query))
        offset = int(query.get("offset", 0)) + received
        total = response.headers.get("X-Total-Count", "")
        if (
            received == 0
            or response.links  # the server pages with links and sent no `next`: this is the last page
            or (total.isdigit() and offset >= int(total))
            or received < self._longest_page
        ):
            return None
        self._longest_page = max(self._longest_page, received)
        parts = urlsplit(response.request.url or "")
        return urlunsplit(parts._replace(query=urlencode({**query, "offset": offset})))


def error_message(response: requests.Response, what: str) -> str:
    """A OneRoster error (1.1 `statusInfoSet`, 1.2 `imsx_*`) as a sentence naming what failed and why."""
    detail = ""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        infos = body.get("statusInfoSet") or body.get("imsx_statusInfo") or [body]
        info = infos[0] if isinstance(infos, list) and infos and isinstance(infos[0], dict) else {}
        fields = (info.get("imsx_CodeMinor") or {}).get("imsx_codeMinorField") or []
        minor = ", ".join(str(f.get("imsx_codeMinorFieldValue")) for f in fields if isinstance(f, dict))
        description = info.get("imsx_description")
        detail = "; ".join(str(p) for p in (minor, description) if p)
    hint = _HINTS.get(response.status_code, "")
    if response.status_code == 429:
        hint = "the server is busy (rate limit)"
    elif response.status_code >= 500:
        hint = "the OneRoster server failed; try again later or ask the district to check its API"
    message = f"OneRoster {what}: HTTP {response.status_code} {response.reason}"
    return message + "".join(f" — {p}" for p in (detail, hint) if p)


class OneRosterCollection(RESTStream):
    """One OneRoster collection (`/users`, `/classes`, ...) read page by page.

    It is the tap's HTTP reader, not an output stream: the roster streams map what it yields.
    """

    extra_retry_statuses = (429,)
    allow_redirects = False  # a redirect is an error (plugin_runtime/network.py)

    def __init__(
        self, tap: Tap, collection: str, authenticator: APIAuthenticatorBase, since: str | None
    ) -> None:
        self.collection = collection
        self._authenticator = authenticator
        self._since = since
        self._refreshed_after_401 = False
        schema = {"type": "object", "properties": {}}
        self._retries = 0  # waits so far in this read: each one doubles
        super().__init__(tap, name=f"oneroster_{collection}", schema=schema, path=f"/{collection}")

    @property
    def url_base(self) -> str:
        api_path = self.config.get("api_path")
        if api_path is None:
            api_path = API_PATHS[self.config.get("version", "1.1")]
        # An empty api_path means base_url is already the full API URL (Skyward's "OneRoster API URL").
        return "/".join(p for p in (str(self.config["base_url"]).rstrip("/"), api_path.strip("/")) if p)

    @property
    def authenticator(self) -> APIAuthenticatorBase:
        return self._authenticator

    def get_new_paginator(self) -> OneRosterPaginator:
        return OneRosterPaginator(
            lambda response: [item.get("sourcedId") or "" for item in self.parse_response(response)]
        )

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        yield from _body(response)[self.collection]  # its shape was checked by validate_response

    def get_url_params(self, context: Any, next_page_token: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self.config.get("page_size", 100), "offset": 0}
        if self._since:
            params["filter"] = f"dateLastModified>'{self._since}'"
        return params

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        if page.next_page_token:  # the next page's full URL, query included
            request.url = page.next_page_token.geturl()
            request.params = {}
        return request

    def validate_response(self, response: requests.Response) -> None:
        what = f"GET /{self.collection}"
        oauth2 = self._authenticator if isinstance(self._authenticator, OAuth2ClientCredentials) else None
        if response.status_code == 401 and oauth2 and not self._refreshed_after_401:
            # A token can die before its announced expiry: fetch a new one and try once more.
            self._refreshed_after_401 = True
            oauth2.invalidate()
            raise RetriableAPIError(error_message(response, what), response)
        if redirect := network.redirect_message(response, f"OneRoster {what}", "base_url"):
            raise FatalAPIError(redirect)
        if response.status_code in self.extra_retry_statuses or response.status_code >= 500:
            raise RetriableAPIError(error_message(response, what), response)
        if response.status_code >= 400:
            raise FatalAPIError(error_message(response, what))
        content_type = response.headers.get("Content-Type") or "no content type"
        if "json" not in content_type:
            # A proxy's error page or a wrong URL: worth a retry, and a clear word if it stays.
            message = f"OneRoster {what}: the server answered {content_type} instead of OneRoster JSON"
            raise RetriableAPIError(message + " — check the OneRoster API URL", response)
        self._check_shape(response, what)
        self._refreshed_after_401 = False

    def request_decorator(self, func: Any) -> Any:
        testing = bool(getattr(self._tap, "testing_connection", False))
        server = "the OneRoster server"
        attempt = unreachable.fail_fast(func, testing, server, self.url_base, "base_url")
        return unreachable.explained(super().request_decorator(attempt), server, self.url_base, "base_url")

    def _check_shape(self, response: requests.Response, what: str) -> None:
        """A page is ``{"<collection>": [{"sourcedId": "...", ...}, ...]}``; anything else stops the read.

        One object with an empty or missing sourcedId among others is a row of the source's (real exports
        have them): the tap reports it and leaves it out (tables.py). A page where no object has one is not
        OneRoster at all.
        """
        try:
            body = _body(response)
        except (ValueError, RecursionError):  # cut off mid-way (the next try usually gets it whole)
            raise RetriableAPIError(
                f"OneRoster {what}: the answer is cut off or not JSON", response
            ) from None
        items = body.get(self.collection) if isinstance(body, dict) else None
        if not _in_shape(items):
            raise FatalAPIError(
                f"OneRoster {what}: the answer is not a list of {self.collection} with sourcedIds "
                "— check the OneRoster API URL and version"
            )

    def backoff_wait_generator(self) -> Generator[float, None, None]:
        return self.backoff_runtime(value=self._wait_seconds)

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_tries", 6))

    def _wait_seconds(self, exception: Exception) -> float:
        """How long to wait before the next try: what a 429 asks for, else exponential backoff."""
        response = getattr(exception, "response", None)
        if response is not None and response.status_code == 401:
            return 0
        if response is not None and response.status_code == 429:
            asked = _retry_after(response)
            if asked is not None:
                return min(asked, MAX_RATE_LIMIT_WAIT_SECONDS)
        self._retries += 1
        return min(float(self.config.get("backoff_factor", 1)) * 2 ** (self._retries - 1), 60.0)

    def backoff_jitter(self, value: float) -> float:
        return value  # waits are already what the server asked for, or small


def _in_shape(items: Any) -> bool:
    """A list of objects whose sourcedIds are text, at least one of them not empty (or no objects)."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return False
    ids = [item.get("sourcedId") for item in items]
    return all(i is None or isinstance(i, str) for i in ids) and (not ids or any(ids))


_bodies: weakref.WeakKeyDictionary[requests.Response, Any] = weakref.WeakKeyDictionary()


def _body(response: requests.Response) -> Any:
    """The decoded JSON body, decoded once (shape check, paging and records all need it)."""
    if response not in _bodies:
        _bodies[response] = response.json(parse_float=decimal.Decimal)
    return _bodies[response]


def _retry_after(response: requests.Response) -> float | None:
    """Seconds a 429 asks us to wait: `Retry-After` (seconds or a date) or `X-RateLimit-Reset` (Unix time)."""
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("X-RateLimit-Reset", "").strip()
    if reset.replace(".", "", 1).isdigit():
        return max(0.0, float(reset) - time.time())
    return None


class RestSource:
    """A OneRoster REST server: `read(collection, since)` yields the collection's objects."""

    def __init__(self, tap: Tap, authenticator: APIAuthenticatorBase) -> None:
        self._tap = tap
        self._authenticator = authenticator

    def is_complete(self, collection: str) -> bool:
        return True  # a REST read without a filter is the whole collection

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]:
        reader = OneRosterCollection(self._tap, collection, self._authenticator, since)
        yield from reader.request_records(None)
