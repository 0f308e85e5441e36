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
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from target_bloomz import store
from target_bloomz.mapping import Mapping
from target_bloomz.store import locks


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


def refusal(mapping: Mapping, scope: list[str], reason: str, school_ids: list[str] | None = None) -> dict:
    """A refused run as refusals.insert records it."""
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(mapping.options).items()}
    return {
        "source": mapping.source,
        "scope": [key for key in scope if not key.startswith("feed:")],
        "school_ids": school_ids,
        "mapping_file": str(mapping.path),
        "options": options,
        "reason": reason,
    }


AfterRun = Callable[[duckdb.DuckDBPyConnection, int], None]  # the status e-mails of a run, and delivery


def refuse(database: Path, refused: dict, after_run: AfterRun) -> None:
    """Record a refused import (refusal()) now, or leave it for the import holding the store."""
    save(database, refused)
    if not record_refusals_when_free(database, after_run):
        later = "recorded as a refused run once the store is free"
        print(f"Refused, nothing applied: {refused['reason']} ({later})", file=sys.stderr, flush=True)


def record_refusals_when_free(database: Path, after_run: AfterRun) -> list[int]:
    """Record the refusals waiting beside the store unless another process has it open; their run ids."""
    if not waiting(database) or not database.exists():
        return []
    try:
        con = locks.open_store(database)
    except (locks.SyncInProgress, store.StoreError):
        return []  # the process holding the store records them when it is done
    try:
        return record_refusals(con, database, after_run)
    finally:
        con.close()


def record_refusals(con: duckdb.DuckDBPyConnection, database: Path, after_run: AfterRun) -> list[int]:
    """Record the refusals waiting beside the store, say so, and tell their admins (``after_run``)."""
    recorded = record_waiting(con, database)
    for run_id in recorded:
        row = con.execute("SELECT status_reason FROM runs WHERE id = ?", [run_id]).fetchone()
        print(f"Run {run_id} refused, nothing applied: {row[0] if row else ''}", file=sys.stderr, flush=True)
        after_run(con, run_id)
    return recorded


def record_refused(
    con: duckdb.DuckDBPyConnection, mapping: Mapping, reason: str, *, scope: list[str] | None = None
) -> int:
    """Record a refused run (status refused, with why) so admins see it; return its id. Its scope: the
    communities the mapping step found (map_schools), or ``scope`` when refused before that step."""
    school_ids = None
    if scope is None:
        row = con.execute(
            "SELECT list(DISTINCT community_key ORDER BY community_key), list(school_id ORDER BY school_id) "
            "FROM map_schools"
        ).fetchone()
        scope, school_ids = (list(row[0] or []), list(row[1] or [])) if row else ([], None)
    run_id = insert(con, refusal(mapping, scope, reason, school_ids))
    print(f"Run {run_id} refused, nothing applied: {reason}", file=sys.stderr, flush=True)
    return run_id
