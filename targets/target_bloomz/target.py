"""target-bloomz: the standard roster streams into the Bloomz store.

Records are spooled per stream while the tap runs (reader.py, sinks.py). At the end of input the target
stages them in DuckDB (stage.py), asks the mapping (map_step.py), plans against the store (plan.py), saves
the plan with the run, and unless ``dry_run`` applies it in one transaction (apply.py); a dry run writes
nothing else (no outbox message, no delivery). Singer STATE is held back until that transaction commits, so
Meltano's bookmark never runs ahead of the store.

Only a complete pull is applied (pull.py): one cut short, or with rows the tap could not read, fails with
only the run written, unless ``apply_incomplete_pulls`` applies its adds and updates (never its removals).
A run that did not complete exits non-zero: 1 when nothing was applied, 4 when an incomplete pull was.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, NoReturn

import click
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import BATCH_CONFIG, PluginCapabilities

from bloomz_sync import contract, executables, private
from target_bloomz import (
    accounting,
    apply,
    guard,
    locks,
    map_step,
    mapping_check,
    mirror,
    notify,
    people_steps,
    plan,
    pull,
    resync,
    runs,
    sources,
    stage,
)
from target_bloomz.invite import DEFAULT_SIGNUP_URL
from target_bloomz.mapping import ImportOptions, Mapping, MappingError, load_mapping
from target_bloomz.outbox import CONFIG_PROPERTIES as OUTBOX_SETTINGS
from target_bloomz.outbox import DeliverySettings
from target_bloomz.outbox.settings import DEFAULT_FOLDER
from target_bloomz.progress import Progress
from target_bloomz.reader import RosterReader
from target_bloomz.sinks import RosterSink, Spools

if TYPE_CHECKING:
    from singer_sdk.helpers.capabilities import CapabilitiesEnum

_OPTION_SETTINGS = th.PropertiesList(
    th.Property(
        "full_data",
        th.BooleanType,
        title="Full Data",
        description="Full Data: remove class members missing from the source.",
    ),
    th.Property(
        "archive",
        th.BooleanType,
        title="Archive",
        description="Archive synced classes missing from the source (Full Data only).",
    ),
    th.Property(
        "recreate_archived",
        th.BooleanType,
        title="Recreate archived classes",
        description="Re-activate archived classes the source still has.",
    ),
    th.Property(
        "keep_manual_staff",
        th.BooleanType,
        title="Do not override staff assignments",
        description="Do not override staff assignments made by hand in Bloomz.",
    ),
    th.Property(
        "scheduled",
        th.BooleanType,
        title="Scheduled import",
        description="This is the nightly scheduled import (autosync).",
    ),
    th.Property(
        "invite_teachers",
        th.BooleanType,
        title="Invite teachers",
        description="Send invitations to all staff roles.",
    ),
    th.Property(
        "invite_parents", th.BooleanType, title="Invite parents", description="Send invitations to parents."
    ),
    th.Property(
        "invite_students",
        th.BooleanType,
        title="Invite students",
        description="Send invitations to students with an e-mail or phone.",
    ),
    th.Property(
        "invite_from",
        th.StringType,
        title="Invite from",
        description="E-mail or source id of the admin invitations come from.",
    ),
    th.Property(
        "notify_to",
        th.ArrayType(th.StringType),
        title="Notify to",
        description="Community roles that receive the Bulk Import Status e-mail.",
    ),
    th.Property(
        "default_region",
        th.StringType,
        title="Phone region",
        description="Country code for phone numbers without one (US).",
    ),
)
OPTION_NAMES = tuple(f.name for f in ImportOptions.__dataclass_fields__.values())
# How a run that did not apply a complete pull ends (docs/resync.md); refused runs exit 1 too.
EXIT_STATUSES = {"failed": 1, "held": resync.EXIT_HELD, "incomplete": pull.EXIT_INCOMPLETE}


def default_database() -> Path:
    """data/bloomz.duckdb under MELTANO_PROJECT_ROOT, else under the working directory."""
    return Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()) / "data" / "bloomz.duckdb"


class TargetBloomz(Target):
    """Stages, maps, plans and applies a roster to the Bloomz store."""

    name = "target-bloomz"
    package_name = "bloomz-sync"  # the one distribution that installs every executable
    default_sink_class = RosterSink
    message_reader_class = RosterReader  # spools roster records without the SDK's per-record path
    # Stream maps act (the SDK's record path takes over when they are set), and BATCH files are read from
    # batch_config.storage.root only (bloomz_sync/batches.py, ``confined``). The SDK's other target settings
    # (load_method, batch_size_rows, add_record_metadata, validate_records, flattening) would do nothing
    # here: a run is one plan applied in one transaction, and records are checked set-based in staging.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
    ]
    config_jsonschema = th.PropertiesList(
        th.Property(
            "database",
            th.StringType,
            title="Bloomz store",
            description="The Bloomz store (DuckDB file); default data/bloomz.duckdb in the Meltano project.",
        ),
        th.Property(
            "mapping",
            th.StringType,
            title="Mapping file",
            description="Mapping file of the district (YAML). Default: the packaged default of `source`, "
            "else of the source the pull comes from. A pull of another source is refused.",
        ),
        th.Property(
            "source",
            th.StringType,
            allowed_values=["clever", "oneroster"],
            title="Source",
            description="Source whose default mapping to use when no mapping file is set. Default: the "
            "source the pull names (its started record). A pull of another source is refused.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            title="Dry run",
            description="Compute, print and save the plan; change nothing else in the store.",
        ),
        th.Property(
            "feed",
            th.StringType,
            title="Feed",
            description="One feed per tap configuration (a district, or a school scope): the source mirror "
            "an incremental sync is merged into (docs/mirror.md). Default: <source>:<district> for "
            "districts/<district>/mapping.yml, else <source>:<mapping file stem>.",
        ),
        th.Property(
            "apply_incomplete_pulls",
            th.BooleanType,
            default=False,
            title="Apply incomplete pulls",
            description="Apply the adds and updates of a pull that was cut short or had rows the tap could "
            "not read; never its removals. The run's status is then Incomplete (exit status 4), never "
            "Completed. Off: such a run fails and changes nothing.",
        ),
        th.Property(
            "memory_limit",
            th.StringType,
            default="512MB",
            title="Memory limit",
            description="DuckDB memory limit for an import; beyond it DuckDB spills to a temp folder.",
        ),
        *_OPTION_SETTINGS.wrapped.values(),
        # People: where invitations and status e-mails go (outbox/settings.py), and the sign-up link.
        *OUTBOX_SETTINGS,
        th.Property(
            "signup_url",
            th.StringType,
            default=DEFAULT_SIGNUP_URL,
            title="Sign-up URL",
            description="The sign-up link invitations carry.",
        ),
    ).to_dict()

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Only the SDK settings of ``capabilities`` (stream maps, batch_config), none of Target's own."""
        super(Target, cls).append_builtin_config(config_jsonschema)
        config_jsonschema["properties"].setdefault("batch_config", BATCH_CONFIG["properties"]["batch_config"])

    @classmethod
    def get_singer_command(cls) -> click.Command:
        # An expected failure (bad input, a bad mapping, a refusal) ends with one line, not a traceback.
        return executables.singer_command(super().get_singer_command(), cls.logger)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The mapping is loaded before any input is read: a broken file fails before data moves.
        self.mapping = self._load_mapping()
        # Outbox settings are checked too (a password sent in clear) before any input is read.
        self.delivery = self._delivery_settings()
        # The spools hold personal data: in a private folder (a killed run's is swept by the next one), and
        # gone at exit even when reading input failed half-way.
        self.spool_dir = private.new_spool("target-bloomz")
        weakref.finalize(self, shutil.rmtree, self.spool_dir, ignore_errors=True)
        self.spools = Spools(self.spool_dir)
        # Phases, records and rate as the import goes (a bar on a terminal, a line every 10 s in a log).
        self.progress = Progress()
        if isinstance(self.message_reader, RosterReader):
            self.message_reader.spool_records(self._spool_for_records)
            self.message_reader.report_progress(self.progress)
        self.complete_streams: set[str] = set()
        self._held_state: dict | None = None
        self._locks = locks.Held()

    @property
    def mapping_named(self) -> bool:
        """Whether the admin chose the mapping (a file or a source); else the pulled source's default."""
        return bool(self.config.get("mapping") or self.config.get("source"))

    def _load_mapping(self, source: str | None = None) -> Mapping:
        path = self.config.get("mapping")
        source = self.config.get("source") or source
        mapping = load_mapping(path, source=source if path or source else "clever")
        # A template that fails on a sample record fails on every record: refused now, as `mapping validate`
        # refuses it, instead of setting every section aside.
        problems = mapping_check.check_templates(mapping).problems
        if problems:
            raise MappingError("\n".join(problems))
        return mapping.with_options(**{name: self.config.get(name) for name in OPTION_NAMES})

    @property
    def pull_input(self) -> pull.PullInput:
        """The pull records the input carried (reader.py)."""
        reader = self.message_reader
        return reader.pull if isinstance(reader, RosterReader) else pull.PullInput()

    @property
    def database(self) -> Path:
        """The store this target writes to."""
        return Path(self.config.get("database") or default_database())

    def _delivery_settings(self) -> DeliverySettings:
        """Outbox delivery; the default folder is output/outbox in the Meltano project."""
        root = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd())
        folder = self.config.get("outbox_dir") or str(root / DEFAULT_FOLDER)
        return DeliverySettings.from_config({**self.config, "outbox_dir": folder})

    def _spool_for_records(self, stream: str) -> BinaryIO | None:
        """Where the reader appends a stream's records as they came: a roster stream whose SCHEMA came,
        when no stream map or flattening could change records (then the SDK's path takes them)."""
        if self.config.get("stream_maps") or self.config.get("flattening_enabled"):
            return None
        if stream not in contract.STREAMS or not self.sink_exists(stream):
            return None  # the SDK's errors stand: a record before its schema, a missing key
        return self.spools.file(stream)

    @property
    def versioned_streams(self) -> set[str]:
        """Streams a full pull started (closed or cut short): their RECORD or BATCH messages had a version."""
        reader = self.message_reader
        return reader.versioned if isinstance(reader, RosterReader) else set()

    def _process_batch_message(self, message_dict: dict) -> None:
        # Only the encoding fields the BATCH extension defines: singer-sdk fails on any other one.
        encoding = message_dict["encoding"]
        known = {"format": encoding["format"], "compression": encoding.get("compression")}
        super()._process_batch_message({**message_dict, "encoding": known})

    def mark_complete(self, stream: str, version: int) -> None:
        """ACTIVATE_VERSION: the tap sent the stream whole."""
        self.logger.info("Stream %s pulled complete (version %s)", stream, version)
        self.complete_streams.add(stream)

    def _write_state_message(self, state: dict) -> None:
        """Hold STATE back: it is emitted only once the run's apply has committed."""
        self._held_state = state

    def process_endofpipe(self) -> None:
        """Drain the sinks, then stage, plan and apply; emit the held STATE only after the commit of a
        complete pull.

        A refused or failed run exits 1, a held one EXIT_HELD and an incomplete one EXIT_INCOMPLETE
        (docs/resync.md), each after one line saying so.
        """
        try:
            self._end_of_input()
        finally:
            self.progress.stop()

    def _end_of_input(self) -> None:
        self._count_spooled_records()
        super().process_endofpipe()
        self.spools.close()
        if not self.pull_input.began:
            self._nothing_to_import()
            return
        started = self.pull_input.started or {}
        if not self.mapping_named and started.get("source") not in (None, self.mapping.source):
            self.mapping = self._load_mapping(started["source"])  # the pulled source's default mapping
        scopes: list[str] = []
        try:
            # re-sync (issue 7): one import per school community at a time, a delta's too
            scopes = resync.scopes(self.mapping, self.spool_dir, self.database, self.feed)
            with locks.hold(self.database, scopes, resync.holder()) as self._locks:
                outcome = self._import(scopes)
        except locks.SyncInProgress as err:
            resync.refuse(
                self.database, resync.refusal(self.mapping, scopes, str(err)), self._people_after_run
            )
            raise SystemExit(1) from None
        except guard.SyncRefused:
            raise SystemExit(1) from None  # recorded and said by _import
        except locks.LockLost as err:
            print(f"Failed: {err}", file=sys.stderr, flush=True)  # the run is recorded failed
            raise SystemExit(1) from None
        finally:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
            resync.record_refusals_when_free(self.database, self._people_after_run)  # refused meanwhile
        if outcome in EXIT_STATUSES:
            raise SystemExit(EXIT_STATUSES[outcome])
        if outcome == "applied" and self._held_state is not None:
            super()._write_state_message(self._held_state)

    def _nothing_to_import(self) -> None:
        """No pull and no roster stream: no run is recorded, and its STATE passes (nothing rides on it)."""
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.logger.warning(
            "Nothing to import: the input has no pull and no roster stream (target-bloomz imports what "
            "tap-clever and tap-oneroster send); no run was recorded."
        )
        if self._held_state is not None:
            super()._write_state_message(self._held_state)

    def _count_spooled_records(self) -> None:
        """Give each sink the records the reader spooled for it: the SDK's record counts and metrics."""
        if isinstance(self.message_reader, RosterReader):
            for stream, count in self.message_reader.spooled.items():
                sink = self.get_sink(stream)
                sink.tally_record_read(count)
                sink.record_counter_metric.increment(count)

    def _import(self, scopes: list[str]) -> str:
        """Run the import; return how it ended: applied, dry_run, held, failed (a pull not complete, not
        applied) or incomplete (its adds and updates applied). Meltano's state moves only when applied."""
        dry_run = bool(self.config.get("dry_run"))
        con = resync.open_store(self.database, wait=resync.STORE_WAIT_SECONDS)
        resync.record_refusals(con, self.database, self._people_after_run)  # left by a refused import
        # Bounded memory at any district size: DuckDB spills staging and plan tables to disk.
        limit = str(self.config.get("memory_limit") or "512MB").replace("'", "")
        con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET temp_directory = '{self.spool_dir / 'duckdb-tmp'}'")
        run_id: int | None = None
        try:
            with self._phase("stage"):
                received = stage.stage(con, self.spool_dir)
                self.progress.staged_records(sum(received.values()))
                verdict = pull.judge(self.pull_input, received, self.complete_streams)
                try:
                    sources.check_mapping(verdict, self.mapping, named=self.mapping_named)
                except guard.SyncRefused as err:  # before the mirror takes anything of the pull
                    run_id = resync.record_refused(con, self.mapping, str(err), scope=scopes)
                    raise
                # Only staging needs input order (the last record of a key wins); later steps order
                # explicitly, and unordered writes let DuckDB stream and spill in less memory.
                con.execute("SET preserve_insertion_order = false")
                mirror.keep_not_provided(con, self.feed, verdict.kept_fields)
                # source mirror: plan from the feed's whole picture, and check references against it
                pulled_complete = self.complete_streams - verdict.lost_streams
                merged = mirror.merge(con, self.feed, pulled_complete, self.versioned_streams)
                stage.check_references(con, self.mapping.source)
            with self._phase("map"):
                map_step.run(con, self.mapping)
            try:
                sources.check_store(con, verdict, self.mapping, self.feed)
                guard.check_first_import(con, self.mapping)  # re-sync: autosync needs a first import
            except guard.SyncRefused as err:
                run_id = resync.record_refused(con, self.mapping, str(err))
                raise
            run_id = runs.start(
                con,
                self.mapping,
                dry_run=dry_run,
                complete_streams=merged.complete,  # complete in the mirror after the merge
                record_counts=received,
                singer_state=self._held_state,
                signup_url=self.signup_url,
            )
            pull.record(con, run_id, verdict)
            accounting.keep_left_out(con, verdict.left_out)  # the plan names them (issue 18)
            resync.after_start(con, run_id, self._locks.taken_over, merged)
            for stream, n in stage.other_streams(self.spool_dir).items():
                runs.add_issue(
                    con,
                    run_id,
                    "warning",
                    stream,
                    None,
                    f"not a standard roster stream: {n} records not imported",
                )
            applies_incomplete = bool(self.config.get("apply_incomplete_pulls"))
            if not verdict.complete and not dry_run and not applies_incomplete:
                runs.finish(con, run_id, "failed", reason=verdict.failed_status())
                print(f"Run {run_id} failed: {verdict.failed_status()}.", file=sys.stderr, flush=True)
                return "failed"
            if not verdict.complete:
                pull.adds_and_updates_only(con, self.mapping.source, run_id)
            try:
                with self._phase("plan"):
                    summary = plan.build(con, self.mapping, run_id)
                runs.save_counts(con, run_id, summary.counts)
                self._report(con, run_id, summary, dry_run=dry_run, verdict=verdict)
                if dry_run:
                    runs.finish(con, run_id, "dry_run")
                    return "dry_run"
                if not verdict.complete:
                    pull.check_no_removals(con, run_id)
                if resync.hold_if_over_limits(con, self.database, self.mapping, run_id):
                    return "held"  # nothing applied, STATE kept in runs.singer_state only
                with self._phase("apply"):
                    apply.apply(
                        con,
                        run_id,
                        self.mapping.source,
                        before_commit=self._in_apply(run_id, verdict),
                        still_ours=self._locks.check,  # no import took the schools over while this one hung
                    )
            except Exception as err:
                runs.finish(con, run_id, "failed", error=f"nothing was applied: {type(err).__name__}: {err}")
                raise
            if not verdict.complete:
                print(f"Run {run_id} incomplete: {verdict.incomplete_status()}.", file=sys.stderr, flush=True)
                return "incomplete"  # its state stays: the next run reads the same changes again
            self.logger.info("Run %s applied to %s", run_id, self.database)
            return "applied"
        finally:
            if run_id is not None and not dry_run:  # a dry run queues and delivers nothing
                self._people_after_run(con, run_id)
            con.close()

    @property
    def feed(self) -> str:
        """The source mirror this run merges into (docs/mirror.md)."""
        return str(self.config.get("feed") or mirror.default_feed(self.mapping))

    @property
    def signup_url(self) -> str:
        """The sign-up link invitations carry."""
        return str(self.config.get("signup_url") or DEFAULT_SIGNUP_URL)

    def _in_apply(self, run_id: int, verdict: pull.Verdict) -> Any:
        signup_url = self.signup_url

        def in_apply(con: Any) -> None:
            map_step.save_contact_checks(con)
            sources.link(con, run_id, verdict, self.mapping, self.feed)
            if not verdict.complete:  # before the status e-mails are written (people_steps)
                reason = verdict.incomplete_status()
                con.execute("UPDATE runs SET status_reason = ? WHERE id = ?", [reason, run_id])
            people_steps.in_apply(
                con, run_id, self.mapping, signup_url=signup_url, family_codes=verdict.complete
            )

        return in_apply

    def _people_after_run(self, con: Any, run_id: int) -> None:
        """Status e-mails and delivery; a channel that is down leaves rows pending, never fails the run."""
        try:
            report = people_steps.after_run(con, run_id, self.delivery)
        except Exception as err:  # the run's own outcome stands; the outbox keeps what was queued
            # The class only: an error's text can carry addresses (an SMTP server's refusal names them).
            self.logger.error("Outbox of run %s not delivered: %s", run_id, type(err).__name__)
            return
        print(f"Outbox: {report}", file=sys.stderr, flush=True)
        for warning in notify.no_recipient_warnings(con, run_id):
            print(f"Run {run_id}: warning: {warning}", file=sys.stderr, flush=True)

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Show the phase as it starts; log how long it took (the bench scripts read these lines)."""
        started = time.perf_counter()
        with self.progress.phase(name):
            yield
        self.logger.info("phase %s: %.2f s", name, time.perf_counter() - started)

    def _report(
        self, con: Any, run_id: int, summary: plan.PlanSummary, *, dry_run: bool, verdict: pull.Verdict
    ) -> None:
        errors, warnings = con.execute(
            "SELECT count(*) FILTER (severity = 'error'), count(*) FILTER (severity = 'warning') "
            "FROM run_issues WHERE run_id = ?",
            [run_id],
        ).fetchone()
        lines = [
            f"Run {run_id}{' (dry run: nothing applied)' if dry_run else ''}: plan for {self.database}",
            runs.summary_table(summary.counts),
            f"{errors} records set aside, {warnings} warnings (bloomz-sync plan {run_id} shows them).",
        ]
        if not verdict.complete:
            lines.append(f"The pull was not complete: {verdict.cause}; this plan has no removals.")
        if dry_run:
            lines.append(
                runs.contact_values_table(runs.contact_field_values(con, self.mapping), self.mapping)
            )
        print("\n".join(lines), file=sys.stderr, flush=True)


def main() -> None:
    """The target-bloomz command: the SDK's command line, then a quick exit (``end_process``)."""
    try:
        TargetBloomz.cli()
    except SystemExit as done:
        end_process(done.code)
    end_process(0)


def end_process(code: object) -> NoReturn:
    """End the process once the run is over, without tearing the interpreter down.

    Freeing every module and object one by one at exit costs about 0.3 CPU seconds, a fifth of an empty
    run, and frees nothing the operating system does not free anyway. The exit handlers still run (logs
    flushed, spool folders removed: ``atexit``, ``weakref.finalize``), then the streams are flushed.
    """
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # as sys.exit prints a message it is given
        code = 1
    atexit._run_exitfuncs()  # what the interpreter would run at exit
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
            stream.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
