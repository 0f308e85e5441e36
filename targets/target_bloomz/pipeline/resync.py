"""Re-sync steps target.py calls around an import: lock scope, lock takeovers, refusals, holding a run.

Kept here so target.py only carries one-line hooks (DESIGN.md rules 4 to 8; locks.py, safety.py, artifact.py).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import duckdb

from target_bloomz import store
from target_bloomz.apply import journal
from target_bloomz.guard import safety
from target_bloomz.input.sinks import spool_file
from target_bloomz.mapping import Mapping, MappingError
from target_bloomz.plan import artifact
from target_bloomz.runs import refusals, run_log
from target_bloomz.stage import mirror
from target_bloomz.store import locks
from target_bloomz.store.locks import TakenOver

# target-bloomz's exit status when its run is held over a safety limit (docs/resync.md): not 0, since nothing
# was applied and Meltano's state must not move; not 1, so an orchestrator can tell "waits for a person" from
# a failure. Refused and failed runs exit 1.
EXIT_HELD = 3

# How long an import that holds its schools' locks waits for the store, when another process has it open
# (a status command, a refused import recording its refusal): longer means another school's import applies.
STORE_WAIT_SECONDS = 10.0


def scopes(mapping: Mapping, spool_dir: Path, database: Path, feed: str) -> list[str]:
    """The keys an import locks, known before it opens the store for writing.

    The communities of the spooled schools; a delta usually has none, so then those of the feed's mirror
    (the schools the feed was pulled with), else those the mapping names; as a last resort the feed itself.
    """
    keys = _communities(mapping, _spooled_schools(spool_dir))
    if not keys:
        keys = _communities(mapping, _mirrored_schools(database, feed))
    if not keys:
        keys = _configured(mapping)
    return sorted(keys) or [f"feed:{feed}"]


def _spooled_schools(spool_dir: Path) -> list[dict]:
    path = spool_file(spool_dir, "schools")
    if not path.exists():
        return []
    schools = []
    with path.open("rb") as lines:
        for line in lines:
            try:
                schools.append(json.loads(line))
            except ValueError:  # a bad school record is reported by staging, not here
                continue
    return schools


def _mirrored_schools(database: Path, feed: str) -> list[dict]:
    """The feed's schools in the store's mirror; none when the store is new, older or open elsewhere."""
    if not database.exists():
        return []
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            cursor = con.execute("SELECT * EXCLUDE (feed) FROM src_schools WHERE feed = ?", [feed])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:  # busy: the import holding it is found by the lock, or by opening the store
        return []


def _communities(mapping: Mapping, schools: list[dict]) -> set[str]:
    keys = set()
    for school in schools:
        try:
            community = mapping.community_for(school)
        except (KeyError, TypeError, ValueError, MappingError):
            community = None
        if community is not None:
            keys.add(community.key)
    return keys


def _configured(mapping: Mapping) -> set[str]:
    """The communities a mapping names: its groups, and the schools it lists (not "all")."""
    communities = mapping.resolved["communities"]
    keys = {group["key"] for group in communities["groups"]}
    if communities["schools"] != "all":
        grouped = {school for group in communities["groups"] for school in group["schools"]}
        keys |= {f"{mapping.source}:{school}" for school in communities["schools"] if school not in grouped}
    return keys


def open_store(database: Path, *, wait: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the store for writing, waiting up to ``wait`` seconds while another process has it open; still
    open then means a sync is in progress (SyncInProgress)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return store.connect(database)
        except store.StoreError as err:
            if not locks.is_store_busy(err):
                raise
            if time.monotonic() >= deadline:
                raise locks.SyncInProgress(locks.busy_message(database)) from None
        time.sleep(0.1)


def holder() -> str:
    """Who holds a lock: this process, readable in the "sync in progress" message."""
    return f"target-bloomz (pid {os.getpid()} on {socket.gethostname()})"


def after_start(
    con: duckdb.DuckDBPyConnection, run_id: int, taken: list[TakenOver], merged: mirror.Merged
) -> None:
    """Remember what the run planned against, say which stale locks it took over and which streams were
    cut short."""
    con.execute(
        "UPDATE runs SET planned_at_change = ?, pulled_complete = ? WHERE id = ?",
        [journal.change_counter(con), merged.pulled_complete, run_id],
    )
    # This run holds the lock of its communities, so an earlier run of them still "planned" died mid-way.
    con.execute(
        """UPDATE runs SET status = 'failed', finished_at = now(),
               error = 'the import stopped before it finished (process killed?): nothing of it was applied'
           WHERE status = 'planned' AND id <> $run
             AND len(list_intersect(scope, (SELECT scope FROM runs WHERE id = $run))) > 0""",
        {"run": run_id},
    )
    for lock in taken:
        run_log.add_issue(
            con, run_id, "warning", "locks", lock.scope, lock.message(), communities=[lock.scope]
        )
        print(f"Run {run_id}: {lock.message()}", file=sys.stderr, flush=True)
    for stream, completed_run in sorted(merged.cut_short.items()):
        message = f"did not close complete; removals judged from the mirror as of run {completed_run}"
        run_log.add_issue(con, run_id, "warning", stream, None, message)
        print(f"Run {run_id}: {stream} {message}", file=sys.stderr, flush=True)


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
    """Record a refused import (refusal()) now, or leave it for the import holding the store (refusals.py)."""
    refusals.save(database, refused)
    if not record_refusals_when_free(database, after_run):
        later = "recorded as a refused run once the store is free"
        print(f"Refused, nothing applied: {refused['reason']} ({later})", file=sys.stderr, flush=True)


def record_refusals_when_free(database: Path, after_run: AfterRun) -> list[int]:
    """Record the refusals waiting beside the store unless another process has it open; their run ids."""
    if not refusals.waiting(database) or not database.exists():
        return []
    try:
        con = open_store(database)
    except (locks.SyncInProgress, store.StoreError):
        return []  # the process holding the store records them when it is done
    try:
        return record_refusals(con, database, after_run)
    finally:
        con.close()


def record_refusals(con: duckdb.DuckDBPyConnection, database: Path, after_run: AfterRun) -> list[int]:
    """Record the refusals waiting beside the store, say so, and tell their admins (``after_run``)."""
    recorded = refusals.record_waiting(con, database)
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
    run_id = refusals.insert(con, refusal(mapping, scope, reason, school_ids))
    print(f"Run {run_id} refused, nothing applied: {reason}", file=sys.stderr, flush=True)
    return run_id


def meltano_state_id() -> str | None:
    """The state id Meltano keeps this run's bookmark under (``meltano run`` gives its plugins the names
    it is made of); None when Meltano did not start this run. Meltano names it
    ``<environment>:<extractor>-to-<loader>[:<suffix>]``; of the suffix, plugins see only
    MELTANO_RUN_STATE_ID_SUFFIX, not ``--state-id-suffix`` nor an environment's ``state_id_suffix``
    (docs/resync.md)."""
    env = os.environ
    environment, extractor, loader = (
        env.get(f"MELTANO_{name}") for name in ("ENVIRONMENT", "EXTRACTOR_NAME", "LOADER_NAME")
    )
    if not (environment and extractor and loader):
        return None
    suffix = env.get("MELTANO_RUN_STATE_ID_SUFFIX")
    return f"{environment}:{extractor}-to-{loader}" + (f":{suffix}" if suffix else "")


def hold_if_over_limits(
    con: duckdb.DuckDBPyConnection, database: Path, mapping: Mapping, run_id: int
) -> bool:
    """Hold the run when its plan is over a safety limit: keep plan and input, apply nothing. True if held."""
    reasons = safety.over_limits(con, mapping)
    if not reasons:
        return False
    artifact.save(con, database, run_id, meltano_state_id=meltano_state_id())
    reason = "over the safety limits: " + "; ".join(reasons)
    con.execute(
        "UPDATE runs SET status = 'held', status_reason = ?, finished_at = now() WHERE id = ?",
        [reason, run_id],
    )
    print(
        f"Run {run_id} HELD for approval, nothing applied: {reason}.\n"
        f"Read the plan with `bloomz-sync plan {run_id}`, then `bloomz-sync approve {run_id}` or "
        f"`bloomz-sync discard {run_id}`. Meltano's state was not advanced; "
        f"target-bloomz exits with status {EXIT_HELD} (held).",
        file=sys.stderr,
        flush=True,
    )
    return True
