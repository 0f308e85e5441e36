"""OneRoster 1.1 and 1.2 REST: collections and nested forms, limit/offset paging, filters, auth, errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roster_sandbox import oauth1
from roster_sandbox.clever_api import basic_credentials
from roster_sandbox.district import District
from roster_sandbox.oneroster import SINGULAR, Entry, OneRosterView
from roster_sandbox.oneroster_filter import FilterError, parse_filter
from roster_sandbox.state import SandboxState

DEFAULT_LIMIT = 100
# Collection names a client may ask for -> (translated collection, narrowing to a kind of record)
ALIASES: dict[str, tuple[str, Callable[[Entry], bool] | None]] = {
    "orgs": ("orgs", None),
    "schools": ("orgs", lambda e: e.kind == "school"),
    "academicSessions": ("academicSessions", None),
    "terms": ("academicSessions", lambda e: e.kind == "term"),
    "courses": ("courses", None),
    "classes": ("classes", None),
    "users": ("users", None),
    "students": ("users", lambda e: "student" in e.roles),
    "teachers": ("users", lambda e: "teacher" in e.roles),
    "enrollments": ("enrollments", None),
    "demographics": ("demographics", None),
}


class NotFound(Exception):
    pass


class OneRosterApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        settings = state.settings
        self.bases = {settings.oneroster_11_base: "1.1", settings.oneroster_12_base: "1.2"}
        self._views: dict[str, OneRosterView] = {}
        self._district: District | None = None
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        routes = [Route(self.state.settings.oneroster_token_path, self.token, methods=["POST"])]
        for base in self.bases:
            routes.append(Route(base + "/{rest:path}", self.serve))
        return routes

    def owns(self, path: str) -> bool:
        return self.version_of(path) is not None

    def version_of(self, path: str) -> str | None:
        for base, version in self.bases.items():
            if path.startswith(base + "/"):
                return version
        return None

    def error(
        self,
        status: int,
        code: str,
        description: str,
        headers: dict[str, str] | None = None,
        version: str = "1.2",
    ) -> Response:
        info = {
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}
                ]
            },
        }
        body = {"statusInfoSet": [info]} if version == "1.1" else info
        return Response(
            msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
        )

    # --- OAuth 2 ------------------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """Client-credentials grant: Basic auth (or client_id/client_secret in the form)."""
        settings = self.state.settings
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        credentials = basic_credentials(request) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if credentials != (settings.client_id, settings.client_secret):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        token = self.state.issue_oauth2_token()
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": settings.token_lifetime,
            "scope": str(
                form.get("scope") or "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
            ),
        }
        return Response(
            msgspec.json.encode(body), media_type="application/json", headers={"Cache-Control": "no-store"}
        )

    def _authorised(self, request: Request) -> str | None:
        """None when the request has a live OAuth 2 token or a valid OAuth 1.0a signature; else why not."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            return None if self.state.oauth2_token_valid(credentials) else "access token unknown or expired"
        if scheme == "OAuth":
            settings = self.state.settings
            url = (
                f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}{request.url.path}"
            )
            return oauth1.check(
                request.method, url, request.url.query, header, settings.client_id, settings.client_secret
            )
        return "missing Authorization (OAuth 2 Bearer token or OAuth 1.0a signature)"

    # --- data ---------------------------------------------------------------------------------------------

    def view(self, version: str) -> OneRosterView:
        district = self.state.district.current()
        with self._lock:
            if district is not self._district:
                self._district, self._views = district, {}
            if version not in self._views:
                base = next(b for b, v in self.bases.items() if v == version)
                self._views[version] = OneRosterView(district, version, base)
            return self._views[version]

    def serve(self, request: Request) -> Response:
        version = self.version_of(request.url.path) or "1.2"
        refused = self._authorised(request)
        if refused:
            return self.error(401, "unauthorisedrequest", refused, {"WWW-Authenticate": "Bearer"}, version)
        segments = [s for s in request.path_params["rest"].split("/") if s]
        view = self.view(version)
        try:
            resolved = _resolve(view, segments)
        except NotFound as exc:
            return self.error(404, "unknownobject", str(exc), version=version)
        if isinstance(resolved, Entry):
            key = SINGULAR[_collection_of(segments[0])]
            fields = _fields(request)
            return _json({key: _select(resolved, fields)})
        envelope, entries = resolved
        try:
            entries = _apply_filter(view, segments, entries, request.query_params.get("filter"))
        except FilterError as exc:
            return self.error(400, "invalid_filter_field", str(exc), version=version)
        return self._page(request, envelope, entries)

    def _page(self, request: Request, envelope: str, entries: list[Entry]) -> Response:
        settings = self.state.settings
        params = request.query_params
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            offset = int(params.get("offset", 0))
        except ValueError:
            return self.error(
                400,
                "invaliddata",
                "limit and offset must be integers",
                version=self.version_of(request.url.path) or "1.2",
            )
        limit = max(1, limit)
        if settings.max_page:
            limit = min(limit, settings.max_page)  # real servers clamp silently
        offset = max(0, offset)
        page = entries[offset : offset + limit]
        fields = _fields(request)
        if fields:
            items = [msgspec.json.encode(_select(e, fields)) for e in page]
        else:
            items = [e.encoded for e in page]
        body = b'{"' + envelope.encode() + b'":[' + b",".join(items) + b"]}"
        headers: dict[str, str] = {}
        total = len(entries)
        if settings.total_count_header:
            headers["X-Total-Count"] = str(total)
        if settings.link_header:
            headers["Link"] = _links(request, limit, offset, total)
        return Response(body, media_type="application/json", headers=headers)


def _json(body: object) -> Response:
    return Response(msgspec.json.encode(body), media_type="application/json")


def _oauth_error(status: int, code: str, description: str) -> Response:
    body = msgspec.json.encode({"error": code, "error_description": description})
    return Response(body, status_code=status, media_type="application/json")


def _collection_of(name: str) -> str:
    if name not in ALIASES:
        raise NotFound(f"unknown collection {name!r}")
    return ALIASES[name][0]


def _narrow(view: OneRosterView, name: str) -> list[Entry]:
    collection, keep = ALIASES[name]
    entries = view.collection(collection).entries
    if keep is None:
        return entries
    key = ("narrow", name)
    if key not in view.derived:
        view.derived[key] = [e for e in entries if keep(e)]
    return view.derived[key]


def _get(view: OneRosterView, name: str, sourced_id: str) -> Entry:
    collection, keep = ALIASES.get(name, (None, None))
    if collection is None:
        raise NotFound(f"unknown collection {name!r}")
    entry = view.collection(collection).by_id.get(sourced_id)
    if entry is None or (keep is not None and not keep(entry)):
        raise NotFound(f"{name} {sourced_id} not found")
    return entry


def _resolve(view: OneRosterView, segments: list[str]) -> Entry | tuple[str, list[Entry]]:
    """A single object, or (envelope key, entries) for the collection or nested form in the path."""
    if not segments or segments[0] not in ALIASES:
        raise NotFound(f"unknown endpoint /{'/'.join(segments)}")
    if len(segments) == 1:
        name = segments[0]
        return ALIASES[name][0], _narrow(view, name)
    if len(segments) == 2:
        return _get(view, segments[0], segments[1])
    key = tuple(segments)
    if key in view.derived:
        return _envelope(segments[-1]), view.derived[key]
    entries = _nested(view, segments)
    view.derived[key] = entries
    return _envelope(segments[-1]), entries


def _envelope(last: str) -> str:
    return ALIASES[last][0] if last in ALIASES else last


def _nested(view: OneRosterView, segments: list[str]) -> list[Entry]:
    owner_kind, owner_id, *rest = segments
    _get(view, owner_kind, owner_id)  # 404 for an unknown owner
    if owner_kind == "schools" and len(rest) == 3 and rest[0] == "classes":
        class_id, child = rest[1], rest[2]
        if _get(view, "classes", class_id).orgs != (owner_id,):
            raise NotFound(f"class {class_id} is not taught at school {owner_id}")
        return _class_members(view, class_id, child)
    if len(rest) != 1:
        raise NotFound(f"unknown endpoint /{'/'.join(segments)}")
    child = rest[0]
    if owner_kind == "schools":
        if child in ("classes", "enrollments", "students", "teachers"):
            return [e for e in _narrow(view, child) if owner_id in e.orgs]
        if child in ("courses", "terms"):
            classes = [e for e in _narrow(view, "classes") if owner_id in e.orgs]
            wanted = (
                {c.course for c in classes} if child == "courses" else {t for c in classes for t in c.terms}
            )
            return [e for e in _narrow(view, child) if e.sourced_id in wanted]
    if owner_kind == "classes" and child in ("students", "teachers", "enrollments"):
        return _class_members(view, owner_id, child)
    if owner_kind in ("terms", "academicSessions") and child == "classes":
        return [e for e in _narrow(view, "classes") if owner_id in e.terms]
    if owner_kind == "courses" and child == "classes":
        return [e for e in _narrow(view, "classes") if e.course == owner_id]
    if owner_kind in ("users", "students", "teachers") and child == "classes":
        class_ids = {
            e.klass for e in _narrow(view, "enrollments") if e.user == owner_id and e.status == "active"
        }
        return [e for e in _narrow(view, "classes") if e.sourced_id in class_ids]
    raise NotFound(f"unknown endpoint /{'/'.join(segments)}")


def _class_members(view: OneRosterView, class_id: str, child: str) -> list[Entry]:
    enrollments = [e for e in _narrow(view, "enrollments") if e.klass == class_id]
    if child == "enrollments":
        return enrollments
    if child not in ("students", "teachers"):
        raise NotFound(f"unknown endpoint .../classes/{class_id}/{child}")
    role = child[:-1]
    user_ids = {e.user for e in enrollments if role in e.roles and e.status == "active"}
    return [e for e in _narrow(view, child) if e.sourced_id in user_ids]


def _apply_filter(
    view: OneRosterView, segments: list[str], entries: list[Entry], text: str | None
) -> list[Entry]:
    if not text:
        return entries
    key = (*segments, "filter", text)
    if key not in view.derived:
        matches = parse_filter(text)
        view.derived[key] = [e for e in entries if matches(e.obj)]
    return view.derived[key]


def _fields(request: Request) -> list[str]:
    return [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]


def _select(entry: Entry, fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in entry.obj.items() if k in fields} if fields else entry.obj


def _links(request: Request, limit: int, offset: int, total: int) -> str:
    base = str(request.url.replace(query=""))
    others = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]

    def url(at: int) -> str:
        return f"{base}?{urlencode([*others, ('limit', str(limit)), ('offset', str(at))])}"

    last = max(0, (total - 1) // limit * limit)
    links = [f'<{url(0)}>; rel="first"', f'<{url(last)}>; rel="last"']
    if offset + limit < total:
        links.insert(0, f'<{url(offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
    return ", ".join(links)
