"""Clever Data API v3.0 and Events API: list envelopes, cursor paging, Bearer tokens, the token listing."""

from __future__ import annotations

import base64
import binascii
import bisect
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roster_sandbox.district import District, View
from roster_sandbox.state import SandboxState

MAX_LIMIT = 10000
DEFAULT_LIMIT = 100
LISTED = ("districts", "schools", "sections", "terms", "courses", "users")
# The scope a token needs to see each kind of record (Clever hides what a district did not share).
ROLE_SCOPES = {
    "student": "read:students",
    "teacher": "read:teachers",
    "staff": "read:school_admins",
    "district_admin": "read:district_admins",
    "contact": "read:student_contacts",
}
COLLECTION_SCOPES = {
    "schools": "read:schools",
    "sections": "read:sections",
    "terms": "read:terms",
    "courses": "read:courses",
}
SCHOOL_SCOPED = ("users", "sections")

_encode = msgspec.json.encode


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json", headers=headers)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


class CleverApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/tokens", self.tokens),
            Route("/v3.0/events", self.list_events),
            Route("/v3.0/events/{id}", self.one_event),
            Route("/v3.0/schools/{id}/{collection}", self.list_for_school),
            Route("/v3.0/{collection}", self.list_collection),
            Route("/v3.0/{collection}/{id}", self.one_record),
        ]

    # --- auth -----------------------------------------------------------------------------------------

    def tokens(self, request: Request) -> Response:
        """GET /oauth/tokens with HTTP Basic client_id:client_secret: the district tokens of this app."""
        settings = self.state.settings
        if basic_credentials(request) != (settings.client_id, settings.client_secret):
            return error(401, "invalid client credentials")
        district_id = self.state.district.current().district_id
        wanted = request.query_params.get("district")
        owner_type = request.query_params.get("owner_type", "district")
        data = []
        if owner_type == "district" and wanted in (None, district_id):
            data.append(
                {
                    "id": "5f0000000000000000000001",
                    "created": "2021-03-02T22:24:50.000Z",
                    "owner": {"type": "district", "id": district_id},
                    "access_token": settings.token,
                    "scopes": list(settings.scopes),
                }
            )
        return json_response({"data": data, "links": [{"rel": "self", "uri": str(request.url.path)}]})

    def _check_bearer(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token != self.state.settings.token:
            return error(401, "invalid or missing bearer token")
        reset = self.state.take_rate(token)
        if reset is not None:
            limit = str(self.state.settings.rate_limit)
            headers = {
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Limit": limit,
                "X-RateLimit-Remaining": "0",
            }
            return error(429, "rate limit exceeded", headers)
        return None

    def _has(self, scope: str) -> bool:
        return scope in self.state.settings.scopes

    # --- data -----------------------------------------------------------------------------------------

    def list_collection(self, request: Request) -> Response:
        denied = self._check_bearer(request)
        if denied:
            return denied
        collection = request.path_params["collection"]
        if collection not in LISTED:
            return error(404, f"no such endpoint: /v3.0/{collection}")
        district = self.state.district.current()
        role = request.query_params.get("role")
        if collection == "users":
            if role is not None and role not in ROLE_SCOPES:
                return error(400, f"invalid role {role!r}; allowed: {', '.join(ROLE_SCOPES)}")
            view = self._users_view(district, role)
        else:
            scope = COLLECTION_SCOPES.get(collection)
            view = district.view(collection) if scope is None or self._has(scope) else View([], [])
        return self._page(request, view)

    def _users_view(self, district: District, role: str | None) -> View:
        allowed = [r for r, scope in ROLE_SCOPES.items() if self._has(scope)]
        if role is not None:
            return district.view("users", role=role) if role in allowed else View([], [])
        if len(allowed) == len(ROLE_SCOPES):
            return district.view("users")
        # A user with several employee roles appears in several role views: merge without repeats.
        merged: dict[str, bytes] = {}
        for r in allowed:
            view = district.view("users", role=r)
            merged.update(zip(view.ids, view.items, strict=True))
        ids = sorted(merged)
        return View(ids, [merged[i] for i in ids])

    def list_for_school(self, request: Request) -> Response:
        denied = self._check_bearer(request)
        if denied:
            return denied
        collection = request.path_params["collection"]
        school_id = request.path_params["id"]
        district = self.state.district.current()
        if collection not in SCHOOL_SCOPED:
            return error(404, f"no such endpoint: /v3.0/schools/{{id}}/{collection}")
        if school_id not in district.collections["schools"].positions:
            return error(404, f"school {school_id} not found")
        view = district.view(collection, school=school_id)
        role = request.query_params.get("role")
        if collection == "users" and role is not None:
            if role not in ("staff", "student", "teacher"):
                return error(400, f"invalid role {role!r}; allowed: staff, student, teacher")
            of_role = set(district.view("users", role=role).ids)
            pairs = [(i, item) for i, item in zip(view.ids, view.items, strict=True) if i in of_role]
            view = View([p[0] for p in pairs], [p[1] for p in pairs])
        return self._page(request, view)

    def one_record(self, request: Request) -> Response:
        denied = self._check_bearer(request)
        if denied:
            return denied
        collection = request.path_params["collection"]
        record_id = request.path_params["id"]
        if collection not in LISTED:
            return error(404, f"no such endpoint: /v3.0/{collection}")
        coll = self.state.district.current().collections[collection]
        pos = coll.positions.get(record_id)
        if pos is None:
            return error(404, f"{collection[:-1]} {record_id} not found")
        return _single(coll.raw(pos), f"/v3.0/{collection}/{record_id}")

    def list_events(self, request: Request) -> Response:
        denied = self._check_bearer(request)
        if denied:
            return denied
        events = self.state.district.current().events
        view = View(events.ids, events.items)
        record_types = request.query_params.getlist("record_type")
        school = request.query_params.get("school")
        if record_types or school:
            view = _filter_events(view, list(events.raws()), record_types, school)
        return self._page(request, view)

    def one_event(self, request: Request) -> Response:
        denied = self._check_bearer(request)
        if denied:
            return denied
        events = self.state.district.current().events
        pos = events.positions.get(request.path_params["id"])
        if pos is None:
            return error(404, f"event {request.path_params['id']} not found")
        return _single(events.raw(pos), f"/v3.0/events/{events.ids[pos]}")

    def _page(self, request: Request, view: View) -> Response:
        """A list-envelope page: ascending ids, starting_after/ending_before cursors, relative links."""
        params = request.query_params
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return error(400, f"limit must be an integer, got {params.get('limit')!r}")
        if limit > MAX_LIMIT:
            return error(413, f"limit must be at most {MAX_LIMIT}, got {limit}")
        if limit < 1:
            return error(400, f"limit must be at least 1, got {limit}")
        after, before = params.get("starting_after"), params.get("ending_before")
        if before is not None:
            # "last" is Clever's cursor for the end of the list (the newest event).
            stop = len(view.ids) if before == "last" else bisect.bisect_left(view.ids, before)
            start = max(0, stop - limit)
        else:
            start = bisect.bisect_right(view.ids, after) if after is not None else 0
            stop = min(len(view.ids), start + limit)
        others = [
            (k, v) for k, v in params.multi_items() if k not in ("starting_after", "ending_before", "limit")
        ]
        path = request.url.path
        query = request.url.query
        links = [{"rel": "self", "uri": f"{path}?{query}" if query else path}]
        if stop < len(view.ids) and stop > start:
            links.append(
                {"rel": "next", "uri": _link(path, limit, others, "starting_after", view.ids[stop - 1])}
            )
        if start > 0 and stop > start:
            links.append({"rel": "prev", "uri": _link(path, limit, others, "ending_before", view.ids[start])})
        body = b'{"data":[' + b",".join(view.items[start:stop]) + b'],"links":' + _encode(links) + b"}"
        return Response(body, media_type="application/json")


def _link(path: str, limit: int, others: list[tuple[str, str]], cursor: str, value: str) -> str:
    return f"{path}?{urlencode([('limit', str(limit)), *others, (cursor, value)])}"


def _single(raw: bytes, uri: str) -> Response:
    body = b'{"data":' + raw + b',"links":[{"rel":"self","uri":"' + uri.encode() + b'"}]}'
    return Response(body, media_type="application/json")


class _EventType(msgspec.Struct):
    type: str
    data: dict[str, Any] = {}


def _filter_events(view: View, raws: list[bytes], record_types: list[str], school: str | None) -> View:
    """Events of the given record types (``users`` or ``user``) and/or about one school."""
    decoder = msgspec.json.Decoder(_EventType)
    wanted = {t.rstrip("s") for t in record_types}
    keep = []
    for i, raw in enumerate(raws):
        event = decoder.decode(raw)
        if wanted and event.type.split(".")[0].rstrip("s") not in wanted:
            continue
        if school and school not in _schools_of(event.data.get("object") or {}):
            continue
        keep.append(i)
    return View([view.ids[i] for i in keep], [view.items[i] for i in keep])


def _schools_of(obj: dict[str, Any]) -> set[str]:
    """The schools a record belongs to: a school itself, a section's school, a user's role schools."""
    details = [obj, *(role or {} for role in (obj.get("roles") or {}).values())]
    schools = {d["school"] for d in details if d.get("school")}
    schools.update(s for d in details for s in d.get("schools") or [])
    if obj.get("id") and "principal" in obj:
        schools.add(obj["id"])
    return schools


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
