"""What every page shares: the console's state, login, CSRF-checked forms, templates, flash messages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bloomz_console import auth, engine
from bloomz_console.project import District, Project, School
from bloomz_console.tasks import Tasks

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Console:
    """Everything a request needs beyond itself."""

    project: Project
    tasks: Tasks
    templates: Environment
    max_upload: int  # bytes of a CSV bundle upload


def templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,  # every value the pages show is escaped, whatever its source
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    return environment


def when(value: Any) -> str:
    """A run's time as admins read it (the store keeps UTC)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else str(value or "")


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once on the next page: kind is ok, warning or error."""
    request.session.setdefault("flash", []).append([kind, text])


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = console(request)
    page = state.templates.get_template(template).render(
        request=request,
        user=request.session.get("user"),
        csrf=auth.csrf_token(request.session),
        flashes=request.session.pop("flash", []),
        districts=state.project.districts() if request.session.get("user") else [],
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def posted(request: Request) -> FormData:
    """The request's form, after its CSRF token was checked (403 otherwise)."""
    form = await request.form(max_files=1, max_fields=1000)
    token = form.get("csrf")
    if not auth.csrf_ok(request.session, token if isinstance(token, str) else None):
        raise HTTPException(
            403, "This form is out of date or did not come from the console: reload the page."
        )
    return form


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        if not request.session.get("user"):
            return redirect(f"/login?next={quote(request.url.path)}")
        try:
            return await handler(request)
        except engine.StoreBusy as busy:
            return render(request, "busy.html", status_code=503, message=str(busy))

    return wrapper


def district_of(request: Request) -> District:
    district = console(request).project.district(request.path_params["district"])
    if district is None:
        raise HTTPException(404, "No such district: link it first.")
    return district


def school_of(request: Request) -> tuple[District, School]:
    district = district_of(request)
    school = district.school(request.path_params["school"])
    if school is None:
        raise HTTPException(404, "No such school in this district: pick it on the district's page first.")
    return district, school
