"""tap-oneroster: OneRoster 1.1/1.2 REST and CSV bundles as the standard roster streams."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.tap_base import CliTestOptionValue

from bloomz_sync import contract, executables, failures, network, unreachable
from bloomz_sync.pull import PullTap, has_bookmarks
from tap_oneroster import connection, mapping
from tap_oneroster.auth import build_authenticator
from tap_oneroster.client import RestSource
from tap_oneroster.csv_source import CsvSource
from tap_oneroster.spool import Source, SpooledSource
from tap_oneroster.streams import STREAM_TYPES, RosterStream


@dataclass
class UserIndex:
    """What some streams need to know about every user, from one full read of the users."""

    #: contact id → its role (parent, guardian, relative)
    contact_roles: dict[str, str | None] = field(default_factory=dict)
    #: contacts whose own `agents` list their students
    contacts_listing_students: set[str] = field(default_factory=set)
    #: the students of the chosen schools (every student when no school is chosen)
    students: set[str] = field(default_factory=set)
    #: the contacts of those students; None when no school is chosen
    contacts_in_scope: set[str] | None = None

    def student_in_scope(self, student_id: str) -> bool:
        return student_id in self.students

    def fills_in_for(self, contact_id: str) -> bool:
        """True for a contact whose link only its student declares (the contact lists no students)."""
        return contact_id in self.contact_roles and contact_id not in self.contacts_listing_students


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
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            title="Emit ACTIVATE_VERSION",
            description="End each fully read stream with ACTIVATE_VERSION, telling the target it is whole.",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._primary_teachers: dict[str, str] | None = None
        self._user_index: UserIndex | None = None
        self._district_ids: frozenset[str] | None = None
        # `--test`: a connection that cannot be made fails at once (bloomz_sync.unreachable)
        self.testing_connection = False

    @cached_property
    def source(self) -> Source:
        """Where the OneRoster objects come from: the CSV bundle when csv_path is set, else the API."""
        if self.config.get("csv_path"):
            return CsvSource(self.config["csv_path"], reporter=self)
        if not self.config.get("base_url"):
            raise failures.BadSetting("set base_url (the OneRoster server URL) or csv_path (a CSV bundle)")
        # The access token (or signed requests) and the roster travel to base_url, the secret to token_url.
        network.require_tls("base_url", self.config["base_url"], "the credentials")
        if self.config.get("auth", "oauth2") == "oauth2":
            network.require_tls("token_url", self.config.get("token_url"), "the client secret")
        # A connection test asks for the token once: an unreachable token endpoint fails at once.
        tries = {"max_tries": 1} if self.testing_connection else {}
        return SpooledSource(RestSource(self, build_authenticator({**self.config, **tries})))

    def discover_streams(self) -> list[RosterStream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def pull_tenant(self) -> str | None:
        """The district org(s) the source lists; without one, the server (a CSV bundle then says nothing)."""
        districts = ",".join(sorted(self.district_ids()))
        return districts or self.config.get("base_url") or None

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
        with executables.connection_test(ctx):  # the admin linking a district needs the reason
            report = connection.check(tap)
        click.echo(report.text(), err=True)
        ctx.exit()

    # -- the chosen schools, and the lookups several streams share

    def school_in_scope(self, school_id: str) -> bool:
        chosen = self.config.get("schools") or []
        return not chosen or school_id in chosen

    def any_school_in_scope(self, school_ids: Sequence[str | None]) -> bool:
        chosen = self.config.get("schools") or []
        return not chosen or any(s in chosen for s in school_ids)

    def contact_in_scope(self, contact_id: str) -> bool:
        if not self.config.get("schools"):
            return True
        index = self.user_index()
        return index.contacts_in_scope is None or contact_id in index.contacts_in_scope

    def district_ids(self) -> frozenset[str]:
        """sourcedIds of the orgs of type district (a 1.1 administrator there is a district admin)."""
        if self._district_ids is None:
            orgs = self.source.read("orgs")
            self._district_ids = frozenset(o["sourcedId"] for o in orgs if o.get("type") == "district")
        return self._district_ids

    def primary_teachers(self) -> dict[str, str]:
        """class id → primary teacher id, from one read of every enrollment."""
        if self._primary_teachers is None:
            self._primary_teachers = mapping.primary_teachers(self.source.read("enrollments"))
        return self._primary_teachers

    def user_index(self) -> UserIndex:
        """One read of every user: contacts' roles, who lists whom, and who belongs to the chosen schools."""
        if self._user_index is not None:
            return self._user_index
        index = UserIndex()
        links: list[tuple[str, str]] = []  # kept only when schools are chosen, to find their contacts
        scoped = bool(self.config.get("schools"))
        for user in self.source.read("users"):
            kind = mapping.user_kind(user)
            if kind == "contacts":
                index.contact_roles[user["sourcedId"]] = mapping.contact_relationship(user)
                if user.get("agents"):
                    index.contacts_listing_students.add(user["sourcedId"])
            elif kind == "students" and self.any_school_in_scope(
                mapping.user_org_ids(user, mapping.STUDENT_ROLES)
            ):
                index.students.add(user["sourcedId"])
            if scoped:
                links.extend(mapping.iter_links(user))
        if scoped:
            index.contacts_in_scope = {c for s, c in links if s in index.students}
        self._user_index = index
        return index


if __name__ == "__main__":
    TapOneRoster.cli()
