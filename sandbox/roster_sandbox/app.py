"""The sandbox's ASGI application: Clever and OneRoster routes, the fault layer, the admin endpoints."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roster_sandbox.clever_api import CleverApi, json_response
from roster_sandbox.district import DistrictError
from roster_sandbox.faults import FaultError, FaultRule
from roster_sandbox.oneroster_api import OneRosterApi
from roster_sandbox.state import SandboxState

ADMIN_PREFIX = "/_sandbox"
HTML_PAGE = (
    b"<html><head><title>Error</title></head><body><h1>%d</h1><p>The server is unavailable.</p></body></html>"
)


def build_app(state: SandboxState) -> Starlette:
    oneroster = OneRosterApi(state)
    routes = [
        Route(f"{ADMIN_PREFIX}/health", _health(state)),
        Route(f"{ADMIN_PREFIX}/faults", _faults_endpoint(state), methods=["GET", "POST", "PUT", "DELETE"]),
        *oneroster.routes(),
        *CleverApi(state).routes(),
    ]
    app = Starlette(routes=routes, exception_handlers={DistrictError: _unservable})
    app.add_middleware(FaultMiddleware, state=state, oneroster=oneroster)
    return app


def _unservable(request: Request, exc: Exception) -> Response:
    """The directory changed on disk into something that cannot be served: say which file and why."""
    return json_response({"message": f"the sandbox cannot serve its directory: {exc}"}, 500)


def _health(state: SandboxState) -> Any:
    def health(request: Request) -> Response:
        district = state.district.current()
        counts = {name: len(coll.ids) for name, coll in district.collections.items()}
        return json_response({"status": "ok", "district": district.district_id, "counts": counts})

    return health


def _faults_endpoint(state: SandboxState) -> Any:
    async def faults(request: Request) -> Response:
        """GET shows the rules and how often each fired; POST/PUT replaces them; DELETE clears them."""
        if request.method in ("POST", "PUT"):
            try:
                body = msgspec.json.decode(await request.body())
                rules = [FaultRule.from_dict(rule) for rule in body.get("rules", [])]
                state.faults.set(rules, int(body.get("seed", 0)))
            except (msgspec.DecodeError, FaultError, TypeError, AttributeError, ValueError) as exc:
                return json_response({"message": f"bad fault set: {exc}"}, 400)
        elif request.method == "DELETE":
            state.faults.clear()
        return json_response(state.faults.describe())

    return faults


class FaultMiddleware:
    """Applies the active fault rules to API requests (never to the admin endpoints)."""

    def __init__(self, app: ASGIApp, state: SandboxState, oneroster: OneRosterApi) -> None:
        self.app = app
        self.state = state
        self.oneroster = oneroster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX) or not self.state.faults.rules:
            await self.app(scope, receive, send)
            return
        rule = self.state.faults.pick(path)
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind == "cut":
            await self._cut(scope, receive, send)
        elif rule.kind == "endless":
            await self._endless(scope, receive, send)
        else:
            await self._error_response(rule, path)(scope, receive, send)

    def _error_response(self, rule: FaultRule, path: str) -> Response:
        version = self.oneroster.version_of(path)
        oneroster = version is not None
        if rule.kind == "body":
            return Response(rule.body, status_code=rule.status, media_type=rule.content_type)
        if rule.kind == "redirect":
            return Response(status_code=302, headers={"Location": rule.location})
        if rule.kind == "html":
            return Response(HTML_PAGE % rule.status, status_code=rule.status, media_type="text/html")
        if rule.kind == "rate_limit":
            headers = {
                "X-RateLimit-Reset": str(int(time.time()) + rule.reset_after),
                "Retry-After": str(rule.reset_after),
            }
            if oneroster:
                return self.oneroster.error(
                    429, "server_busy", "too many requests", headers, version or "1.2"
                )
            return json_response({"message": "rate limit exceeded"}, 429, headers)
        if rule.kind == "expire_tokens":
            self.state.expire_oauth2_tokens()
            if oneroster:
                return self.oneroster.error(
                    401, "unauthorisedrequest", "access token expired", version=version or "1.2"
                )
            return json_response({"message": "token expired"}, 401)
        if oneroster:
            return self.oneroster.error(
                rule.status,
                "internal_server_error",
                f"injected fault {rule.status}",
                version=version or "1.2",
            )
        return json_response({"message": f"injected fault {rule.status}"}, rule.status)

    async def _endless(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The real answer, with a next link to the same page under a new URL (``_page`` counts up)."""
        query = [p for p in scope.get("query_string", b"").decode().split("&") if p]
        page = next((int(p[6:]) for p in query if p.startswith("_page=") and p[6:].isdigit()), 0)
        plain = [p for p in query if not p.startswith("_page=")]
        start, body = await _captured(self.app, {**scope, "query_string": "&".join(plain).encode()}, receive)
        next_url = f"{scope['path']}?{'&'.join([*plain, f'_page={page + 1}'])}"
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            decoded = None
        if isinstance(decoded, dict) and "links" in decoded:  # Clever: the next link is in the body
            decoded["links"] = [{"rel": "next", "uri": next_url}]
            body = msgspec.json.encode(decoded)
        host = dict(scope.get("headers") or []).get(b"host", b"127.0.0.1").decode()
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"link", b"x-total-count")
        ]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"link", f'<http://{host}{next_url}>; rel="next"'.encode()),  # OneRoster: in the header
        ]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _cut(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the real response's headers on, send half its body, then drop the connection."""
        start, body = await _captured(self.app, scope, receive)
        await send(start)
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # Raising after the response started makes the server close the connection mid-body.
        raise ConnectionAbortedError("injected fault: body cut off")


async def _captured(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
    """The app's answer to a request: its start message and its whole body."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    assert start is not None
    return start, b"".join(chunks)
