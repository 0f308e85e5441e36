"""The standard roster streams, each one query of ``records.Roster`` over the run's OneRoster tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel

from roster_streams import batches, contract
from tap_oneroster.columns import MissingColumns
from tap_oneroster.records import Query, Roster

if TYPE_CHECKING:
    from tap_oneroster.tap import TapOneRoster

Record = dict[str, Any]
_decode = msgspec.json.Decoder(dict[str, Any]).decode
FETCH_ROWS = 10_000


class RosterStream(batches.BatchingStream):
    """A standard roster stream: its schema and keys come from the shared contract."""

    #: The OneRoster collections this stream's rows come from: a full sync closes the stream only when each
    #: was read whole (a bulk file, a REST read) and none had a row the tap could not read.
    collections: tuple[str, ...] = ()
    # The records are built to the contract's types in SQL; the SDK's conforming pass would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: TapOneRoster) -> None:
        super().__init__(tap, name=self.name, schema=contract.load_schema(self.name))
        self.roster_tap = tap
        self.primary_keys = contract.key_properties(self.name)
        self._complete_version: int | None = None  # set when a pull that closes the stream read its end
        if tap.config.get("incremental") and not self.rebuilt_each_run():
            self.replication_key = "updated_at"

    def rebuilt_each_run(self) -> bool:
        """True for a stream a delta cannot derive (a link dropped, or a change made through another
        collection, leaves no record of its own): read whole every run, incremental or not, and closed."""
        return False

    @property
    def emit_activate_version_messages(self) -> bool:
        # The SDK would announce the version before any record; the target takes ACTIVATE_VERSION as
        # "this stream was pulled complete", so the pull writes it after the last record itself.
        return False

    def closes_when_done(self, since: str | None) -> bool:
        """Collections read whole end with ACTIVATE_VERSION: a full sync, or an incremental run with no
        bookmark yet (its first); a delta or a CSV delta never, nor a stream missing rows the tap could not
        read (``PullTap.rows_lost``)."""
        if since is not None or not self.config.get("emit_activate_version_messages", True):
            return False
        # A CSV delta or absent file is not the whole collection: closing the stream would remove the rest.
        # Nor is one with rows the tap could not read: their people must not look gone.
        whole = all(self.roster_tap.collections.is_complete(c) for c in self.collections)
        return whole and not self.roster_tap.rows_lost(self.name)

    def get_records(self, context: Any) -> Iterable[Record]:
        for raw in self._pull(context):
            yield _decode(raw)
        self._pulled_complete()

    def batch_records(self, context: Any) -> Iterator[Any]:
        """This run's records (JSON as built, written to the files as it is), moving the bookmark as the
        SDK's record path does."""
        if not self.replication_key:
            return self._pull(context)
        self._write_starting_replication_value(context)  # where the pull reads it, as the record path does
        return self._bookmarked(self._pull(context), context)

    def _bookmarked(self, records: Iterator[msgspec.Raw], context: Any) -> Iterator[Record]:
        for raw in records:
            record = _decode(raw)
            self._increment_stream_state(record, context=context)
            yield record

    def _pull(self, context: Any) -> Iterator[msgspec.Raw]:
        """This run's records as JSON; ACTIVATE_VERSION waits for ``_pulled_complete`` (after the last
        BATCH)."""
        since = self.get_starting_replication_key_value(context) if self.replication_key else None
        try:
            query = self.query(self.roster_tap.roster(), since)  # loads what the stream reads
        except MissingColumns as exc:  # this stream cannot be read; the others may
            self.roster_tap.report_stream_failed(self.name, str(exc))
            return
        self.roster_tap.report_problems()  # the rows its loading could not read
        version = self._initialized_at // 1000 if self.closes_when_done(since) else None
        self._stream_version = version  # every record of this pull carries it
        cursor = self.roster_tap.collections.con.execute(query.sql, query.params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            for (text,) in rows:
                yield msgspec.Raw(text)
        self._complete_version = version

    def _pulled_complete(self) -> None:
        if self._complete_version is not None and self.selected:
            self._write_activate_version_message(self._complete_version)  # the stream was pulled complete

    def query(self, roster: Roster, since: str | None) -> Query:
        raise NotImplementedError


class SchoolsStream(RosterStream):
    name = "schools"
    collections = ("orgs",)

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.schools(since)


class TermsStream(RosterStream):
    name = "terms"
    collections = ("academicSessions",)

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.terms(since)


class SectionsStream(RosterStream):
    """Rebuilt each run: a new primary teacher may arrive only as enrollments, with no change to the class."""

    name = "sections"
    collections = ("classes",)

    def rebuilt_each_run(self) -> bool:
        return True

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.sections(since)


class StudentsStream(RosterStream):
    name = "students"
    collections = ("users",)

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.students(since)


class StaffStream(RosterStream):
    name = "staff"
    collections = ("users",)

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.staff(since)


class ContactsStream(RosterStream):
    name = "contacts"
    collections = ("users",)

    def rebuilt_each_run(self) -> bool:
        # With schools chosen, a contact leaves them with its student, and nothing of its own changes.
        return bool(self.config.get("schools"))

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.contacts(since)


class StudentContactsStream(RosterStream):
    """Rebuilt each run: a delta cannot say which links went (a contact deleted by id churn comes back with
    no `agents`, and a student whose agents changed lists only the new ones)."""

    name = "student_contacts"
    collections = ("users",)

    def rebuilt_each_run(self) -> bool:
        return True

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.student_contacts(since)


class EnrollmentsStream(RosterStream):
    name = "enrollments"
    collections = ("enrollments",)

    def query(self, roster: Roster, since: str | None) -> Query:
        return roster.enrollments(since)


STREAM_TYPES: tuple[type[RosterStream], ...] = (
    SchoolsStream,
    TermsStream,
    SectionsStream,
    StudentsStream,
    StaffStream,
    ContactsStream,
    StudentContactsStream,
    EnrollmentsStream,
)
