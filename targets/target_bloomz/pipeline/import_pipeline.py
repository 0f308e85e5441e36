"""One import, step by step, in DESIGN.md's order: stage → map → plan → guard → apply → outbox.

The Singer adapter (target.py) hands over what it received (``Received``); ``ImportPipeline.run`` locks the
run's school communities, then prepares (stages the spooled records, judges the pull, merges the source
mirror, checks references, asks the mapping), starts the run's record, plans, and either stops (a dry run, a
pull that is not complete), holds the run over a safety limit, or applies the plan in one transaction. A held
run is applied later by ``ImportPipeline.approve`` with the same apply step.

The plan is a value: planning writes only the run's ``p_*`` tables, saving it writes its rows and issues
to the store, and apply reads only the plan (tables.py declares who writes and reads which table).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from target_bloomz import store
from target_bloomz.apply import transaction
from target_bloomz.apply.family_codes import assign_family_codes
from target_bloomz.contacts import normalize
from target_bloomz.guard import hold, pull_verdict, safety, source_identity
from target_bloomz.guard.pull_verdict import Verdict
from target_bloomz.input.pull_input import PullInput
from target_bloomz.mapping import Mapping, answers
from target_bloomz.outbox import DeliverySettings, deliver_pending
from target_bloomz.outbox.invitations import queue_invitations
from target_bloomz.outbox.status_emails import no_recipient_warnings, queue_status_emails
from target_bloomz.pipeline import lock_scope
from target_bloomz.plan import artifact, planner, saved_plan
from target_bloomz.progress import Progress
from target_bloomz.runs import refusals, run_log
from target_bloomz.stage import mirror, staging
from target_bloomz.store import locks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
    """How this import runs: the target's settings that are not the mapping's."""

    database: Path
    feed: str  # the source mirror the run merges into (docs/mirror.md)
    dry_run: bool = False
    apply_incomplete_pulls: bool = False
    memory_limit: str = "512MB"
    signup_url: str = ""
    mapping_named: bool = True  # the admin chose the mapping (a file or a source)
    delivery: DeliverySettings | None = None  # None: nothing is delivered after the run


@dataclass(frozen=True)
class Received:
    """What the Singer adapter received: the spooled records and how the pull went."""

    spool_dir: Path
    pull: PullInput
    complete_streams: frozenset[str]  # ACTIVATE_VERSION: the tap sent these streams whole
    versioned_streams: frozenset[str]  # streams a full pull started (closed or cut short)
    singer_state: dict | None = None


@dataclass(frozen=True)
class Outcome:
    """How an import ended: applied, dry_run, held, failed, incomplete or refused."""

    status: str
    run_id: int | None = None

    # docs/resync.md "Exit status": 0 applied or a dry run, 1 failed or refused, 3 held, 4 incomplete
    EXIT_STATUSES: ClassVar[dict[str, int]] = {
        "failed": 1,
        "refused": 1,
        "held": hold.EXIT_HELD,
        "incomplete": pull_verdict.EXIT_INCOMPLETE,
    }

    @property
    def exit_status(self) -> int:
        return self.EXIT_STATUSES.get(self.status, 0)


@dataclass(frozen=True)
class _Planned:
    """A run whose plan is saved and ready to apply."""

    run_id: int
    summary: planner.PlanSummary
    verdict: Verdict


class ImportPipeline:
    """The order of an import. The target, approve (the CLI and the console) and the tests all use it."""

    def __init__(self, mapping: Mapping, settings: RunSettings, *, progress: Progress | None = None) -> None:
        self.mapping = mapping
        self.settings = settings
        self.progress = progress  # None: nothing shown (an approval)
        self._locks = locks.Held()

    # --- an import -----------------------------------------------------------------------------------------

    def run(self, received: Received) -> Outcome:
        """Import what was received; a refusal (the school busy, the wrong source, autosync before a first
        import) is recorded as a refused run and said in one line."""
        database = self.settings.database
        scopes: list[str] = []
        try:
            scopes = lock_scope.scopes(self.mapping, received.spool_dir, database, self.settings.feed)
            with store.lock(database, scopes, store.holder()) as self._locks:
                return self._import(received, scopes)
        except store.SyncInProgress as err:
            refused = refusals.refusal(self.mapping, scopes, str(err))
            refusals.refuse(database, refused, self._after_run)
            return Outcome("refused")
        except safety.SyncRefused:
            return Outcome("refused")  # recorded and said by _import
        except store.LockLost as err:
            print(f"Failed: {err}", file=sys.stderr, flush=True)  # the run is recorded failed
            return Outcome("failed")
        finally:
            refusals.record_refusals_when_free(database, self._after_run)  # refused meanwhile

    def _import(self, received: Received, scopes: list[str]) -> Outcome:
        con = store.open_for_import(self.settings.database, wait=locks.STORE_WAIT_SECONDS)
        refusals.record_refusals(con, self.settings.database, self._after_run)  # left by a refused import
        self._bound_memory(con, received.spool_dir)
        run_id: int | None = None
        try:
            verdict, merged, counts = self._prepare(con, received, scopes)
            run_id = self._start(con, received, verdict, merged, counts)
            return self._plan_and_apply(con, run_id, verdict)
        except safety.SyncRefused:
            raise
        except Exception as err:
            if run_id is not None:
                run_log.finish(
                    con, run_id, "failed", error=f"nothing was applied: {type(err).__name__}: {err}"
                )
            raise
        finally:
            if run_id is not None and not self.settings.dry_run:  # a dry run queues and delivers nothing
                self._after_run(con, run_id)
            con.close()

    def _bound_memory(self, con: duckdb.DuckDBPyConnection, spool_dir: Path) -> None:
        """Bounded memory at any district size: DuckDB spills staging and plan tables to disk."""
        limit = self.settings.memory_limit.replace("'", "")
        con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET temp_directory = '{spool_dir / 'duckdb-tmp'}'")

    def _prepare(
        self, con: duckdb.DuckDBPyConnection, received: Received, scopes: list[str]
    ) -> tuple[Verdict, mirror.Merged, dict[str, int]]:
        """Stage, judge the pull, merge the source mirror, check references and ask the mapping."""
        with self._phase("stage"):
            counts = staging.stage(con, received.spool_dir)
            if self.progress is not None:
                self.progress.staged_records(sum(counts.values()))
            verdict = pull_verdict.judge(received.pull, counts, received.complete_streams)
            try:
                source_identity.check_mapping(verdict, self.mapping, named=self.settings.mapping_named)
            except safety.SyncRefused as err:  # before the mirror takes anything of the pull
                refusals.record_refused(con, self.mapping, str(err), scope=scopes)
                raise
            # Only staging needs input order (the last record of a key wins); later steps order
            # explicitly, and unordered writes let DuckDB stream and spill in less memory.
            con.execute("SET preserve_insertion_order = false")
            mirror.keep_not_provided(con, self.settings.feed, verdict.kept_fields)
            # source mirror: plan from the feed's whole picture, and check references against it
            pulled_complete = set(received.complete_streams) - verdict.lost_streams
            merged = mirror.merge(con, self.settings.feed, pulled_complete, set(received.versioned_streams))
            staging.check_references(con, self.mapping.source)
        with self._phase("map"):
            answers.run(con, self.mapping)
            normalize.normalize_contacts(con, self.mapping.options.default_region)
        try:
            source_identity.check_store(con, verdict, self.mapping, self.settings.feed)
            safety.check_first_import(con, self.mapping)  # re-sync: autosync needs a first import
        except safety.SyncRefused as err:
            refusals.record_refused(con, self.mapping, str(err))
            raise
        return verdict, merged, counts

    def _start(
        self,
        con: duckdb.DuckDBPyConnection,
        received: Received,
        verdict: Verdict,
        merged: mirror.Merged,
        counts: dict[str, int],
    ) -> int:
        """Record the run (status planned) with what it received and what it found on the way."""
        run_id = run_log.start(
            con,
            self.mapping,
            dry_run=self.settings.dry_run,
            complete_streams=merged.complete,  # complete in the mirror after the merge
            record_counts=counts,
            singer_state=received.singer_state,
            signup_url=self.settings.signup_url,
        )
        pull_verdict.record(con, run_id, verdict)
        run_log.note_start(
            con,
            run_id,
            self._locks.taken_over,
            pulled_complete=merged.pulled_complete,
            cut_short=merged.cut_short,
        )
        for stream, n in staging.other_streams(received.spool_dir).items():
            message = f"not a standard roster stream: {n} records not imported"
            run_log.add_issue(con, run_id, "warning", stream, None, message)
        return run_id

    def _plan_and_apply(self, con: duckdb.DuckDBPyConnection, run_id: int, verdict: Verdict) -> Outcome:
        dry_run = self.settings.dry_run
        if not verdict.complete and not dry_run and not self.settings.apply_incomplete_pulls:
            run_log.finish(con, run_id, "failed", reason=verdict.failed_status())
            print(f"Run {run_id} failed: {verdict.failed_status()}.", file=sys.stderr, flush=True)
            return Outcome("failed", run_id)
        if not verdict.complete:
            pull_verdict.adds_and_updates_only(con, self.mapping.source, run_id)
        planned = self._plan(con, run_id, verdict)
        if dry_run:
            run_log.finish(con, run_id, "dry_run")
            return Outcome("dry_run", run_id)
        if not verdict.complete:
            pull_verdict.check_no_removals(con, run_id)
        if hold.hold_if_over_limits(
            con, self.settings.database, self.mapping, run_id, feed=self.settings.feed
        ):
            return Outcome("held", run_id)  # nothing applied, STATE kept in runs.singer_state only
        self._apply(con, planned)
        if not verdict.complete:
            print(f"Run {run_id} incomplete: {verdict.incomplete_status()}.", file=sys.stderr, flush=True)
            return Outcome("incomplete", run_id)  # its state stays: the next run reads the same changes again
        log.info("Run %s applied to %s", run_id, self.settings.database)
        return Outcome("applied", run_id)

    def _plan(self, con: duckdb.DuckDBPyConnection, run_id: int, verdict: Verdict) -> _Planned:
        """Compute the plan (the run's p_* tables only), then save its rows, issues and counts."""
        with self._phase("plan"):
            summary = planner.build(con, self.mapping, run_id)
            saved_plan.save(con, run_id, summary)
        self._report(con, run_id, summary, verdict)
        return _Planned(run_id, summary, verdict)

    def _apply(self, con: duckdb.DuckDBPyConnection, planned: _Planned) -> None:
        """The plan in ONE store transaction, with what lands with it: the source's identity, family codes,
        invitations and the status e-mails."""
        run_id, verdict = planned.run_id, planned.verdict

        def with_the_run(con: duckdb.DuckDBPyConnection) -> None:
            if self.settings.feed:  # a run an older version held did not keep its feed
                source_identity.link(con, run_id, verdict, self.mapping, self.settings.feed)
            if not verdict.complete:  # before the status e-mails are written
                reason = verdict.incomplete_status()
                con.execute("UPDATE runs SET status_reason = ? WHERE id = ?", [reason, run_id])
            # who has no parent is known only from a complete pull
            codes = assign_family_codes(con) if verdict.complete else 0
            invited = queue_invitations(
                con, run_id, self.mapping.options, signup_url=self.settings.signup_url
            )
            queue_status_emails(con, run_id)
            log.info(
                "run %s: %d family codes, %d invitation e-mails and %d text messages queued, "
                "%d registered people added without invitation",
                *(run_id, codes, invited.email, invited.sms, invited.registered),
            )

        with self._phase("apply"):
            transaction.apply(
                con,
                run_id,
                self.mapping.source,
                before_commit=with_the_run,
                still_ours=self._locks.check,  # no import took the schools over while this one hung
            )

    # --- a held run ----------------------------------------------------------------------------------------

    def approve(self, con: duckdb.DuckDBPyConnection, run_id: int, scope: list[str]) -> tuple[bool, dict]:
        """Apply held run ``run_id``: its saved plan as the admin read it when the store has not changed
        since, else planned again from its saved input against the store as it is now.

        Returns whether it was planned again, and the counts of the plan applied.
        """
        database = self.settings.database
        with store.lock(database, scope, store.holder()) as self._locks:
            row = con.execute("SELECT planned_at_change, pull FROM runs WHERE id = ?", [run_id]).fetchone()
            planned_at, pull = row if row else (None, None)
            moved = planned_at != store.change_counter(con)
            has_plan = artifact.load(con, database, run_id)
            verdict = pull_verdict.verdict_of(json.loads(pull) if pull else {})
            con.execute(
                "UPDATE runs SET status_reason = 'approved after it was held: ' || status_reason "
                "WHERE id = ?",
                [run_id],
            )
            if moved or not has_plan:
                saved_plan.forget(con, run_id)
                planned = _Planned(run_id, planner.build(con, self.mapping, run_id), verdict)
                saved_plan.save(con, run_id, planned.summary)
            else:
                planned = _Planned(run_id, saved_plan.summary(con, run_id), verdict)
            self._apply(con, planned)
        artifact.drop(database, run_id)
        return moved, planned.summary.counts

    # --- after the run ------------------------------------------------------------------------------------

    def _after_run(self, con: duckdb.DuckDBPyConnection, run_id: int) -> None:
        """The status e-mails of a run that did not apply (held, failed, refused), then delivery of the
        outbox; a channel that is down leaves rows pending, never fails the run."""
        try:
            queue_status_emails(con, run_id)
            if self.settings.delivery is None:
                return
            report = deliver_pending(con, self.settings.delivery)
        except Exception as err:  # the run's own outcome stands; the outbox keeps what was queued
            # The class only: an error's text can carry addresses (an SMTP server's refusal names them).
            log.error("Outbox of run %s not delivered: %s", run_id, type(err).__name__)
            return
        log.info("outbox delivery: %s", report)
        print(f"Outbox: {report}", file=sys.stderr, flush=True)
        for warning in no_recipient_warnings(con, run_id):
            print(f"Run {run_id}: warning: {warning}", file=sys.stderr, flush=True)

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Show the phase as it starts; log how long it took (the bench scripts read these lines)."""
        started = time.perf_counter()
        with self.progress.phase(name) if self.progress is not None else nullcontext():
            yield
        log.info("phase %s: %.2f s", name, time.perf_counter() - started)

    def _report(
        self, con: duckdb.DuckDBPyConnection, run_id: int, summary: planner.PlanSummary, verdict: Verdict
    ) -> None:
        """The plan in a few lines on stderr (`bloomz-sync plan N` shows it whole)."""
        dry_run = self.settings.dry_run
        row: Any = con.execute(
            "SELECT count(*) FILTER (severity = 'error'), count(*) FILTER (severity = 'warning') "
            "FROM run_issues WHERE run_id = ?",
            [run_id],
        ).fetchone()
        errors, warnings = row
        lines = [
            f"Run {run_id}{' (dry run: nothing applied)' if dry_run else ''}: "
            f"plan for {self.settings.database}",
            run_log.summary_table(summary.counts),
            f"{errors} records set aside, {warnings} warnings (bloomz-sync plan {run_id} shows them).",
        ]
        if not verdict.complete:
            lines.append(f"The pull was not complete: {verdict.cause}; this plan has no removals.")
        if dry_run:
            values = run_log.contact_field_values(con, self.mapping)
            lines.append(run_log.contact_values_table(values, self.mapping))
        print("\n".join(lines), file=sys.stderr, flush=True)
