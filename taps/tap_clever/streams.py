"""The standard roster streams, each built from one Clever collection.

Each stream says which records one Clever object yields (``records_of``) and which of them belong to the
selected schools (``in_scope``, see README "School scoping").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tap_clever import records
from tap_clever.client import CleverStream
from tap_clever.records import Record
from tap_clever.shared import Scope


class SchoolsStream(CleverStream):
    name = "schools"
    resource = "schools"
    record_type = "schools"

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        yield records.school(obj)

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return record["id"] in scope.schools


class TermsStream(CleverStream):
    name = "terms"
    resource = "terms"
    record_type = "terms"
    scope_follows_other_records = True

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        yield records.term(obj)

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return record["id"] in scope.terms  # the terms the selected schools' sections run in


class SectionsStream(CleverStream):
    name = "sections"
    resource = "sections"
    record_type = "sections"

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        yield records.section(obj, self.shared.courses(self.fetch))

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return obj.get("school") in scope.schools


class EnrollmentsStream(SectionsStream):
    """Teachers and students of each section (from its ``teacher``, ``teachers`` and ``students``)."""

    name = "enrollments"

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        return records.enrollments(obj)


class StudentsStream(CleverStream):
    name = "students"
    resource = "users"
    roles = ("student",)
    record_type = "users"
    scope_follows_other_records = True

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        record = records.student(obj)
        return [record] if record else []

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return scope.has_any_school(record["school_ids"]) or record["id"] in scope.students


class StaffStream(CleverStream):
    """Teachers, staff and district admins; a user with several of these roles is one record."""

    name = "staff"
    resource = "users"
    roles = ("teacher", "staff", "district_admin")
    record_type = "users"
    scope_follows_other_records = True

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        record = records.staff(obj)
        return [record] if record else []

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return scope.has_any_school(record["school_ids"]) or record["id"] in scope.teachers


class ContactsStream(CleverStream):
    name = "contacts"
    resource = "users"
    roles = ("contact",)
    record_type = "users"
    scope_follows_other_records = True

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        record = records.contact(obj)
        return [record] if record else []

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return any(link["student_id"] in scope.students for link in records.student_contacts(obj))


class StudentContactsStream(CleverStream):
    """Which contact belongs to which student, from each contact's ``student_relationships``."""

    name = "student_contacts"
    resource = "users"
    roles = ("contact",)
    record_type = "users"
    scope_follows_other_records = True

    def records_of(self, obj: dict[str, Any]) -> Iterable[Record]:
        return records.student_contacts(obj)

    def in_scope(self, record: Record, obj: dict[str, Any], scope: Scope) -> bool:
        return record["student_id"] in scope.students


STREAM_TYPES: tuple[type[CleverStream], ...] = (
    SchoolsStream,
    TermsStream,
    SectionsStream,
    StudentsStream,
    StaffStream,
    ContactsStream,
    StudentContactsStream,
    EnrollmentsStream,
)
