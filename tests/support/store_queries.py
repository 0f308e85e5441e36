"""Reading the store the way a Bloomz admin looks at it: classes, their members, roles, runs and their
issues."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.district import query

BLOOMZ_SYNC = str(Path(sys.executable).with_name("bloomz-sync"))


def members(database: Path, section_id: str) -> list[tuple[str, str, str]]:
    """(source id, role, origin) of the members of the class synced from ``section_id``."""
    rows = query(
        database,
        """SELECT coalesce(min(s.source_id), '#' || m.person_id), m.role, m.origin
           FROM class_members m JOIN classes cl ON cl.id = m.class_id
           LEFT JOIN person_sources s ON s.person_id = m.person_id
           WHERE cl.section_id = ? GROUP BY m.person_id, m.role, m.origin ORDER BY 1""",
        [section_id],
    )
    return [tuple(row) for row in rows]


def class_of(database: Path, section_id: str) -> tuple[int, str, str]:
    """(id, name, status) of the class synced from ``section_id``."""
    rows = query(database, "SELECT id, name, status FROM classes WHERE section_id = ?", [section_id])
    assert len(rows) == 1, rows
    return rows[0]


def run_row(database: Path, run_id: int) -> tuple[str, str | None]:
    """(status, status_reason) of a run."""
    return query(database, "SELECT status, status_reason FROM runs WHERE id = ?", [run_id])[0]


def issues(database: Path, run_id: int) -> list[str]:
    """'stream: message' of each issue of a run."""
    return [
        f"{stream}: {message}"
        for stream, message in query(
            database, "SELECT stream, message FROM run_issues WHERE run_id = ? ORDER BY ALL", [run_id]
        )
    ]


def export_without_codes(database: Path) -> dict[str, Any]:
    """`bloomz-sync export` of the store, without the family codes (drawn at random per run)."""
    done = subprocess.run(
        [BLOOMZ_SYNC, "--database", str(database), "export", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    store = json.loads(done.stdout)
    for person in store["people"]:
        person.pop("family_code")
    return store


def every_issue(database: Path) -> list[tuple]:
    """(severity, stream, record key, message) of every issue of every run."""
    return query(database, "SELECT severity, stream, record_key, message FROM run_issues ORDER BY ALL")
