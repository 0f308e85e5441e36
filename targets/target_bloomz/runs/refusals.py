"""Refused imports that wait to be recorded, because the store was open in the import that refused them.

A refused import (another import holds its school, or has the store open) writes its refusal to a small
file beside the store (``<store>.refusals/``) before it tries to open the store to record it. When the store
is busy, the import that holds it records every waiting refusal after it closed the store (target.py), and
any later import does when it opens the store: a refusal becomes a run with status ``refused`` (in
``bloomz-sync runs``, the school's status and its status e-mail) as soon as the store can be written.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb


def refusal_dir(database: Path) -> Path:
    """Where the refusals waiting to be recorded live."""
    return database.with_name(database.name + ".refusals")


def save(database: Path, refusal: dict[str, Any]) -> Path:
    """Keep a refusal (the runs columns of record_refused, and when) until the store can be written."""
    folder = refusal_dir(database)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    at = datetime.now(UTC).replace(tzinfo=None)  # the store keeps UTC without a zone
    path = folder / f"{at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({**refusal, "at": at.isoformat()}, file)
    os.replace(tmp, path)  # whole or not there
    return path


def waiting(database: Path) -> list[Path]:
    """The refusals not recorded yet, oldest first."""
    folder = refusal_dir(database)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def record_waiting(con: duckdb.DuckDBPyConnection, database: Path) -> list[int]:
    """Record every waiting refusal as a refused run; return their run ids.

    A refusal recorded by a process that died before deleting its file is not recorded twice: the same
    reason at the same instant is the same refusal.
    """
    recorded = []
    for path in waiting(database):
        try:
            refusal = json.loads(path.read_text())
        except FileNotFoundError:  # recorded by another import just now
            continue
        except (OSError, ValueError):  # a file we did not write: not a refusal
            path.unlink(missing_ok=True)
            continue
        at = datetime.fromisoformat(refusal["at"])
        seen = con.execute(
            "SELECT id FROM runs WHERE status = 'refused' AND started_at = ? AND status_reason = ?",
            [at, refusal["reason"]],
        ).fetchone()
        if seen is None:
            recorded.append(insert(con, refusal, at))
        path.unlink(missing_ok=True)
    return recorded


def insert(con: duckdb.DuckDBPyConnection, refusal: dict[str, Any], at: datetime | None = None) -> int:
    """Insert a refused run (nothing applied, with why); return its id."""
    row = con.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()
    run_id = int(row[0]) if row else 1
    reason = refusal["reason"]
    con.execute(
        """INSERT INTO runs (id, source, scope, school_ids, mapping_file, options, status, status_reason,
               error, started_at, finished_at)
           VALUES (?, ?, ?, ?, ?, ?, 'refused', ?, ?, coalesce(?, now()), coalesce(?, now()))""",
        [
            run_id,
            refusal["source"],
            refusal["scope"],
            refusal.get("school_ids"),
            refusal.get("mapping_file"),
            json.dumps(refusal.get("options") or {}),
            reason,
            f"refused, nothing applied: {reason}",
            at,
            at,
        ],
    )
    return run_id
