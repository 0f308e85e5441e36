"""Manage: the school's classes/groups, students, parents and staff as the seeds list them, with the edits
the Bloomz app makes (the sync respects them), family-code letters and Reinvite."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bloomz_console import engine, schools
from bloomz_console.web import console, flash, login_required, posted, redirect

TABS = {"classes": "Classes/Groups", "students": "Students", "parents": "Parents", "staff": "Staff"}
KINDS = {"students": "student", "parents": "parent", "staff": "staff"}
# The edits a form may ask for, with the fields each takes (in the order control/edits.py takes them).
EDITS = {
    "rename": ("class_id", "name"),
    "archive": ("class_id",),
    "revive": ("class_id",),
    "delete": ("class_id",),
    "add-member": ("class_id", "person_id", "role"),
    "set-role": ("community", "person_id", "role"),
}


@login_required
async def manage(request: Request) -> Response:
    here = schools.here(request)
    tab = request.path_params.get("tab", "classes")
    if tab not in TABS:
        raise HTTPException(404, "No such tab.")
    key = here.key
    with schools.store(request) as con:
        classes = engine.classes(con, key) if con is not None and tab == "classes" else []
        people = engine.members(con, key, KINDS[tab]) if con is not None and tab != "classes" else []
        staff = engine.members(con, key, "staff") if con is not None and tab == "classes" else []
    return here.render(
        request,
        "manage.html",
        tab=tab,
        tabs=TABS,
        classes=classes,
        people=people,
        staff=staff,
        staff_roles=engine.STAFF_ROLES,
    )


@login_required
async def edit(request: Request) -> Response:
    here = schools.here(request)
    form = await posted(request)
    key = here.key
    action = str(form.get("action") or "")
    if action not in EDITS:
        raise HTTPException(400, "Unknown edit.")
    args = [key if name == "community" else str(form.get(name) or "") for name in EDITS[action]]
    tab = str(form.get("tab") or "classes")
    with schools.store(request, write=True) as con:
        if con is None:
            raise HTTPException(404, "Nothing imported yet.")
        if action != "set-role" and not _belongs(con, key, args[0]):
            raise HTTPException(404, "No such class in this school.")
        try:
            flash(request, "ok", engine.edit(con, action, *args))
        except engine.REFUSALS as err:
            flash(request, "error", str(err))
    return redirect(f"{here.url}/manage/{tab if tab in TABS else 'classes'}")


def _belongs(con: object, key: str, class_id: str) -> bool:
    return any(str(c["id"]) == class_id for c in engine.classes(con, key))  # type: ignore[arg-type]


@login_required
async def family_codes(request: Request) -> Response:
    """Printable letters: one page per student without an imported contact, with the family code."""
    here = schools.here(request)
    config = console(request).project.plugin_config(here.school.loader)
    with schools.store(request) as con:
        if con is None:
            raise HTTPException(404, "Nothing imported yet.")
        page = engine.family_code_letters(
            con, here.key, here.name, config.get("signup_url") or "https://bloomz.net/join"
        )
    return HTMLResponse(
        page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )


@login_required
async def reinvite(request: Request) -> Response:
    """Invite everyone of the school not yet registered (after a pre-launch import), then deliver."""
    here = schools.here(request)
    form = await posted(request)
    kinds = sorted({KINDS[k] for k in form.getlist("who") if k in KINDS})
    tab = str(form.get("tab") or "students")
    if not kinds:
        flash(request, "error", "Choose whom to invite: staff, parents or students.")
        return redirect(f"{here.url}/manage/{tab}")
    # outbox settings and Invite from, as the import's
    config = console(request).project.plugin_config(here.school.loader)
    with schools.store(request, write=True) as con:
        if con is None:
            raise HTTPException(404, "Nothing imported yet.")
        flash(request, "ok", engine.reinvite(con, here.key, kinds, config))
    return redirect(f"{here.url}/manage/{tab if tab in TABS else 'students'}")
