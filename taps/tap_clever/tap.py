"""tap-clever: Clever Data API v3 as the standard roster streams."""

from __future__ import annotations

import gc
from typing import Any

import click
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from plugin_runtime import executables, network, unreachable
from roster_streams.pull import PullTap, has_bookmarks
from tap_clever import connection
from tap_clever.client import CleverStream
from tap_clever.shared import Shared
from tap_clever.streams import STREAM_TYPES


class TapClever(PullTap):
    """Reads a district's roster from Clever."""

    name = "tap-clever"
    source_kind = "clever"
    package_name = "bloomz-sync"  # the one distribution that installs every executable
    # msgspec writes Singer messages several times faster than the json module (millions of records).
    message_writer_class = MsgSpecWriter
    config_jsonschema = th.PropertiesList(
        th.Property(
            "district_token",
            th.StringType,
            secret=True,
            title="District Auth Token",
            description="The district's Clever auth token (the seed's 'District Auth Token').",
        ),
        th.Property(
            "client_id",
            th.StringType,
            title="Client ID",
            description="The Clever app's client id, to look the district token up instead of pasting it.",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            title="Client secret",
            description="The Clever app's client secret.",
        ),
        th.Property(
            "district_id",
            th.StringType,
            title="District ID",
            description="The Clever district id whose token to look up.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.clever.com",
            title="API URL",
            description="Clever API root; data calls go to {api_url}/v3.0/...",
        ),
        th.Property(
            "oauth_tokens_url",
            th.StringType,
            default="https://clever.com/oauth/tokens",
            title="Token listing URL",
            description="Clever's district token listing (used with client_id and client_secret).",
        ),
        th.Property(
            "schools",
            th.ArrayType(th.StringType),
            default=[],
            title="Schools",
            description="Clever ids of the schools to sync; empty syncs every school of the district.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=10000),
            default=10000,
            title="Page size",
            description="Records per Clever request (Clever allows at most 10000).",
        ),
        th.Property(
            "incremental",
            th.BooleanType,
            default=False,
            title="Incremental",
            description="Sync through Clever's Events API after the first full sync (falls back to a full "
            "sync when events are unavailable or the bookmark is over 30 days old).",
        ),
        th.Property(
            "admin_email",
            th.StringType,
            title="Admin e-mail",
            description="E-mail of the Bloomz admin linking the school: must be a Clever district admin, or "
            "staff of every selected school, for a school-level import.",
        ),
    ).to_dict()

    @property
    def clever_streams(self) -> dict[str, CleverStream]:
        return {name: s for name, s in self.streams.items() if isinstance(s, CleverStream)}

    def discover_streams(self) -> list[CleverStream]:
        # The district token goes to api_url, the app's secret to oauth_tokens_url: never in clear.
        network.require_tls("api_url", self.config.get("api_url"), "the district token")
        if self.config.get("client_secret"):
            network.require_tls("oauth_tokens_url", self.config.get("oauth_tokens_url"), "the client secret")
        if not hasattr(self, "shared"):
            self.shared = Shared(dict(self.config))
        return [stream_type(tap=self, shared=self.shared) for stream_type in STREAM_TYPES]

    def pull_tenant(self) -> str | None:
        """The Clever district the token reads (a district token sees exactly one)."""
        districts = self.clever_streams["schools"].fetch("districts", {})
        return ",".join(sorted(str(d["id"]) for d in districts)) or self.config.get("district_id")

    def pull_mode(self) -> str:
        incremental = self.config.get("incremental") and has_bookmarks(self.state, "last_event_id")
        return "incremental" if incremental else "full"

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        # Off for the run: records and decoded pages are dicts and lists without cycles, freed by reference
        # counting once written, and the cyclic collector re-walking every live page took over half of the
        # tap's CPU on the large district (bench/README.md, "tap-clever").
        gc.disable()
        super().invoke(*args, **kwargs)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        # An expected failure (settings, sharing, the source) ends with one line, not a traceback.
        return executables.singer_command(super().get_singer_command(), cls.logger)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: a short report (the district, its schools with their counts, what is shared and what
        is not) instead of the SDK's sync of one record per stream; a server it cannot reach fails at once."""
        if value != "all":
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        tap = cls(
            config=config.config if config else None, parse_env_config=bool(config and config.parse_env)
        )
        unreachable.quiet_logs(cls.name)
        tap.shared.testing_connection = True
        with executables.connection_test(ctx):  # the admin linking a district needs the reason
            report = connection.check(tap)
        click.echo(report.text(), err=True)
        ctx.exit(0 if report.ok else 1)


if __name__ == "__main__":
    TapClever.cli()
