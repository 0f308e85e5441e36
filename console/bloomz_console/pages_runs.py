"""Last Import Status, a run's page (counts, issues with names, the plan, the e-mail), held runs
(Approve, Discard), Undo, Explain, and History with its chart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bloomz_console import charts, engine, links, options, values
from bloomz_console.pages_school import community_key
from bloomz_console.project import District, School
from bloomz_console.web import console, flash, login_required, posted, redirect, render, school_of

PLAN_LIMIT = 50
ISSUES_SHOWN = 20


def _key(request: Request, district: District, school: School) -> tuple[str, str]:
    state = console(request)
    name = links.school_name(state.project, district, school.school_id)
    mapping = options.load(district.mapping_file, school.school_id, school.slug).mapping
    return community_key(district, school, mapping, name), name


def _source_names(request: Request, district: District) -> dict[str, str]:
    """Source id -> name of everyone in the snapshot: issues about records the store never took."""
    with values.snapshot(links.snapshot_path(console(request).project, district)) as con:
        if con is None:
            return {}
        found = con.execute(
            """SELECT id, concat_ws(' ', first_name, last_name) FROM stg_students
               UNION ALL SELECT id, concat_ws(' ', first_name, last_name) FROM stg_staff
               UNION ALL SELECT id, concat_ws(' ', first_name, last_name) FROM stg_contacts
               UNION ALL SELECT id, name FROM stg_sections"""
        ).fetchall()
    return {source_id: name for source_id, name in found if name}


@contextmanager
def _store_with_run(request: Request, key: str, run_id: int, *, write: bool = False) -> Iterator[Any]:
    """The store, once it is known the run covers this school (404 otherwise)."""
    with engine.store(console(request).project.database, write=write) as con:
        if con is None or key not in engine.run_scope(con, run_id):
            raise HTTPException(404, "No such run of this school.")
        yield con


@login_required
async def last_status(request: Request) -> Response:
    state = console(request)
    district, school = school_of(request)
    key, name = _key(request, district, school)
    with engine.store(state.project.database) as con:
        runs = engine.runs_of(con, key) if con is not None else []
    last = next((r for r in runs if not r["dry_run"]), None)
    if last is None:
        return render(request, "no_runs.html", district=district, school=school, name=name)
    return redirect(f"/schools/{district.slug}/{school.slug}/runs/{last['id']}")


@login_required
async def run_page(request: Request) -> Response:
    district, school = school_of(request)
    key, name = _key(request, district, school)
    run_id = int(request.path_params["run"])
    entity = request.query_params.get("entity") or None
    action = request.query_params.get("action") or None
    if entity not in (None, *engine.PLAN_ENTITIES) or action not in (None, *engine.PLAN_ACTIONS):
        raise HTTPException(400, "Unknown plan filter.")
    with _store_with_run(request, key, run_id) as con:
        summary = engine.summary(con, run_id, key)
        runs = engine.runs_of(con, key)
        issues = engine.issues(con, run_id, key, _source_names(request, district))
        plan, matched = engine.plan(con, run_id, entity, action, PLAN_LIMIT)
    applied = [r["id"] for r in runs if r["status"] == "applied"]
    return render(
        request,
        "run.html",
        district=district,
        school=school,
        name=name,
        key=key,
        summary=summary,
        outcome=engine.status_of(
            summary["status"], summary.get("status_reason"), incomplete=bool(summary.get("incomplete"))
        ),
        option_labels=engine.OPTION_LABELS,
        issues=issues,
        plan=plan,
        matched=matched,
        limit=PLAN_LIMIT,
        entity=entity,
        action=action,
        entities=engine.PLAN_ENTITIES,
        actions=engine.PLAN_ACTIONS,
        can_undo=bool(applied) and applied[0] == run_id,
        shown_issues=len(issues) if request.query_params.get("issues") == "all" else ISSUES_SHOWN,
    )


@login_required
async def run_email(request: Request) -> Response:
    """The Bulk Import Status e-mail of the run, as it was sent (our own template's escaped HTML)."""
    district, school = school_of(request)
    key, _ = _key(request, district, school)
    run_id = int(request.path_params["run"])
    with _store_with_run(request, key, run_id) as con:
        _, html = engine.status_email(con, run_id, key)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        },
    )


@login_required
async def run_action(request: Request) -> Response:
    """Approve or discard a held run, or undo the last applied one."""
    state = console(request)
    district, school = school_of(request)
    await posted(request)
    key, _ = _key(request, district, school)
    run_id = int(request.path_params["run"])
    action = request.path_params["action"]
    here = f"/schools/{district.slug}/{school.slug}/runs/{run_id}"
    with _store_with_run(request, key, run_id, write=True) as con:
        try:
            if action == "approve":
                text = engine.approve(con, state.project.database, run_id)
            elif action == "discard":
                text = engine.discard(con, state.project.database, run_id)
            else:
                text = engine.undo_run(con, run_id)
        except engine.REFUSALS as err:
            flash(request, "error", str(err))
            return redirect(here)
    flash(request, "ok", text)
    return redirect(here)


@login_required
async def explain_page(request: Request) -> Response:
    state = console(request)
    district, school = school_of(request)
    who = request.query_params.get("person", "").strip()
    text, error = None, None
    if who:
        with engine.store(state.project.database) as con:
            try:
                text = engine.explain_person(con, who) if con is not None else None
            except LookupError as err:
                error = str(err)
    return render(request, "explain.html", district=district, school=school, who=who, text=text, error=error)


@login_required
async def history(request: Request) -> Response:
    state = console(request)
    district, school = school_of(request)
    key, name = _key(request, district, school)
    with engine.store(state.project.database) as con:
        runs: list[dict[str, Any]] = engine.runs_of(con, key) if con is not None else []
        for run in runs:
            run["summary_counts"] = (
                engine.summary(con, run["id"], key).get("counts", {}) if con is not None else {}
            )
    return render(
        request,
        "history.html",
        district=district,
        school=school,
        name=name,
        runs=runs,
        chart=charts.history(list(reversed(runs))),
    )
