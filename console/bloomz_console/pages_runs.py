"""Last Import Status, a run's page (counts, issues with names, the plan, the e-mail), held runs
(Approve, Discard), Undo, Explain, and History with its chart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bloomz_console import charts, engine, links, meltano_state, schools, values
from bloomz_console.project import District
from bloomz_console.schools import Here
from bloomz_console.web import console, flash, login_required, posted, redirect

PLAN_LIMIT = 50
ISSUES_SHOWN = 20


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
def _store_with_run(request: Request, here: Here, run_id: int, *, write: bool = False) -> Iterator[Any]:
    """The store, once it is known the run covers this school (404 otherwise)."""
    with schools.store(request, write=write) as con:
        if con is None or here.key not in engine.run_scope(con, run_id):
            raise HTTPException(404, "No such run of this school.")
        yield con


@login_required
async def last_status(request: Request) -> Response:
    here = schools.here(request)
    with schools.store(request) as con:
        runs = engine.runs_of(con, here.key) if con is not None else []
    last = next((r for r in runs if not r["dry_run"]), None)
    if last is None:
        return here.render(request, "no_runs.html")
    return redirect(f"{here.url}/runs/{last['id']}")


@login_required
async def run_page(request: Request) -> Response:
    here = schools.here(request)
    key = here.key
    run_id = int(request.path_params["run"])
    entity = request.query_params.get("entity") or None
    action = request.query_params.get("action") or None
    if entity not in (None, *engine.PLAN_ENTITIES) or action not in (None, *engine.PLAN_ACTIONS):
        raise HTTPException(400, "Unknown plan filter.")
    with _store_with_run(request, here, run_id) as con:
        summary = engine.summary(con, run_id, key)
        runs = engine.runs_of(con, key)
        issues = engine.issues(con, run_id, key, _source_names(request, here.district))
        plan, matched = engine.plan(con, run_id, entity, action, PLAN_LIMIT)
    applied = [r["id"] for r in runs if r["status"] == "applied"]
    return here.render(
        request,
        "run.html",
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
    here = schools.here(request)
    run_id = int(request.path_params["run"])
    with _store_with_run(request, here, run_id) as con:
        _, html = engine.status_email(con, run_id, here.key)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        },
    )


@login_required
async def run_action(request: Request) -> Response:
    """Approve (and move Meltano's state) or discard a held run, or undo the last applied one."""
    project = console(request).project
    here = schools.here(request)
    await posted(request)
    run_id = int(request.path_params["run"])
    action = request.path_params["action"]
    back = f"{here.url}/runs/{run_id}"
    # the store stays open while Meltano's state moves: no import of the school can apply (and write a
    # newer state) in between
    with _store_with_run(request, here, run_id, write=True) as con:
        try:
            if action == "approve":
                text = meltano_state.approve(project, con, run_id)
            elif action == "discard":
                text = engine.discard(con, project.database, run_id)
            else:
                text = engine.undo_run(con, run_id)
        except engine.REFUSALS as err:
            flash(request, "error", str(err))
            return redirect(back)
    flash(request, "ok", text)
    return redirect(back)


@login_required
async def explain_page(request: Request) -> Response:
    here = schools.here(request)
    who = request.query_params.get("person", "").strip()
    text, error = None, None
    if who:
        with schools.store(request) as con:
            try:
                text = engine.explain_person(con, who) if con is not None else None
            except LookupError as err:
                error = str(err)
    return here.render(request, "explain.html", who=who, text=text, error=error)


@login_required
async def history(request: Request) -> Response:
    here = schools.here(request)
    with schools.store(request) as con:
        runs: list[dict[str, Any]] = engine.runs_of(con, here.key) if con is not None else []
        for run in runs:
            run["summary_counts"] = (
                engine.summary(con, run["id"], here.key).get("counts", {}) if con is not None else {}
            )
    return here.render(request, "history.html", runs=runs, chart=charts.history(list(reversed(runs))))
