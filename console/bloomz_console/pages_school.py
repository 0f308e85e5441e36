"""A school's settings page (the seeds' import page): options with the source's values, the school's own
settings (Invite from, Notify to, Scheduled import), and Import Now with its dialog and "Sync in progress".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bloomz_console import engine, links, options, schools, values
from bloomz_console.project import District, School
from bloomz_console.tasks import Busy, Task
from bloomz_console.web import console, flash, login_required, posted, redirect, school_of

IMPORT_SWITCHES = ("full_data", "archive", "invite_teachers", "invite_parents", "invite_students")
NOTIFY_ROLES = engine.STAFF_ROLES


def import_key(key: str) -> str:
    return f"import:{key}"


def _page(request: Request, loaded: options.Loaded, status_code: int = 200, **extra: Any) -> Response:
    state = console(request)
    here = schools.here(request, loaded)
    district, school, key = here.district, here.school, here.key
    with values.snapshot(links.snapshot_path(state.project, district)) as con:
        source = values.school_values(con, school.school_id, loaded.mapping, key) if con is not None else None
    task = state.tasks.get(import_key(key))
    busy = [line for line in engine.in_progress(state.project.database) if f" {key}:" in line]
    members: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    if not (task and task.running) and not busy:
        with schools.store(request) as store:
            if store is not None:
                members = engine.community_admins(store, key)
                runs = engine.runs_of(store, key)
    holders = {row["role"] for row in members}
    return here.render(
        request,
        "school.html",
        status_code,
        form=loaded.form,
        errors=loaded.errors,
        source=source,
        task=task,
        task_run=_run_of(task, runs),
        busy=busy,
        runs=runs,
        last=next((r for r in runs if not r["dry_run"]), None),
        held=[r for r in runs if r["status"] == "held"],
        admins=_invite_choices(source, members),
        notify_roles=NOTIFY_ROLES,
        notify_to=list(school.loader_config.get("notify_to") or ["School Admin"]),
        nobody=[
            role for role in school.loader_config.get("notify_to") or ["School Admin"] if role not in holders
        ],
        has_store_members=bool(members),
        command=_command(state, district, school, {}),
        previewing=extra.pop("previewing", False),
        **extra,
    )


def _run_of(task: Task | None, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run a finished task recorded (its id is in the task's log), as the store has it now."""
    if task is None or task.running:
        return None
    run_id = task.progress()["run"]
    return next((run for run in runs if run["id"] == run_id), None)


def _invite_choices(
    source: values.SchoolValues | None, members: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The school's admins, from Bloomz (School Admins) and from the source (its admins), by e-mail."""
    found: dict[str, dict[str, str]] = {}
    for member in members:
        if member["role"] == "School Admin" and member["email"]:
            found[member["email"]] = {
                "email": member["email"],
                "name": member["name"],
                "from": "School Admin in Bloomz",
            }
    for admin in source.admins if source else []:
        found.setdefault(
            admin["email"].lower(),
            {"email": admin["email"].lower(), "name": admin["name"], "from": "admin in the source"},
        )
    return sorted(found.values(), key=lambda a: a["name"])


@login_required
async def school_page(request: Request) -> Response:
    district, school = school_of(request)
    return _page(request, options.load(district.mapping_file, school.school_id, school.slug))


@login_required
async def save_options(request: Request) -> Response:
    """Preview (nothing written) or save the mapping options; errors come back next to their fields."""
    district, school = school_of(request)
    form = await posted(request)
    write = form.get("action") == "save"
    loaded = options.save(
        district.mapping_file, options.form_from_post(form), school.school_id, school.slug, write=write
    )
    if loaded.errors:
        return _page(request, loaded, 400, previewing=True)
    if write:
        flash(request, "ok", f"Options saved to districts/{district.slug}/mapping.yml.")
        return redirect(f"/schools/{district.slug}/{school.slug}#options")
    return _page(request, loaded, previewing=True)


@login_required
async def section_count(request: Request) -> Response:
    """The live count under the section filters, for the options as typed (nothing is written)."""
    state = console(request)
    district, school = school_of(request)
    form = await posted(request)
    loaded = options.save(
        district.mapping_file, options.form_from_post(form), school.school_id, school.slug, write=False
    )
    if loaded.mapping is None:
        problems = [message for messages in loaded.errors.values() for message in messages]
        return JSONResponse(
            {"text": "Not counted: " + (problems[0] if problems else "the options have errors.")}
        )
    key = schools.here(request, loaded).key
    with values.snapshot(links.snapshot_path(state.project, district)) as con:
        if con is None:
            return JSONResponse({"text": "Not counted: the district's roster has not been read yet."})
        found = values.school_values(con, school.school_id, loaded.mapping, key)
    return JSONResponse({"text": found.count_text()})


@login_required
async def save_settings(request: Request) -> Response:
    """The school's own settings: its loader's invite_from and notify_to, and its nightly schedule."""
    state = console(request)
    district, school = school_of(request)
    form = await posted(request)
    invite_from = str(form.get("invite_from") or "").strip() or None
    notify_to = [str(r) for r in form.getlist("notify_to") if r in NOTIFY_ROLES]
    scheduled = form.get("scheduled") == "on"
    if scheduled and not school.scheduled and not _imported(request):
        flash(
            request,
            "error",
            "Run a first import (Import Now) before turning the scheduled import on: "
            "a nightly sync builds on it.",
        )
        scheduled = False
    state.project.set_school_settings(
        district, school, {"invite_from": invite_from, "notify_to": notify_to or None}, scheduled
    )
    flash(
        request,
        "ok",
        f"Settings saved to districts/{district.slug}/meltano.yml; the scheduled import is "
        + ("on (nightly at 02:00)." if scheduled else "off."),
    )
    return redirect(f"/schools/{district.slug}/{school.slug}#settings")


def _imported(request: Request) -> bool:
    key = schools.here(request).key
    with schools.store(request) as con:
        return con is not None and any(r["status"] == "applied" for r in engine.runs_of(con, key))


def _env(state: Any, school: School, switches: dict[str, bool]) -> dict[str, str]:
    """The run's options as the school loader's own variables (they win over its meltano.yml config)."""
    prefix = school.loader.upper().replace("-", "_")
    env = {f"{prefix}_{name.upper()}": "true" if on else "false" for name, on in switches.items()}
    env[f"{prefix}_SCHEDULED"] = "false"  # an import by hand is not the nightly scheduled one
    env[f"{prefix}_DATABASE"] = str(state.project.database)
    return env


def _command(state: Any, district: District, school: School, switches: dict[str, bool]) -> str:
    env = _env(state, school, switches)
    # the switches turned on, and what differs from the school loader's own settings
    words = [f"{k}={v}" for k, v in env.items() if v == "true" or k.endswith("_SCHEDULED")]
    return " ".join(
        [*words, "meltano", *state.project.meltano_command("run", school.extractor, school.loader)[1:]]
    )


@login_required
async def start_import(request: Request) -> Response:
    """Import Now or its dry-run preview: ``meltano run`` in the background, one per school at a time."""
    state = console(request)
    district, school = school_of(request)
    form = await posted(request)
    switches = {name: form.get(name) == "on" for name in IMPORT_SWITCHES}
    dry_run = form.get("mode") == "preview"
    here = f"/schools/{district.slug}/{school.slug}"
    if switches["archive"] and not switches["full_data"]:
        flash(request, "error", "Archive can only be used together with Full Data.")
        return redirect(here + "#import")
    loaded = options.load(district.mapping_file, school.school_id, school.slug)
    if loaded.mapping is None:
        flash(request, "error", "The mapping file has errors (see Options): fix them before importing.")
        return redirect(here + "#options")
    key = schools.here(request, loaded).key
    held = [line for line in engine.in_progress(state.project.database) if f" {key}:" in line]
    if held:
        flash(request, "error", f"Sync in progress: {held[0]}. Try again when it has ended.")
        return redirect(here)
    env = {
        **_env(state, school, switches),
        f"{school.loader.upper().replace('-', '_')}_DRY_RUN": str(dry_run).lower(),
    }
    title = ("Preview (dry run)" if dry_run else "Import") + f" of {school.slug}"
    try:
        state.tasks.run_process(
            import_key(key),
            "preview" if dry_run else "import",
            title,
            state.project.meltano_command("run", school.extractor, school.loader),
            cwd=state.project.root,
            env=env,
            command=_command(state, district, school, switches | {"dry_run": dry_run}),
        )
    except Busy as err:
        flash(request, "error", f"Sync in progress: {err}")
        return redirect(here)
    return redirect(here)


@login_required
async def progress(request: Request) -> Response:
    """What the page's "Sync in progress" shows, polled every few seconds."""
    state = console(request)
    district, _school = school_of(request)
    key = request.query_params.get("key", "")
    task: Task | None = state.tasks.get(import_key(key))
    snapshot = state.tasks.get(links.snapshot_key(district))
    elsewhere = [line for line in engine.in_progress(state.project.database) if f" {key}:" in line]
    body: dict[str, Any] = task.progress() if task else {"running": False}
    body["elsewhere"] = elsewhere
    body["reading_source"] = bool(snapshot and snapshot.running)
    body["running"] = body["running"] or bool(elsewhere) or body["reading_source"]
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
