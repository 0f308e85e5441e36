"""target-bloomz: the standard roster streams into the Bloomz store.

A thin Singer adapter, as MeltanoLabs/target-postgres is: records are spooled per stream while the tap runs
(input/reader.py, input/sinks.py); at the end of input the import pipeline (pipeline/import_pipeline.py)
stages, maps, plans, guards and applies them in one transaction. Singer STATE is held back until that
transaction commits, so Meltano's bookmark never runs ahead of the store.

A run that did not complete exits non-zero (docs/resync.md "Exit status"): 1 when it failed or was
refused, 3 when it is held for approval, 4 when an incomplete pull's adds and updates were applied.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, NoReturn

import click
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import BATCH_CONFIG, PluginCapabilities

from plugin_runtime import executables, private
from roster_streams import contract
from target_bloomz.input.pull_input import PullInput
from target_bloomz.input.reader import RosterReader
from target_bloomz.input.sinks import RosterSink, Spools
from target_bloomz.mapping import Mapping, MappingError, check, load_mapping
from target_bloomz.outbox import CONFIG_PROPERTIES as OUTBOX_SETTINGS
from target_bloomz.outbox import DeliverySettings
from target_bloomz.outbox.invitations import DEFAULT_SIGNUP_URL
from target_bloomz.outbox.settings import DEFAULT_FOLDER
from target_bloomz.pipeline.import_pipeline import ImportPipeline, Received, RunSettings
from target_bloomz.progress import Progress
from target_bloomz.settings import OPTION_NAMES, OPTION_SETTINGS, default_database
from target_bloomz.stage import mirror

if TYPE_CHECKING:
    from singer_sdk.helpers.capabilities import CapabilitiesEnum


class TargetBloomz(Target):
    """Stages, maps, plans and applies a roster to the Bloomz store."""

    name = "target-bloomz"
    package_name = "bloomz-sync"  # the one distribution that installs every executable
    default_sink_class = RosterSink
    message_reader_class = RosterReader  # spools roster records without the SDK's per-record path
    # Stream maps act (the SDK's record path takes over when they are set), and BATCH files are read from
    # batch_config.storage.root only (roster_streams/batches.py, ``confined``). The SDK's other target
    # settings
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
        *OPTION_SETTINGS.wrapped.values(),
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
        problems = check.check_templates(mapping).problems
        if problems:
            raise MappingError("\n".join(problems))
        return mapping.with_options(**{name: self.config.get(name) for name in OPTION_NAMES})

    @property
    def pull_input(self) -> PullInput:
        """The pull records the input carried (input/reader.py)."""
        reader = self.message_reader
        return reader.pull if isinstance(reader, RosterReader) else PullInput()

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
        try:
            outcome = ImportPipeline(self.mapping, self._run_settings(), progress=self.progress).run(
                Received(
                    spool_dir=self.spool_dir,
                    pull=self.pull_input,
                    complete_streams=frozenset(self.complete_streams),
                    versioned_streams=frozenset(self.versioned_streams),
                    singer_state=self._held_state,
                )
            )
        finally:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
        if outcome.exit_status:
            raise SystemExit(outcome.exit_status)
        if outcome.status == "applied" and self._held_state is not None:
            super()._write_state_message(self._held_state)

    def _run_settings(self) -> RunSettings:
        return RunSettings(
            database=self.database,
            feed=self.feed,
            dry_run=bool(self.config.get("dry_run")),
            apply_incomplete_pulls=bool(self.config.get("apply_incomplete_pulls")),
            memory_limit=str(self.config.get("memory_limit") or "512MB"),
            signup_url=str(self.config.get("signup_url") or DEFAULT_SIGNUP_URL),
            mapping_named=self.mapping_named,
            delivery=self.delivery,
        )

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

    @property
    def feed(self) -> str:
        """The source mirror this run merges into (docs/mirror.md)."""
        return str(self.config.get("feed") or mirror.default_feed(self.mapping))


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
