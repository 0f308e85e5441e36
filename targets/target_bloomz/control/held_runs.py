"""Approve or discard a held run (guard/hold.py held it over a safety limit).

Approve applies the plan the admin read (plan/artifact.py keeps it) when the store has not changed since;
when it has (another run, an edit, an undo), the run is planned again from its saved input against the
store as it is now. Either way the import pipeline applies it, in one transaction under the school's lock,
exactly as the target would have.

Meltano's state: a held run never emitted its STATE, so Meltano's bookmark is still where the last applied
run left it. Approving does not move it either: the next scheduled run pulls again from that bookmark and
re-delivers what the held run had (applying it again changes nothing), so the bookmark can never run ahead
of the store. To skip that re-pull, set the approved run's STATE with the line approve prints:
``meltano state set --force <the run's state id> '<json>'`` (the state id the target recorded when Meltano
started the run, artifact.meltano_state_id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from plugin_runtime.failures import Failure
from target_bloomz.mapping import Mapping, load_mapping
from target_bloomz.outbox.invitations import DEFAULT_SIGNUP_URL
from target_bloomz.pipeline.import_pipeline import ImportPipeline, RunSettings
from target_bloomz.plan import artifact
from target_bloomz.runs import run_log


class ApprovalError(Failure, ValueError):
    """The run cannot be approved or discarded; the message says why."""


@dataclass
class Approved:
    run_id: int
    replanned_because_store_moved: bool  # else the saved plan was applied as the admin read it
    counts: dict[str, dict[str, int]]
    singer_state: dict | None
    meltano_state_id: str | None = None  # recorded when Meltano started the run

    @property
    def meltano_state(self) -> str | None:
        """The run's Singer state as ``meltano state set`` takes it; None when the run had none."""
        return None if self.singer_state is None else json.dumps({"singer_state": self.singer_state})

    def applied_text(self) -> str:
        """What was applied: approve's first lines, before what it says of Meltano's state."""
        lines = [f"Run {self.run_id} approved and applied."]
        if self.replanned_because_store_moved:
            lines.append("The store changed since the run was held: it was planned again before applying.")
        lines.append(run_log.summary_table(self.counts))
        return "\n".join(lines)

    def text(self, state_id: str | None = None) -> str:
        """What approve prints; ``state_id`` overrides the recorded Meltano state id."""
        lines = [self.applied_text()]
        state = self.meltano_state
        if state is None:
            return "\n".join(lines)
        state_id = state_id or self.meltano_state_id
        lines.append(
            "Meltano's state was not advanced; the next scheduled run pulls again from the last bookmark."
        )
        if state_id:
            lines.append(
                f"To advance it to this run's state now:\n  meltano state set --force {state_id} '{state}'"
            )
        else:
            lines.append(
                f"Meltano did not start run {self.run_id}, so it has no Meltano state id: to advance a job's "
                f"state to this run's, give that job's id (`meltano state list`) to\n"
                f"  meltano state set --force STATE_ID '{state}'"
            )
        return "\n".join(lines)


def _held_run(con: duckdb.DuckDBPyConnection, run_id: int) -> tuple:
    row = con.execute(
        "SELECT status, mapping_file, source, options, planned_at_change, singer_state, scope, signup_url "
        "FROM runs WHERE id = ?",
        [run_id],
    ).fetchone()
    if not row:
        raise ApprovalError(f"no run {run_id}")
    if row[0] != "held":
        raise ApprovalError(f"run {run_id} is {row[0]}, not held")
    return row


def _mapping(mapping_file: str, source: str, options: str | None) -> Mapping:
    mapping = load_mapping(mapping_file, source=source)
    return mapping.with_options(**json.loads(options or "{}"))


def _superseded_by(con: duckdb.DuckDBPyConnection, run_id: int, scope: list[str]) -> int | None:
    """A newer run of the same schools that applied: the held run's input is older than the store's."""
    row = con.execute(
        """SELECT min(id) FROM runs WHERE id > ? AND NOT dry_run AND status IN ('applied', 'undone')
             AND len(list_intersect(scope, ?::VARCHAR[])) > 0""",
        [run_id, scope],
    ).fetchone()
    return row[0] if row else None


def approve(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> Approved:
    """Apply held run ``run_id`` (its saved plan, or planned again when the store moved since).

    Refused when a newer run of the same schools applied meanwhile: the held run carries an older source
    picture, and applying it would roll that newer data back (and the source mirror with it).
    """
    _, mapping_file, source, options, _, state, scope, signup_url = _held_run(con, run_id)
    newer = _superseded_by(con, run_id, list(scope or []))
    if newer is not None:
        raise ApprovalError(
            f"run {run_id} is superseded by run {newer}: discard it (bloomz-sync discard {run_id}). "
            f"Approving it would roll back the newer data of run {newer}."
        )
    mapping = _mapping(mapping_file, source, options)
    settings = RunSettings(
        database=database,
        feed=artifact.feed(database, run_id) or "",
        # the link the target was given (a run held before store version 5 has none saved)
        signup_url=signup_url or DEFAULT_SIGNUP_URL,
    )
    state_id = artifact.meltano_state_id(database, run_id)
    replanned, counts = ImportPipeline(mapping, settings).approve(con, run_id, list(scope or []))
    return Approved(run_id, replanned, counts, json.loads(state) if state else None, state_id)


def discard(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> str:
    """Drop a held run: nothing of it is applied, its plan stays readable."""
    _held_run(con, run_id)
    con.execute(
        "UPDATE runs SET status = 'discarded', "
        "status_reason = 'discarded after it was held: ' || status_reason WHERE id = ?",
        [run_id],
    )
    artifact.drop(database, run_id)
    return (
        f"Run {run_id} discarded: nothing of it was applied. "
        f"Its plan stays readable (bloomz-sync plan {run_id})."
    )
