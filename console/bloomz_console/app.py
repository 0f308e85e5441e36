"""The console's web app: routes, login, and the protections every response gets.

Protections: a login for every page but the login page; a signed, HTTP-only, SameSite=strict session
cookie; a CSRF token on every POST; the Host header checked (no DNS rebinding onto a loopback console);
request bodies bounded; no caching of pages (they show children's data); a Content-Security-Policy that
allows only the console's own script and style; every template value escaped.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bloomz_console import auth, pages_link, pages_manage, pages_runs, pages_school
from bloomz_console.project import Project
from bloomz_console.tasks import Tasks
from bloomz_console.web import Console, flash, posted, redirect, render, templates

SESSION_HOURS = 8
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Protections:
    """Bounds request bodies and adds the security headers (a page may set its own CSP)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await PlainTextResponse("The request is too large.", status_code=413)(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, "The request is too large.")
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in HEADERS if h[0] not in present),
                ]
            await send(message)

        await self.app(scope, bounded, with_headers)


async def login_page(request: Request) -> Response:
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")), error=None)


async def login(request: Request) -> Response:
    form = await posted(request)
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or "/"))
    folder = request.app.state.console.project.state_dir
    if not auth.check_password(folder, name, password):
        return render(request, "login.html", 401, next=target, error="Wrong user name or password.")
    request.session.clear()  # a new session on login: nothing of the anonymous one carries over
    request.session["user"] = name
    flash(request, "ok", f"Signed in as {name}.")
    return redirect(target)


async def logout(request: Request) -> Response:
    await posted(request)
    request.session.clear()
    return redirect("/login")


def _safe_next(target: str | None) -> str:
    """Only a path of this console (no scheme, no host): a login never sends anyone elsewhere."""
    parsed = urlparse(target or "/")
    if (
        parsed.scheme
        or parsed.netloc
        or not (target or "/").startswith("/")
        or (target or "").startswith("//")
    ):
        return "/"
    return target or "/"


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "session" not in request.scope:
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    return render(request, "error.html", exc.status_code, message=exc.detail)


def create_app(project: Project, *, allowed_hosts: list[str], max_upload: int = 200 * 2**20) -> Starlette:
    school = "/schools/{district}/{school}"
    routes = [
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", pages_link.home),
        Route("/link", pages_link.link_form),
        Route("/link/{kind}", pages_link.link_form),
        Route("/link/{kind}", pages_link.link_save, methods=["POST"]),
        Route("/districts/{district}", pages_link.district_page),
        Route("/busy.json", pages_link.busy_state),
        Route("/districts/{district}/progress", pages_link.district_progress),
        Route("/districts/{district}/test", pages_link.district_test, methods=["POST"]),
        Route("/districts/{district}/credentials", pages_link.district_credentials, methods=["POST"]),
        Route("/districts/{district}/schools", pages_link.district_pick, methods=["POST"]),
        Route(school, pages_school.school_page),
        Route(f"{school}/options", pages_school.save_options, methods=["POST"]),
        Route(f"{school}/sections-count", pages_school.section_count, methods=["POST"]),
        Route(f"{school}/settings", pages_school.save_settings, methods=["POST"]),
        Route(f"{school}/import", pages_school.start_import, methods=["POST"]),
        Route(f"{school}/progress", pages_school.progress),
        Route(f"{school}/status", pages_runs.last_status),
        Route(f"{school}/runs/{{run:int}}", pages_runs.run_page),
        Route(f"{school}/runs/{{run:int}}/email", pages_runs.run_email),
        Route(f"{school}/runs/{{run:int}}/{{action:str}}", pages_runs.run_action, methods=["POST"]),
        Route(f"{school}/explain", pages_runs.explain_page),
        Route(f"{school}/history", pages_runs.history),
        Route(f"{school}/manage/family-codes", pages_manage.family_codes),
        Route(f"{school}/manage/edit", pages_manage.edit, methods=["POST"]),
        Route(f"{school}/manage/reinvite", pages_manage.reinvite, methods=["POST"]),
        Route(f"{school}/manage/{{tab}}", pages_manage.manage),
        Route(f"{school}/manage", pages_manage.manage),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts),
        Middleware(Protections, max_body=max_upload + 2**20),
        Middleware(
            SessionMiddleware,
            secret_key=auth.session_key(project.state_dir),
            session_cookie="bloomz_console",
            max_age=SESSION_HOURS * 3600,
            same_site="strict",
            https_only=False,  # loopback is plain HTTP; behind a TLS proxy the proxy sets Secure
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.state.console = Console(
        project=project,
        tasks=Tasks(project.state_dir / "logs"),
        templates=templates(),
        max_upload=max_upload,
    )
    return app
