"""Save a run's plan with the run: its rows, its issues and its counts, as `bloomz-sync plan N` shows them.

Planning (planner.py) writes only the run's own tables (``p_plan_rows``, ``p_issues``); this step records
them in the store, whatever happens next: a dry run stops here, a held run waits with its plan readable,
an applied run applies exactly these rows.
"""

from __future__ import annotations

import duckdb

from target_bloomz.plan import issue_scope
from target_bloomz.plan.planner import PlanSummary
from target_bloomz.runs import run_log


def save(con: duckdb.DuckDBPyConnection, run_id: int, summary: PlanSummary) -> None:
    """Record the plan of ``run_id`` in the store."""
    con.execute("INSERT INTO plan_rows SELECT $run, * FROM p_plan_rows", {"run": run_id})
    con.execute(
        "INSERT INTO run_issues (run_id, severity, stream, record_key, message) "
        "SELECT $run, severity, stream, record_key, message FROM p_issues ORDER BY rowid",
        {"run": run_id},
    )
    issue_scope.resolve(con, run_id)  # each issue to the school communities of its record (issue 8)
    run_log.save_counts(con, run_id, summary.counts)


def forget(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Drop the saved plan of a run that is planned again (a held run, approved after the store moved)."""
    con.execute("DELETE FROM plan_rows WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM run_issues WHERE run_id = ?", [run_id])


def summary(con: duckdb.DuckDBPyConnection, run_id: int) -> PlanSummary:
    """The counts of the saved plan of ``run_id``."""
    sql = "SELECT entity, action, count(*) FROM plan_rows WHERE run_id = ? GROUP BY ALL ORDER BY ALL"
    return PlanSummary.of(con, sql, [run_id])
