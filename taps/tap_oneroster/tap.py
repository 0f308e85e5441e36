"""tap-oneroster: OneRoster 1.1/1.2 REST and CSV bundles as the standard roster streams."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.tap_base import CliTestOptionValue

from bloomz_sync import unreachable
from tap_oneroster import connection
from tap_oneroster.auth import build_authenticator
from tap_oneroster.client import RestSource
from tap_oneroster.csv_source import BundleError, CsvSource
from tap_oneroster.records import Roster
from tap_oneroster.streams import STREAM_TYPES, RosterStream
from tap_oneroster.tables import Collections


class TapOneRoster(Tap):
    """Reads a district's roster from a OneRoster server or CSV bundle."""

    name = "tap-oneroster"
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
        # Roster data at rest (a zip's files, the run's DuckDB): only this process reads it, gone at exit.
        self._workdir = tempfile.TemporaryDirectory(prefix="tap-oneroster-")
        self._roster: Roster | None = None
        self._reported = 0
        # `--test`: a connection that cannot be made fails at once (bloomz_sync.unreachable)
        self.testing_connection = False

    @cached_property
    def collections(self) -> Collections:
        """The run's OneRoster collections: the CSV bundle when csv_path is set, else the API."""
        workdir = Path(self._workdir.name)
        source: CsvSource | RestSource
        if self.config.get("csv_path"):
            source = CsvSource(self.config["csv_path"], workdir)
        elif self.config.get("base_url"):
            # A connection test asks for the token once: an unreachable token endpoint fails at once.
            tries = {"max_tries": 1} if self.testing_connection else {}
            source = RestSource(self, build_authenticator({**self.config, **tries}))
        else:
            raise ValueError("set base_url (the OneRoster server URL) or csv_path (a CSV bundle)")
        return Collections(source, date_order=self.config.get("date_order", "auto"), workdir=workdir)

    def roster(self) -> Roster:
        """The run's record queries (the same run-wide tables for every stream)."""
        if self._roster is None:
            self._roster = Roster(
                self.collections,
                list(self.config.get("schools") or []),
                now_utc(),
                tuple(self.config.get("demographics") or ()),
            )
            self.collections.problems += self._roster.users_without_a_role()
        self.report_problems()
        return self._roster

    def report_problems(self) -> None:
        """Log what could not be read, once each: file, line and reason (never the row's content)."""
        problems = self.collections.problems
        for problem in problems[self._reported :]:
            log = self.logger.error if problem.severity == "error" else self.logger.warning
            log("%s %s", "unreadable row:" if problem.severity == "error" else "warning:", problem)
        self._reported = len(problems)

    def discover_streams(self) -> list[RosterStream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        # The message names what failed and what to check; a traceback around it would bury it.
        try:
            super().invoke(*args, **kwargs)
        except (FatalAPIError, BundleError, ValueError) as exc:
            cls.logger.error("tap-oneroster stopped: %s", exc)
            sys.exit(1)
        except RetriableAPIError as exc:
            cls.logger.error(
                "tap-oneroster stopped: %s, and kept failing after retries; run again later.", exc
            )
            sys.exit(1)
        except requests.RequestException as exc:
            cls.logger.error(
                "tap-oneroster stopped: could not reach the OneRoster server (%s); check base_url.",
                type(exc).__name__,
            )
            sys.exit(1)

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
            report = connection.check(tap)
        except (FatalAPIError, RetriableAPIError, BundleError, ValueError) as exc:
            # The admin linking a district needs the reason, not a traceback.
            click.echo(f"Connection test failed: {exc}", err=True)
            ctx.exit(1)
        click.echo(report.text(), err=True)
        ctx.exit()


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


if __name__ == "__main__":
    TapOneRoster.cli()
