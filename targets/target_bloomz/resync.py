"""The re-sync steps target.py calls around an import: the lock scope, lock takeovers, and holding a run.

Kept here so target.py only carries one-line hooks (DESIGN.md rules 4 to 8; locks.py, guard.py, held.py).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import duckdb

from target_bloomz import guard, held, journal, runs
from target_bloomz.locks import TakenOver
from target_bloomz.mapping import Mapping, MappingError
from target_bloomz.sinks import spool_file


def scopes(mapping: Mapping, spool_dir: Path) -> list[str]:
    """The community keys an import will touch, from the spooled schools (known before the store opens)."""
    path = spool_file(spool_dir, "schools")
    if not path.exists():
        return []
    keys = set()
    with path.open("rb") as lines:
        for line in lines:
            try:
                community = mapping.community_for(json.loads(line))
            except (ValueError, MappingError):  # a bad school record is reported by staging, not here
                community = None
            if community is not None:
                keys.add(community.key)
    return sorted(keys)


def holder() -> str:
    """Who holds a lock: this process, readable in the "sync in progress" message."""
    return f"target-bloomz (pid {os.getpid()} on {socket.gethostname()})"


def after_start(con: duckdb.DuckDBPyConnection, run_id: int, taken: list[TakenOver]) -> None:
    """Remember the store's change counter the run plans against, and say which stale locks it took over."""
    con.execute("UPDATE runs SET planned_at_change = ? WHERE id = ?", [journal.change_counter(con), run_id])
    # This run holds the lock of its communities, so an earlier run of them still "planned" died mid-way.
    con.execute(
        """UPDATE runs SET status = 'failed', finished_at = now(),
               error = 'the import stopped before it finished (process killed?): nothing of it was applied'
           WHERE status = 'planned' AND id <> $run
             AND len(list_intersect(scope, (SELECT scope FROM runs WHERE id = $run))) > 0""",
        {"run": run_id},
    )
    for lock in taken:
        runs.add_issue(con, run_id, "warning", "locks", lock.scope, lock.message(), communities=[lock.scope])
        print(f"Run {run_id}: {lock.message()}", file=sys.stderr, flush=True)


def hold_if_over_limits(
    con: duckdb.DuckDBPyConnection, database: Path, mapping: Mapping, run_id: int
) -> bool:
    """Hold the run when its plan is over a safety limit: keep plan and input, apply nothing. True if held."""
    reasons = guard.over_limits(con, mapping)
    if not reasons:
        return False
    held.save(con, database, run_id)
    reason = "over the safety limits: " + "; ".join(reasons)
    con.execute(
        "UPDATE runs SET status = 'held', status_reason = ?, finished_at = now() WHERE id = ?",
        [reason, run_id],
    )
    print(
        f"Run {run_id} held, nothing applied: {reason}.\n"
        f"Read the plan with `bloomz-sync plan {run_id}`, then `bloomz-sync approve {run_id}` or "
        f"`bloomz-sync discard {run_id}`. Meltano's state was not advanced.",
        file=sys.stderr,
        flush=True,
    )
    return True
