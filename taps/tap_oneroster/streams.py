"""The standard roster streams, each built from OneRoster collections by `mapping`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import TypeConformanceLevel

from bloomz_sync import batches, contract, failures
from tap_oneroster import mapping
from tap_oneroster.columns import MissingColumns

if TYPE_CHECKING:
    from tap_oneroster.tap import TapOneRoster

Record = dict[str, Any]


class RosterStream(batches.BatchingStream):
    """A standard roster stream: its schema and keys come from the shared contract."""

    #: The OneRoster collections this stream's rows come from (a full sync closes the stream only when
    #: every one of them was read whole).
    collections: tuple[str, ...] = ()
    # mapping.py already builds every record to the contract's types; the SDK's recursive conforming pass
    # re-checked each value and was a large share of the tap's time (bench/README.md, "tap-oneroster").
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
        # "this stream was pulled complete", so get_records writes it after the last record itself.
        return False

    def closes_when_done(self, since: str | None) -> bool:
        """Collections read whole end with ACTIVATE_VERSION: a full sync, or an incremental run with no
        bookmark yet (its first); a delta or a CSV delta never."""
        if since is not None or not self.config.get("emit_activate_version_messages", True):
            return False
        # A CSV delta or absent file is not the whole collection: closing the stream would remove the rest.
        return all(self.roster_tap.source.is_complete(c) for c in self.collections)

    def get_records(self, context: Any) -> Iterable[Record]:
        yield from self._pull(context)
        self._pulled_complete()

    def batch_records(self, context: Any) -> Iterator[Record]:
        """This run's records, moving the bookmark as the SDK's record path does."""
        if not self.replication_key:
            return self._pull(context)
        self._write_starting_replication_value(context)  # where the pull reads it, as the record path does
        return self._bookmarked(self._pull(context), context)

    def _bookmarked(self, records: Iterator[Record], context: Any) -> Iterator[Record]:
        """Move the updated_at bookmark with each record, as the SDK's record path does."""
        for record in records:
            self._increment_stream_state(record, context=context)
            yield record

    def _pull(self, context: Any) -> Iterator[Record]:
        """This run's records; ACTIVATE_VERSION waits for ``_pulled_complete`` (after the last BATCH)."""
        since = self.get_starting_replication_key_value(context) if self.replication_key else None
        version = self._initialized_at // 1000 if self.closes_when_done(since) else None
        self._stream_version = version  # every record of this pull carries it
        try:
            yield from self.roster_records(since, mapping.now_utc())
        except MissingColumns as exc:  # this stream cannot be read; the others may
            self.roster_tap.report_stream_failed(self.name, str(exc))
            return
        except (AttributeError, KeyError, TypeError) as error:
            # An object not in OneRoster's shape (a list where a GUIDRef belongs, a missing sourcedId).
            raise failures.BadInput(
                f"{self.name}: the source sent an object not in OneRoster's shape ({type(error).__name__}: "
                f"{str(error)[:80]}); check the server URL and version, or the CSV bundle"
            ) from None
        # A row of its source that could not be read: the stream is not whole, so it must not close.
        self._complete_version = None if self.roster_tap.rows_lost(self.name) else version

    def _pulled_complete(self) -> None:
        if self._complete_version is not None and self.selected:
            self._write_activate_version_message(self._complete_version)  # the stream was pulled complete

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        raise NotImplementedError

    def read(self, collection: str, since: str | None) -> Iterator[dict[str, Any]]:
        return self.roster_tap.source.read(collection, since)

    @staticmethod
    def scoped(record: Record, in_scope: bool, since: str | None, now: str) -> Record | None:
        """The record if it belongs to the chosen schools. In a delta, one that does not is sent deleted:
        it was deleted (its schools may be gone with it) or it left them (deleting what the target never
        had is harmless)."""
        if in_scope:
            return record
        if since is None:
            return None
        return {**record, "_sdc_deleted_at": record.get("_sdc_deleted_at") or record["updated_at"] or now}


class SchoolsStream(RosterStream):
    name = "schools"
    collections = ("orgs",)

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        for org in self.read("orgs", since):
            if mapping.is_school(org) and self.roster_tap.school_in_scope(org["sourcedId"]):
                yield mapping.school(org, now)


class TermsStream(RosterStream):
    name = "terms"
    collections = ("academicSessions",)

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        for session in self.read("academicSessions", since):
            record = mapping.term(session, now)
            if record["school_id"] is None or self.roster_tap.school_in_scope(record["school_id"]):
                yield record


class SectionsStream(RosterStream):
    """Rebuilt each run: a new primary teacher may arrive only as enrollments, with no change to the class."""

    name = "sections"
    collections = ("classes",)

    def rebuilt_each_run(self) -> bool:
        return True

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        courses = {c["sourcedId"]: c for c in self.read("courses", None)}
        teachers = self.roster_tap.primary_teachers()
        for cls in self.read("classes", since):
            record = mapping.section(cls, courses, teachers, now)
            if self.roster_tap.any_school_in_scope([record["school_id"]]):
                yield record


class StudentsStream(RosterStream):
    name = "students"
    collections = ("users",)

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        for user in self.read("users", since):
            if mapping.user_kind(user) == "students":
                record = mapping.student(user, now)
                in_scope = self.roster_tap.any_school_in_scope(record["school_ids"])
                if scoped := self.scoped(record, in_scope, since, now):
                    yield scoped


class StaffStream(RosterStream):
    name = "staff"
    collections = ("users",)

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        # Held until the end: Skyward can send one person as several rows, anywhere in the collection.
        people: dict[str, Record] = {}
        district_ids = self.roster_tap.district_ids()
        for user in self.read("users", since):
            if mapping.user_kind(user) == "staff":
                record = mapping.staff(user, now, district_ids)
                known = people.get(record["id"])
                people[record["id"]] = mapping.merge_staff(known, record) if known else record
        for record in people.values():
            in_scope = self.roster_tap.any_school_in_scope(record["school_ids"])
            if scoped := self.scoped(record, in_scope, since, now):
                yield scoped


class ContactsStream(RosterStream):
    name = "contacts"
    collections = ("users",)

    def rebuilt_each_run(self) -> bool:
        # With schools chosen, a contact leaves them with its student, and nothing of its own changes.
        return bool(self.config.get("schools"))

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        for user in self.read("users", since):
            if mapping.user_kind(user) == "contacts":
                in_scope = self.roster_tap.contact_in_scope(user["sourcedId"])
                if scoped := self.scoped(mapping.contact(user, now), in_scope, since, now):
                    yield scoped


class StudentContactsStream(RosterStream):
    """Links from `agents`; the relationship is the contact's role.

    OneRoster models a link on both sides (a contact's agents are its students and the reverse). A contact's
    own list is used when it has one; a student's list only fills in for contacts that list no students.
    So every link is written once, as it is read, with nothing held in memory.

    Rebuilt each run: a delta cannot say which links went (a contact deleted by id churn comes back with no
    `agents`, and a student whose agents changed lists only the new ones).
    """

    name = "student_contacts"
    collections = ("users",)

    def rebuilt_each_run(self) -> bool:
        return True

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        index = self.roster_tap.user_index()
        for user in self.read("users", since):
            kind, user_id = mapping.user_kind(user), user["sourcedId"]
            updated = mapping.updated_at(user)
            deleted = (updated or now) if mapping.is_deleted(user) else None
            agents = mapping.ref_ids(user.get("agents"))
            if kind == "contacts":
                role = mapping.contact_relationship(user)
                for student_id in filter(index.student_in_scope, agents):
                    yield mapping.student_contact(student_id, user_id, role, updated, deleted)
            elif kind == "students" and index.student_in_scope(user_id):
                for contact_id in filter(index.fills_in_for, agents):
                    role = index.contact_roles[contact_id]
                    yield mapping.student_contact(user_id, contact_id, role, updated, deleted)


class EnrollmentsStream(RosterStream):
    name = "enrollments"
    collections = ("enrollments",)

    def roster_records(self, since: str | None, now: str) -> Iterator[Record]:
        for obj in self.read("enrollments", since):
            record = mapping.enrollment(obj, now)
            school_id = mapping.ref_id(obj.get("school"))
            if record:
                in_scope = school_id is None or self.roster_tap.school_in_scope(school_id)
                if scoped := self.scoped(record, in_scope, since, now):
                    yield scoped


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
