"""The pull as target-bloomz received it: finished, or cut short, and what and where in an admin's words.

Every tap frames its sync with records of the contract stream ``pull`` (roster_streams/pull.py): ``started``
first, ``finished`` last, or ``stopped`` with the reason. The reader hands each of them here
(input/pull_input.py) with where the input broke off; at the end of input ``judge`` compares them with what
arrived. A pull is complete when it finished, every record the tap sent arrived, and the tap could read
every row. Any other pull is not applied (the run fails and only the run is written) unless the
``apply_incomplete_pulls`` setting allows its adds and updates, never its removals (docs/resync.md).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import duckdb

from roster_streams import contract
from target_bloomz.input.pull_input import PullInput
from target_bloomz.plan import accounting
from target_bloomz.runs import run_log

# target-bloomz's exit status when an incomplete pull's adds and updates were applied (apply_incomplete_pulls,
# docs/resync.md): not 0, since the pull was not whole and Meltano's state must not move; not 1 (failed,
# nothing applied) nor 3 (held), so an orchestrator can tell that part of it is in the store.
EXIT_INCOMPLETE = 4
_LISTED = 3  # unreadable rows named in a status line before "and N more" (the run's errors list them all)


@dataclass(frozen=True)
class Verdict:
    """What the run makes of the pull."""

    source: str | None
    tenant: str | None
    tap: str
    mode: str | None
    cause: str | None  # None: complete; else why not, in the words of the run's status
    unreadable: list[dict[str, Any]]
    left_out: list[dict[str, Any]]  # records the tap sends in no stream: accounting.py names them
    failed: dict[str, str]
    not_provided: list[dict[str, Any]]

    @property
    def complete(self) -> bool:
        return self.cause is None

    @property
    def lost_streams(self) -> set[str]:
        """Streams missing records the source has: never complete this run, whatever the tap closed."""
        lost = {stream for row in self.unreadable for stream in row["streams"]} | set(self.failed)
        return lost | {entry["stream"] for entry in self.not_provided if entry["fields"] is None}

    @property
    def kept_fields(self) -> dict[str, list[str]]:
        """stream → fields the source did not provide this pull: the store keeps what it has for them."""
        kept: dict[str, list[str]] = {}
        for entry in self.not_provided:
            if entry["fields"] and entry["stream"] in contract.STREAMS:
                kept.setdefault(entry["stream"], []).extend(entry["fields"])
        return kept

    def failed_status(self) -> str:
        return f"{self.cause}; nothing was changed"

    def incomplete_status(self) -> str:
        return f"{self.cause}; its adds and updates were applied, nothing was removed"

    def as_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "tenant": self.tenant,
                "tap": self.tap,
                "mode": self.mode,
                "cause": self.cause,
            }
        )


def judge(pull: PullInput, received: dict[str, int], closed: Collection[str]) -> Verdict:
    """Whether the pull is complete, given the records that arrived and the streams closed complete."""
    started = pull.started or {}
    finished = pull.finished or {}
    tap = str(started.get("tap") or "the tap")
    unreadable = list(finished.get("unreadable") or [])
    failed = dict(finished.get("failed") or {})
    return Verdict(
        source=started.get("source"),
        tenant=started.get("tenant"),
        tap=tap,
        mode=started.get("mode"),
        cause=_cause(pull, tap, received, closed, unreadable, failed),
        unreadable=unreadable,
        left_out=list(finished.get("left_out") or []),
        failed=failed,
        not_provided=list(finished.get("not_provided") or []),
    )


def verdict_of(recorded: dict[str, Any]) -> Verdict:
    """The verdict a run recorded (``runs.pull``, as_json), for applying it later (a held run)."""
    return Verdict(
        source=recorded.get("source"),
        tenant=recorded.get("tenant"),
        tap=str(recorded.get("tap") or "the tap"),
        mode=recorded.get("mode"),
        cause=recorded.get("cause"),
        unreadable=[],
        failed={},
        not_provided=[],
        left_out=[],
    )


def _cause(
    pull: PullInput,
    tap: str,
    received: dict[str, int],
    closed: Collection[str],
    unreadable: list[dict[str, Any]],
    failed: dict[str, str],
) -> str | None:
    if not pull.announced and not pull.started and not pull.stopped:
        return (
            "the input has no pull records, so nothing shows the pull was complete: target-bloomz imports "
            "what tap-clever and tap-oneroster send (schemas/roster/pull.json)"
        )
    if pull.stopped is not None:
        return (
            f"the source stopped before the pull was complete ({tap} stopped: {pull.stopped['reason']}; "
            f"{_where(pull, received, closed)})"
        )
    if pull.finished is None:
        problems = "; ".join([*pull.problems, _where(pull, received, closed)])
        return f"the source stopped before the pull was complete ({tap} did not finish: {problems})"
    gaps = [*pull.problems]
    by_reason: dict[str, list[str]] = {}
    for stream, reason in sorted(failed.items()):
        by_reason.setdefault(reason, []).append(stream)
    gaps += [f"{', '.join(streams)} could not be read: {reason}" for reason, streams in by_reason.items()]
    for stream, sent in sorted((pull.finished.get("streams") or {}).items()):
        arrived = received.get(stream, 0)
        if sent["records"] is not None and arrived < sent["records"]:
            gaps.append(f"{stream}: {arrived:,} of the {sent['records']:,} records {tap} sent arrived")
        if sent["complete"] and stream not in closed:
            gaps.append(f"{stream}: {tap} closed it complete, but its ACTIVATE_VERSION did not arrive")
    if unreadable:
        rows = "; ".join(f"{row['where']}: {row['reason']}" for row in unreadable[:_LISTED])
        more = f"; and {len(unreadable) - _LISTED} more" if len(unreadable) > _LISTED else ""
        gaps.append(
            f"{len(unreadable)} row{'s' if len(unreadable) != 1 else ''} could not be read ({rows}{more})"
        )
    return f"the pull was not complete ({'; '.join(gaps)})" if gaps else None


def _where(pull: PullInput, received: dict[str, int], closed: Collection[str]) -> str:
    """Where a pull broke off: the last roster stream that came, and those that never came."""
    came = [stream for stream in pull.seen if stream in contract.STREAMS]
    never = [stream for stream in contract.STREAMS if stream not in pull.seen]
    if not came:
        where = "before any roster stream"
    elif came[-1] in closed:
        where = f"after {came[-1]}"
    else:
        where = f"cut short in {came[-1]} after {received.get(came[-1], 0):,} records"
    return f"{where}; {', '.join(never)} never came" if never else where


def record(con: duckdb.DuckDBPyConnection, run_id: int, verdict: Verdict) -> None:
    """Keep the pull with the run, and report its unreadable rows (errors) and missing fields (warnings);
    the records the tap left out wait for the plan to name them (plan/accounting.py, issue 18)."""
    con.execute(
        "UPDATE runs SET pull = ?, pull_complete = ? WHERE id = ?",
        [verdict.as_json(), verdict.complete, run_id],
    )
    for row in verdict.unreadable:
        message = f"{row['where']}: {row['reason']}; its record was kept as it was"
        for stream in row["streams"] or ["pull"]:
            run_log.add_issue(con, run_id, "error", stream, row.get("record_id"), message)
    for stream, reason in sorted(verdict.failed.items()):
        run_log.add_issue(con, run_id, "error", stream, None, f"could not be read: {reason}")
    for entry in verdict.not_provided:
        run_log.add_issue(con, run_id, "warning", entry["stream"], None, entry["why"])
    accounting.keep_left_out(con, verdict.left_out)


def check_no_removals(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """An incomplete pull never removes: refuse a plan that would (a bug, not bad input)."""
    row = con.execute(
        "SELECT count(*) FROM plan_rows WHERE run_id = ? AND action IN ('remove', 'archive')", [run_id]
    ).fetchone()
    if row and row[0]:
        raise RuntimeError(f"the plan of an incomplete pull has {row[0]} removals; nothing was applied")


def adds_and_updates_only(con: duckdb.DuckDBPyConnection, source: str, run_id: int) -> None:
    """Before an incomplete pull is planned: no stream counts as complete (plan/removals.py then removes and
    archives nothing), and no new parent whose contact has no sis_id is added: such an id may be a changed
    id of a parent the store has (Clever contact churn, plan/churned_contacts.py), which only a complete pull
    can tell.
    The complete pull adds or matches it; until then it stays out of the plan, and the run says so."""
    con.execute("UPDATE runs SET complete_streams = [] WHERE id = ?", [run_id])
    new = """SELECT id FROM stg_contacts c WHERE coalesce(c.sis_id, '') = '' AND NOT EXISTS (
                 SELECT 1 FROM person_sources ps
                 WHERE ps.source = $source AND ps.kind = 'parent' AND ps.source_id = c.id)"""
    row = con.execute(f"SELECT count(*) FROM ({new})", {"source": source}).fetchone()
    if not row or not row[0]:
        return
    con.execute(f"DELETE FROM stg_student_contacts WHERE contact_id IN ({new})", {"source": source})
    con.execute(f"DELETE FROM stg_contacts WHERE id IN ({new})", {"source": source})
    run_log.add_issue(
        con,
        run_id,
        "warning",
        "contacts",
        None,
        f"{row[0]} new contacts without sis_id wait for a complete pull (their id may be a changed id of a "
        "parent Bloomz has)",
    )
