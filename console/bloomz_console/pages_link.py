"""Home, linking a source, and a district's page: its connection test, the schools to pick, credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bloomz_console import engine, links, options, schools
from bloomz_console.project import KINDS, District, Kind, ProjectError, slugify
from bloomz_console.web import console, district_of, flash, login_required, posted, redirect, render

BUNDLE_CHUNK = 1 << 20


@login_required
async def home(request: Request) -> Response:
    project = console(request).project
    last: dict[str, dict[str, Any]] = {}
    busy = None
    try:
        with engine.store(project.database) as con:
            if con is not None:
                last = engine.last_runs(con)
    except engine.StoreBusy as err:
        busy = str(err)
    # each school's last import, under the community its own pages find (a group's, for a school in one)
    last_of = {
        (district.slug, slug): last.get(key)
        for district in project.districts()
        for slug, key in schools.keys(project, district).items()
    }
    return render(request, "home.html", last_of=last_of, busy=busy, kinds=KINDS)


@login_required
async def link_form(request: Request) -> Response:
    kind = KINDS.get(request.path_params.get("kind", ""))
    return render(request, "link.html", kinds=KINDS, kind=kind, values={}, error=None)


@login_required
async def link_save(request: Request) -> Response:
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        raise HTTPException(404, "No such kind of source.")
    state = console(request)
    form = await posted(request)
    values = {f.name: str(form.get(f.name) or "").strip() for f in kind.fields}
    name = str(form.get("name") or "").strip()
    missing = [f.label for f in kind.fields if not values[f.name] and f.name != "admin_email"]
    upload = form.get("bundle")
    if kind.name == "csv" and not (isinstance(upload, UploadFile) and upload.filename):
        missing.append("CSV bundle (a .zip file)")
    if not name or missing:
        error = "Fill in: " + ", ".join(["District name"] * (not name) + missing)
        return render(
            request, "link.html", 400, kinds=KINDS, kind=kind, values={**values, "name": name}, error=error
        )
    settings = {f.name: values[f.name] for f in kind.fields if not f.secret and values[f.name]}
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            settings["csv_path"] = str(await _save_bundle(request, slugify(name), upload))
        district = state.project.create_district(name, kind, settings)
        for field in kind.fields:
            if field.secret:
                state.project.set_secret(str(district.extractor), field.name, values[field.name])
        found = links.test(state.project, state.tasks, district)
    except (ProjectError, BundleTooLarge) as err:
        return render(
            request, "link.html", 400, kinds=KINDS, kind=kind, values={**values, "name": name}, error=str(err)
        )
    flash(request, "ok" if found.ok else "error", _tested(found.ok))
    return redirect(f"/districts/{district.slug}")


class BundleTooLarge(ValueError):
    pass


async def _save_bundle(request: Request, slug: str, upload: UploadFile) -> Path:
    """The uploaded CSV bundle, owner-only under data/ (it holds personal data), size bounded."""
    state = console(request)
    if not str(upload.filename).lower().endswith(".zip"):
        raise BundleTooLarge("The CSV bundle must be a .zip file of OneRoster CSV files.")
    folder = state.project.root / "data" / "bundles"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{slug}.zip"
    written = 0
    with path.open("wb") as file:
        path.chmod(0o600)
        while chunk := await upload.read(BUNDLE_CHUNK):
            written += len(chunk)
            if written > state.max_upload:
                file.close()
                path.unlink()
                raise BundleTooLarge(
                    f"The bundle is larger than the console takes ({state.max_upload // 2**20} MB)."
                )
            file.write(chunk)
    return path


def _tested(ok: bool) -> str:
    return "Saved and connected." if ok else "Saved, but the connection test failed: see below."


@login_required
async def district_page(request: Request) -> Response:
    state = console(request)
    district = district_of(request)
    found = links.report(state.project, district) if district.kind else None
    task = state.tasks.get(links.snapshot_key(district))
    secrets = _secrets_set(state, district)
    linked = {s.school_id: s for s in district.schools}
    return render(
        request,
        "district.html",
        district=district,
        report=found,
        task=task,
        secrets=secrets,
        linked=linked,
    )


def _secrets_set(state: Any, district: District) -> dict[str, bool]:
    """Whether each secret is set, from .env's variable names (never their values)."""
    if district.kind is None:
        return {}
    env = state.project.root / ".env"
    names = (
        {line.split("=", 1)[0].strip() for line in env.read_text().splitlines() if "=" in line}
        if env.is_file()
        else set()
    )
    prefix = str(district.extractor).upper().replace("-", "_")
    return {f.name: f"{prefix}_{f.name.upper()}" in names for f in district.kind.fields if f.secret}


@login_required
async def district_test(request: Request) -> Response:
    state = console(request)
    district = district_of(request)
    await posted(request)
    found = links.test(state.project, state.tasks, district)
    flash(
        request,
        "ok" if found.ok else "error",
        "Connected." if found.ok else "The connection test failed: see below.",
    )
    return redirect(f"/districts/{district.slug}")


@login_required
async def district_credentials(request: Request) -> Response:
    """Change the link's settings; a secret is replaced only when a new one is typed (never shown back)."""
    state = console(request)
    district = district_of(request)
    kind: Kind | None = district.kind
    if kind is None:
        raise HTTPException(400, "The district's meltano.yml names no source: fix the file first.")
    form = await posted(request)
    state.project.set_extractor_config(
        district, {f.name: str(form.get(f.name) or "").strip() for f in kind.fields if not f.secret}
    )
    for field in kind.fields:
        replacement = str(form.get(field.name) or "").strip()
        if field.secret and replacement:
            state.project.set_secret(str(district.extractor), field.name, replacement)
    found = links.test(state.project, state.tasks, state.project.district(district.slug) or district)
    flash(request, "ok" if found.ok else "error", _tested(found.ok))
    return redirect(f"/districts/{district.slug}")


@login_required
async def district_pick(request: Request) -> Response:
    """Link the picked schools: each gets its own extractor, loader and nightly job, and a mapping entry."""
    state = console(request)
    district = district_of(request)
    form = await posted(request)
    found = links.report(state.project, district)
    known = {s["id"]: s["name"] for s in (found.schools if found else [])}
    picked = [str(v) for v in form.getlist("school") if str(v) in known]
    if not picked:
        flash(request, "error", "Pick at least one school from the list.")
        return redirect(f"/districts/{district.slug}")
    school = None
    for school_id in picked:
        school = state.project.add_school(district, school_id, known[school_id])
        options.add_school(district.mapping_file, school_id)
        district = state.project.district(district.slug) or district
    flash(
        request,
        "ok",
        f"Linked {len(picked)} school{'s' * (len(picked) > 1)}: choose the options, then import.",
    )
    assert school is not None
    return redirect(f"/schools/{district.slug}/{school.slug}")


@login_required
async def district_progress(request: Request) -> Response:
    """Whether the district's roster is still being read (the district page polls it)."""
    task = console(request).tasks.get(links.snapshot_key(district_of(request)))
    return JSONResponse({"running": bool(task and task.running)}, headers={"Cache-Control": "no-store"})


@login_required
async def busy_state(request: Request) -> Response:
    """Whether the store is still held by an import (the "Sync in progress" page polls it)."""
    try:
        with engine.store(console(request).project.database):
            running = False
    except engine.StoreBusy:
        running = True
    return JSONResponse({"running": running}, headers={"Cache-Control": "no-store"})
