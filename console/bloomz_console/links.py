"""A district's link as the console knows it: its last connection test and its source snapshot.

Both live in the console's owner-only folder: ``links/<district>.json`` (the test: district, schools,
warnings; no secret, no personal data) and ``snapshots/<district>.duckdb`` (what the source shares, staged:
personal data, hence owner-only, replaced by each new test).
"""

from __future__ import annotations

import os
from pathlib import Path

from bloomz_console import sources, values
from bloomz_console.project import District, Project
from bloomz_console.tasks import Task, Tasks


def report_path(project: Project, district: District) -> Path:
    folder = project.state_dir / "links"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{district.slug}.json"


def snapshot_path(project: Project, district: District) -> Path:
    return project.state_dir / "snapshots" / f"{district.slug}.duckdb"


def report(project: Project, district: District) -> sources.LinkReport | None:
    return sources.LinkReport.load(report_path(project, district))


def snapshot_key(district: District) -> str:
    return f"snapshot:{district.slug}"


def test(project: Project, tasks: Tasks, district: District) -> sources.LinkReport:
    """Test the link with the settings Meltano resolves for the district's extractor; start its snapshot."""
    assert district.kind is not None
    assert district.extractor is not None
    config = project.plugin_config(district.extractor)
    found = sources.test_link(district.kind, config)
    path = report_path(project, district)
    found.snapshot = {"state": "reading"} if found.ok else {}
    found.save(path)
    if found.ok:
        kind = district.kind
        snapshot = snapshot_path(project, district)

        def read(task: Task) -> None:
            staged = snapshot.with_name(f".{snapshot.name}.new")
            try:
                received = sources.read_source(kind, config, staged)
            except Exception as err:
                _finish(path, {"state": "failed", "error": str(err)}, [])
                raise
            with values.SNAPSHOT_LOCK:  # the option screens read the old one until this moment
                os.replace(staged, snapshot)
            with values.snapshot(snapshot) as con:
                counts = values.school_counts(con) if con is not None else {}
            _finish(path, {"state": "done", "records": received}, sources.sharing_warnings(received), counts)

        tasks.run_thread(snapshot_key(district), "snapshot", f"Reading {district.slug} from the source", read)
    return found


def _finish(
    path: Path, snapshot: dict, warnings: list[str], counts: dict[str, dict[str, int]] | None = None
) -> None:
    found = sources.LinkReport.load(path)
    if found is None:
        return
    found.snapshot = snapshot
    found.warnings = [*found.warnings, *(w for w in warnings if w not in found.warnings)]
    for school in found.schools:
        school["counts"] = (counts or {}).get(school["id"])
    found.save(path)


def school_name(project: Project, district: District, school_id: str) -> str:
    found = report(project, district)
    for school in found.schools if found else []:
        if school["id"] == school_id:
            return str(school["name"])
    return school_id
