"""tap-oneroster: OneRoster 1.1/1.2 REST and CSV bundles as the standard roster streams."""

from __future__ import annotations

import contextlib
import shutil
import weakref
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.tap_base import CliTestOptionValue

from plugin_runtime import executables, failures, network, private, unreachable
from roster_streams import contract
from roster_streams.pull import PullTap, has_bookmarks
from tap_oneroster import connection
from tap_oneroster.auth import build_authenticator
from tap_oneroster.client import RestSource
from tap_oneroster.columns import MissingColumns
from tap_oneroster.csv_source import CsvSource
from tap_oneroster.records import ROLES, Roster
from tap_oneroster.streams import STREAM_TYPES, RosterStream
from tap_oneroster.tables import Collections


class TapOneRoster(PullTap):
    """Reads a district's roster from a OneRoster server or CSV bundle."""

    name = "tap-oneroster"
    source_kind = "oneroster"
    package_name = "bloomz-sync"  # the one distribution that installs every executable
    # msgspec writes Singer messages several times faster than the json module (millions of records).
    message_writer_class = MsgSpecWriter
    config_jsonschema = th.PropertiesList(
        th.Property(
            "base_url",
            th.StringType,
            title="Server URL",
            description="The OneRoster server, without the API path (Skyward: the server part of the "
            "OneRoster API URL). Not needed with csv_path.",
        ),
        th.Property(
            "api_path",
            th.StringType,
            title="API path",
            description="Path of the OneRoster API on the server; empty when base_url is the whole API URL. "
            "Default: the standard path of `version` (/ims/oneroster/v1p1 or /ims/oneroster/rostering/v1p2).",
        ),
        th.Property(
            "version",
            th.StringType,
            default="1.1",
            allowed_values=["1.1", "1.2"],
            title="OneRoster version",
            description="1.1 or 1.2.",
        ),
        th.Property(
            "auth",
            th.StringType,
            default="oauth2",
            allowed_values=["oauth2", "oauth1", "bearer"],
            title="Authentication",
            description="oauth2 (client credentials at token_url), oauth1 (OAuth 1.0a HMAC-SHA256 request "
            "signing) or bearer (a fixed access_token).",
        ),
        th.Property("client_id", th.StringType, title="Client ID", description="The API client id."),
        th.Property(
            "client_secret", th.StringType, secret=True, title="Secret Key", description="The API secret."
        ),
        th.Property(
            "token_url",
            th.StringType,
            title="Authentication URL",
            description="OAuth 2 token endpoint (Skyward: the Authentication URL). Needed with auth oauth2.",
        ),
        th.Property(
            "scopes", th.StringType, title="Scopes", description="OAuth 2 scopes, space-separated (optional)."
        ),
        th.Property(
            "access_token", th.StringType, secret=True, title="Access token", description="For auth bearer."
        ),
        th.Property(
            "schools",
            th.ArrayType(th.StringType),
            default=[],
            title="Schools",
            description="sourcedIds of the schools to import; empty means every school the credentials see.",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=100,
            title="Page size",
            description="`limit` asked per request; servers may send fewer, which the tap handles.",
        ),
        th.Property(
            "csv_path",
            th.StringType,
            title="CSV bundle",
            description="A OneRoster CSV bundle (zip or folder) to read instead of the API.",
        ),
        th.Property(
            "incremental",
            th.BooleanType,
            default=False,
            title="Incremental",
            description="Read only what changed since the last run (filter on dateLastModified).",
        ),
        th.Property(
            "max_tries",
            th.IntegerType,
            default=6,
            title="Tries per request",
            description="How often a request is tried on 429, 5xx or a broken connection before failing.",
        ),
        th.Property(
            "backoff_factor",
            th.NumberType,
            default=1,
            title="Backoff factor",
            description="Seconds of the first wait between tries; each next wait doubles (at most 60 s).",
        ),
        th.Property(
            "date_order",
            th.StringType,
            default="auto",
            allowed_values=["auto", "month_first", "day_first"],
            title="Date order",
            description="How to read dates such as 1/05/2023: auto (from the file's own dates, month first "
            "when none says), month_first or day_first.",
        ),
        th.Property(
            "demographics",
            th.ArrayType(th.StringType),
            default=[],
            title="Demographics fields",
            description="Fields of demographics (birthDate, sex, ...) each student's extra carries as "
            "extra.demographics; none by default (personal data Bloomz does not need).",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            title="Emit ACTIVATE_VERSION",
            description="End each fully read stream with ACTIVATE_VERSION, telling the target it is whole.",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._roster: Roster | None = None
        self._reported = 0
        # `--test`: a connection that cannot be made fails at once (plugin_runtime.unreachable)
        self.testing_connection = False

    @cached_property
    def collections(self) -> Collections:
        """The run's OneRoster collections: the CSV bundle when csv_path is set, else the API."""
        source: CsvSource | RestSource
        if self.config.get("csv_path"):
            source = CsvSource(self.config["csv_path"], self.workdir)
        elif self.config.get("base_url"):
            # The access token (or signed requests) and the roster travel to base_url, the secret to
            # token_url.
            network.require_tls("base_url", self.config["base_url"], "the credentials")
            if self.config.get("auth", "oauth2") == "oauth2":
                network.require_tls("token_url", self.config.get("token_url"), "the client secret")
            # A connection test asks for the token once: an unreachable token endpoint fails at once.
            tries = {"max_tries": 1} if self.testing_connection else {}
            source = RestSource(self, build_authenticator({**self.config, **tries}))
        else:
            raise failures.BadSetting("set base_url (the OneRoster server URL) or csv_path (a CSV bundle)")
        return Collections(source, date_order=self.config.get("date_order", "auto"), workdir=self.workdir)

    @cached_property
    def workdir(self) -> Path:
        """Where the run's roster data rests (a zip's files, REST pages, DuckDB's spill files): a private
        spool folder (plugin_runtime/private.py), removed when the tap is done with it or the process ends,
        or by the next run when this one was killed."""
        folder = private.new_spool("tap-oneroster")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        return folder

    def close(self) -> None:
        """Close the run's DuckDB and remove its spool folder (the run's data at rest)."""
        if "collections" in self.__dict__:
            self.collections.con.close()
        if "workdir" in self.__dict__:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def roster(self) -> Roster:
        """The run's record queries (the same run-wide tables for every stream)."""
        if self._roster is None:
            self._roster = Roster(
                self.collections,
                list(self.config.get("schools") or []),
                now_utc(),
                tuple(self.config.get("demographics") or ()),
            )
            with contextlib.suppress(MissingColumns):  # the streams built from users say so
                self._name_users_without_a_role(self._roster)
        self.report_problems()
        return self._roster

    def _name_users_without_a_role(self, roster: Roster) -> None:
        """Users no stream carries: each to the pull's account (the run's issues name them by id)."""
        left_out = roster.users_without_a_role()
        for user in left_out:
            self.report_left_out(user)
        if left_out:
            known = ", ".join(name for name, _, _ in ROLES.values())
            self.logger.warning(
                "%d users not imported: they have no role tap-oneroster imports (%s)", len(left_out), known
            )

    def report_problems(self) -> None:
        """What could not be read, once each: a row left out goes to the pull's account (``PullTap``: logged
        with file, line and reason, never the row's content); anything else (a value read without) a logged
        warning."""
        problems = self.collections.problems
        for problem in problems[self._reported :]:
            if problem.severity == "error":
                # 1.2 roles.csv gives users their roles and schools: a bad row of it is a user missed.
                collection = "users" if problem.collection == "roles" else problem.collection
                reason = f"malformed row skipped: {problem.reason}"
                self.report_unreadable(collection, problem.where, reason, problem.record_id)
            else:
                self.logger.warning("warning: %s", problem)
        self._reported = len(problems)
        for stream, fields, why in self.collections.not_provided:
            self.report_not_provided(stream, fields, why)

    def discover_streams(self) -> list[RosterStream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def pull_tenant(self) -> str | None:
        """The district org(s) the source lists; without one, the server (a CSV bundle then says nothing)."""
        try:
            orgs = self.collections.table("orgs")
        except MissingColumns:  # reported by the streams built from orgs
            return self.config.get("base_url") or None
        found = self.collections.con.execute(
            f'SELECT string_agg(DISTINCT "sourcedId", \',\' ORDER BY "sourcedId") FROM {orgs} '
            "WHERE lower(trim(type)) = 'district'"
        ).fetchone()
        return (found[0] if found else None) or self.config.get("base_url") or None

    def pull_mode(self) -> str:
        incremental = self.config.get("incremental") and has_bookmarks(self.state, "replication_key_value")
        return "incremental" if incremental else "full"

    def streams_reading(self, name: str) -> tuple[str, ...]:
        """A roster stream, or the streams built from a OneRoster collection (sections also read courses)."""
        if name in contract.STREAMS:
            return (name,)
        readers = [
            s.name for s in self.streams.values() if isinstance(s, RosterStream) and name in s.collections
        ]
        return (*readers, "sections") if name == "courses" else tuple(readers)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        # An expected failure (settings, the server, the bundle) ends with one line, not a traceback.
        return executables.singer_command(super().get_singer_command(), cls.logger)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: a short report (the district, its schools with their counts, what the credentials may
        read and what not) instead of the SDK's sync; a server it cannot reach fails at once."""
        if value in (CliTestOptionValue.Disabled.value, CliTestOptionValue.Schema.value):
            super().cb_test(ctx, param, value)
            return
        config = ctx.params["config"]
        tap = cls(config=config.config, parse_env_config=config.parse_env)
        unreachable.quiet_logs(cls.name)
        tap.testing_connection = True
        try:
            with executables.connection_test(ctx):  # the admin linking a district needs the reason
                report = connection.check(tap)
        finally:
            tap.close()
        click.echo(report.text(), err=True)
        ctx.exit()


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


if __name__ == "__main__":
    TapOneRoster.cli()
