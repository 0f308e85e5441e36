"""The console words a run's outcome as the status e-mail does: an import whose pull was cut short but
whose adds and updates were applied (``apply_incomplete_pulls``) is Incomplete, never Completed, and says
why, on the home page, Last Import Status and History alike."""

from __future__ import annotations

from pathlib import Path

from bloomz_console import charts, engine
from roster_sandbox.testing import Sandbox

from tests.support.district import query
from tests.support.pipes import clever_config, pipe

KEY = "clever:5a25ff950a5f621109000005"


def test_an_applied_run_of_an_incomplete_pull_reads_incomplete_with_why(
    demo_sandbox: Sandbox, tmp_path: Path
) -> None:
    database = tmp_path / "bloomz.duckdb"
    demo_sandbox.set_faults(
        {"kind": "status", "status": 401, "path": "/v3.0/users", "after": 1, "count": None}
    )
    try:
        run = pipe(
            "tap-clever",
            clever_config(demo_sandbox),
            {"database": str(database), "apply_incomplete_pulls": True},
            tmp_path,
        )
    finally:
        demo_sandbox.clear_faults()
    assert run.returncode == 4, run.stderr[-3000:]  # Incomplete
    assert query(database, "SELECT status, pull_complete FROM runs") == [("applied", False)]

    with engine.store(database) as con:
        assert con is not None
        (shown,) = engine.runs_of(con, KEY)
        home = engine.last_runs(con)[KEY]
        shown["summary_counts"] = engine.summary(con, shown["id"], KEY)["counts"]  # as History reads it
    assert shown["outcome"] == home["outcome"] == "incomplete"
    assert shown["label"] == home["label"]
    assert shown["label"].startswith("Incomplete: the source stopped before the pull was complete"), shown
    (bar,) = charts.history([shown])["bars"]
    assert bar["bad"], "History marks it as a bad night"
