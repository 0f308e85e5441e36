"""The Clever v3.0 client every stream shares: paging, auth, retries, rate limit, full and event syncs."""

from __future__ import annotations

import time
import weakref
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import chain
from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult, urljoin, urlparse

import msgspec
import requests
from singer_sdk import RESTStream, Tap
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

from plugin_runtime import network, unreachable
from roster_streams import batches, contract
from tap_clever import events
from tap_clever.errors import CleverError
from tap_clever.records import Record

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_clever.shared import Scope, Shared

# Clever keeps events for 30 days: a bookmark read longer ago than that may have missed purged events.
EVENTS_RETENTION = timedelta(days=30)
RETRY_CAP_SECONDS = 60.0

_bodies: weakref.WeakKeyDictionary[requests.Response, Any] = weakref.WeakKeyDictionary()


def response_body(response: requests.Response) -> Any:
    """The decoded JSON body (decoded once: validation, paging and parsing all need it)."""
    if response not in _bodies:
        _bodies[response] = msgspec.json.decode(response.content)
    return _bodies[response]


class CleverLinksPaginator(BaseHATEOASPaginator):
    """Follows the body's ``links`` entry with ``rel: next`` (a path relative to the API root); a server
    paging in a loop is stopped (network.PageRepeats)."""

    def __init__(self) -> None:
        super().__init__()
        self._repeats = network.PageRepeats()

    def get_next_url(self, response: requests.Response) -> str | None:
        body = response_body(response)
        links = body.get("links")
        next_url = None
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("uri"):
                next_url = str(link["uri"])
        ids = [str(item["data"].get("id")) for item in body["data"]]
        self._repeats.check(ids, next_url, f"Clever's paging at {urlparse(response.url).path}")
        return next_url


class CleverStream(RESTStream[ParseResult | None], batches.BatchingStream):
    """One standard roster stream built from one Clever collection.

    Subclasses name the collection (``resource``), the ``role`` filters to read it with, the event
    ``record_type`` that changes it, how a Clever object becomes records (``records_of``) and which of
    those belong to the selected schools (``in_scope``).
    """

    resource: str
    roles: tuple[str | None, ...] = (None,)
    record_type: str
    # Whether the stream's school scope depends on other records (a student is in scope through a
    # selected school's section). An event names only the record that changed, never the records that
    # entered the scope because of it, so with `schools` set such a stream is pulled whole every run.
    scope_follows_other_records = False
    path = "/{resource}"
    allow_redirects = False  # a redirect is an error (plugin_runtime/network.py)
    # records.py already builds every record to the contract's types; the SDK's recursive conforming pass
    # re-checked each value and was the tap's largest cost (bench/README.md, "tap-clever").
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, shared: Shared) -> None:
        self.shared = shared
        self._complete_version: int | None = None  # set when a full pull read its last record
        self._next_bookmark: tuple[str, datetime] | None = None
        schema = contract.load_schema(self.name)
        super().__init__(tap=tap, name=self.name, schema=schema)
        self.primary_keys = contract.key_properties(self.name)

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        """Every record of this stream that one Clever object yields."""
        raise NotImplementedError

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        """Whether a record (from ``obj``) belongs to the selected schools."""
        raise NotImplementedError

    def derive(self, obj: dict[str, Any]) -> list[Record]:
        """The records one Clever object yields for this run (only the selected schools' ones)."""
        scope = self.shared.scope(self.fetch)
        return [r for r in self.checked_records(obj) if scope is None or self.in_scope(r, obj, scope)]

    def checked_records(self, obj: dict[str, Any]) -> list[Record]:
        """``records_of``, with an object not in the Clever API's shape (a list where an object belongs, a
        field of the wrong type) stopping the run with its id instead of a traceback."""
        try:
            return list(self.records_of(obj))
        except (AttributeError, KeyError, TypeError) as error:
            where = f"{urlparse(self.url_base).path}/{self.resource}"
            raise CleverError(
                f"Clever's {self.resource} object {str(obj.get('id'))[:40]} at {where} is not in the Clever "
                f"API's shape ({type(error).__name__}: {str(error)[:80]}); check api_url, or ask Clever "
                "about the object"
            ) from None

    # HTTP ---------------------------------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/v3.0"

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.shared.district_token().token)

    def get_new_paginator(self) -> CleverLinksPaginator:
        return CleverLinksPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        token = page.next_page_token
        if token is not None:
            # The next link already carries limit and starting_after.
            request.url = urljoin(self.config["api_url"], token.geturl())
            request.params = {}
        else:
            context = page.stream_context or {}
            request.params = {"limit": self.config["page_size"], **context.get("params", {})}
        return request

    def request_decorator(self, func: Any) -> Any:
        def limited(*args: Any, **kwargs: Any) -> requests.Response:
            # Every attempt, retries included, counts against the per-token budget.
            self.shared.limiter.acquire()
            return func(*args, **kwargs)

        attempt = unreachable.fail_fast(
            limited, self.shared.testing_connection, "Clever", self.url_base, "api_url"
        )
        return unreachable.explained(super().request_decorator(attempt), "Clever", self.url_base, "api_url")

    def validate_response(self, response: requests.Response) -> None:
        where = urlparse(response.url).path
        status = response.status_code
        if status == 401:
            raise CleverError(
                f"Clever refused the district token (HTTP 401) at {where}. The token is wrong, revoked, or "
                "the district disconnected the app: set district_token again (or client_id, client_secret "
                "and district_id so tap-clever looks it up).",
                status,
            )
        if status == 403:
            raise CleverError(
                f"Clever denied access (HTTP 403) to {where}: the district has not shared this data with the "
                "app. Ask the district's Clever admin to share it (Clever dashboard > Applications > "
                "data sharing), allow up to an hour for the change, and run `tap-clever --test` to check.",
                status,
            )
        if redirect := network.redirect_message(response, f"Clever at {where}", "api_url"):
            raise CleverError(redirect, status)
        if status == 429 or status >= 500:
            raise RetriableAPIError(f"Clever answered HTTP {status} at {where}", response)
        if status >= 400:
            raise CleverError(f"Clever answered HTTP {status} at {where}: {_message(response)}", status)
        if _looks_like_html(response):
            raise CleverError(
                f"Clever answered an HTML page where JSON was expected (HTTP {status} at {where}). "
                "Check api_url, and that the token is a district token (not an app or user token).",
                status,
            )
        try:
            body = response_body(response)
        except (msgspec.DecodeError, RecursionError) as exc:
            # A body cut off mid-way: the next attempt usually gets it whole.
            raise RetriableAPIError(f"Clever's answer at {where} was cut off or not JSON", response) from exc
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise CleverError(f"Clever's answer at {where} is not a list envelope with 'data'.", status)
        links = body.get("links", [])
        if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
            # Paging follows links: read wrong, a page would silently end the collection.
            raise CleverError(f"Clever's answer at {where} has 'links' that are not a list of links.", status)
        for item in body["data"]:
            obj = item.get("data") if isinstance(item, dict) else None
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
                raise CleverError(
                    f'Clever\'s answer at {where} holds an item that is not {{"data": {{"id": ...}}}}: '
                    "not the Clever API's shape; check api_url",
                    status,
                )

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        for item in response_body(response)["data"]:
            yield item["data"]

    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Wait until ``X-RateLimit-Reset`` after a 429; otherwise back off 1, 2, 4 ... seconds."""
        exception = yield 0.0
        attempt = 0
        while True:
            wait = min(2.0**attempt, RETRY_CAP_SECONDS)
            attempt += 1
            response = getattr(exception, "response", None)
            if response is not None and response.status_code == 429:
                reset = response.headers.get("X-RateLimit-Reset", "")
                if reset.isdigit():
                    wait = min(max(int(reset) - time.time(), 0.0), RETRY_CAP_SECONDS)
            exception = yield wait

    def backoff_max_tries(self) -> int:
        return 6

    def fetch(self, resource: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a Clever collection, following next links."""
        yield from self.request_records({"resource": resource, "params": params or {}})

    # Sync -----------------------------------------------------------------------------------------------

    @property
    def emit_activate_version_messages(self) -> bool:
        # The SDK would announce the version before any record; the contract wants the ACTIVATE_VERSION
        # after the last one ("this stream was pulled complete"), so get_records writes it itself.
        return False

    @cached_property
    def events_since(self) -> str | None:
        """The event id to continue from, or None when this run must pull the stream whole."""
        return self._plan_events()

    def get_records(self, context: Context | None) -> Iterable[Record]:
        yield from self._pull()
        self._pulled_complete()

    def batch_records(self, context: Context | None) -> Iterator[Record]:
        return self._pull()

    def _pull(self) -> Iterator[Record]:
        """This run's records: the events since the bookmark, or the whole stream.

        What a complete pull must write after its last record (ACTIVATE_VERSION, the new bookmark) waits
        for ``_pulled_complete``: in batch mode the last file's BATCH message must go out first.
        """
        self.shared.check_admin(self.fetch)
        if self.events_since is not None:
            yield from self._records_from_events(self.events_since)
            return
        newest = self._newest_event_id() if self.follows_events else None
        started = _now()
        version = self._stream_version = self._initialized_at // 1000  # every record of this pull carries it
        # Without `schools` every record of every object is sent: skip the scope test (a million records).
        derive = self.checked_records if self.shared.scope(self.fetch) is None else self.derive
        for position, role in enumerate(self.roles):
            objects = self.fetch(self.resource, {"role": role} if role else {})
            if position:
                objects = (obj for obj in objects if not _listed_earlier(obj, self.roles[:position]))
            yield from chain.from_iterable(map(derive, objects))
        self._complete_version = version
        if newest is not None:
            self._next_bookmark = (newest, started)

    def _pulled_complete(self) -> None:
        """After the pull's last record (or file) went out: close a full pull, move the event bookmark."""
        if self._complete_version is not None:
            self._write_activate_version_message(self._complete_version)  # the stream was pulled complete
        if self._next_bookmark is not None:
            self._bookmark(*self._next_bookmark)

    def _records_from_events(self, since: str) -> Iterator[Record]:
        started = _now()
        last = since
        for event in self.fetch("events", _after(since) | {"record_type": self.record_type}):
            yield from events.changes(event, self.derive, self.primary_keys)
            last = event["id"]
        self._next_bookmark = (last, started)

    def _bookmark(self, event_id: str, read_at: datetime) -> None:
        self.stream_state["last_event_id"] = event_id
        self.stream_state["events_read_at"] = read_at.isoformat()
        self.state_manager.is_flushed = False

    @property
    def follows_events(self) -> bool:
        """Whether incremental runs read this stream from events (see ``scope_follows_other_records``)."""
        scoped = bool(self.config.get("schools")) and self.scope_follows_other_records
        return bool(self.config.get("incremental")) and not scoped

    def _plan_events(self) -> str | None:
        if not self.follows_events:
            if self.config.get("incremental"):
                self.logger.info(
                    "%s: pulled whole every run with `schools` set (who is in the schools' scope changes "
                    "without an event about them)",
                    self.name,
                )
            return None
        state = self.stream_state
        if state.get("last_event_id") is None:
            self.logger.info("%s: no event bookmark yet, pulling the stream whole first", self.name)
            return None
        # An empty bookmark: the district had no events yet when the stream was last pulled whole.
        bookmark = str(state["last_event_id"])
        read_at = _parse_time(state.get("events_read_at"))
        if read_at is None or _now() - read_at > EVENTS_RETENTION:
            self.logger.warning(
                "%s: the event bookmark was last read over 30 days ago (Clever keeps 30 days of events): "
                "falling back to a full sync",
                self.name,
            )
            return None
        try:
            next(iter(self.fetch("events", _after(bookmark) | {"limit": 1})), None)
        except CleverError as exc:
            if exc.status not in (400, 403, 404):
                raise
            self.logger.warning(
                "%s: Clever would not serve events after the bookmark (HTTP %s: events are not enabled for "
                "the app, or the bookmark expired): falling back to a full sync",
                self.name,
                exc.status,
            )
            return None
        return bookmark

    def _newest_event_id(self) -> str | None:
        """The id to continue from after this full pull (noted before it, so nothing slips between)."""
        try:
            newest = next(iter(self.fetch("events", {"ending_before": "last", "limit": 1})), None)
        except CleverError as exc:
            if exc.status not in (400, 403, 404):
                raise
            self.logger.warning(
                "%s: events are not available (HTTP %s); enable the Events API for the app in Clever to sync "
                "incrementally. This run is a full sync.",
                self.name,
                exc.status,
            )
            return None
        return str(newest["id"]) if newest else ""


def _after(event_id: str) -> dict[str, str]:
    return {"starting_after": event_id} if event_id else {}


def _listed_earlier(obj: dict[str, Any], earlier_roles: tuple[str | None, ...]) -> bool:
    """A user with several employee roles is listed under each: emit it once, from the first listing."""
    roles = obj.get("roles") or {}
    return any(role and roles.get(role) is not None for role in earlier_roles)


def _looks_like_html(response: requests.Response) -> bool:
    if "html" in response.headers.get("Content-Type", "").lower():
        return True
    return response.content[:100].lstrip().lower().startswith((b"<!doctype", b"<html"))


def _message(response: requests.Response) -> str:
    try:
        body = response_body(response)
    except msgspec.DecodeError:
        return "no JSON error message"
    return str(body.get("message", body)) if isinstance(body, dict) else "no JSON error message"


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
