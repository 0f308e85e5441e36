"""The import runs, as ``bloomz-sync runs`` lists them."""

from __future__ import annotations

from typing import Any

import duckdb

from target_bloomz.report.rows import dicts
from target_bloomz.report.status import RUN_STATUS

_RUNS = f"""
SELECT id, {RUN_STATUS} AS status, dry_run, source, scope, started_at, finished_at, mapping_file,
    complete_streams,
    (SELECT count(*) FROM plan_rows p WHERE p.run_id = r.id AND p.action <> 'skip') AS changes,
    (SELECT count(*) FROM run_issues i WHERE i.run_id = r.id) AS issues
FROM runs r ORDER BY id DESC
"""


def all_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every run, newest first, with how many changes its plan makes and how many issues it has."""
    return dicts(con, _RUNS)


def run_status(con: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    """The run's stored status (planned, applied, held, ...); None when the store has no such run."""
    row = con.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    return row[0] if row else None
