"""``tap-oneroster --test``: the district, the schools the credentials see with their counts, and which
collections the credentials may read and which they may not."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import FatalAPIError

from tap_oneroster import mapping

if TYPE_CHECKING:
    from tap_oneroster.tap import TapOneRoster

# Every collection the tap reads: (collection, what it brings, what is lost without it, read whole?).
# Classes and users are read whole for the schools' counts; for the others the first object is enough.
COLLECTIONS = (
    ("classes", "classes", "classes cannot be imported", True),
    ("users", "users", "students, staff and parents cannot be imported", True),
    ("academicSessions", "terms", "terms cannot be imported", False),
    ("enrollments", "enrollments", "nobody can be placed in a class", False),
)
NO_CONTACTS = (
    "NOT SHARED: contacts (no parent or guardian among the users): parents cannot be imported; share "
    "Family Codes so parents can sign up and be linked to the right students (or ask the district to send "
    "guardians)."
)
COUNTED = (("students", mapping.STUDENT_ROLES), ("teachers", frozenset({"teacher"})))


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


def check(tap: TapOneRoster) -> Report:
    """The report; an authentication or connection failure propagates (the caller says "Connection test
    failed"), a collection the server refuses (HTTP 403 or 404) is reported as not shared."""
    report = Report([f"Source: {_where(tap)}"])
    orgs = list(tap.source.read("orgs"))
    for org in orgs:
        if org.get("type") == "district":
            report.lines.append(f"District: {org.get('name')} ({org['sourcedId']})")
    schools = [org for org in orgs if mapping.is_school(org)]

    read: dict[str, list[dict[str, Any]]] = {}
    shared, not_shared = ["schools"], []
    for collection, what, loss, whole in COLLECTIONS:
        try:
            objects = tap.source.read(collection)
            read[collection] = list(objects) if whole else list(islice(objects, 1))
            shared.append(what)
        except FatalAPIError as exc:
            if not _refused(exc):
                raise
            not_shared.append(f"NOT SHARED: {what} ({exc}): {loss}.")

    counts = _counts(read.get("classes", []), read.get("users", []))
    selected = set(tap.config.get("schools") or [])
    report.lines.append(f"The credentials see {len(schools)} school(s) (id, name, counts):")
    for school in schools:
        counted = ", ".join(
            f"{counts[school['sourcedId']][label]} {label}" for label in ("classes", "students", "teachers")
        )
        mark = "  (selected in `schools`)" if school["sourcedId"] in selected else ""
        report.lines.append(f"  {school['sourcedId']}  {school.get('name') or ''}  {counted}{mark}")
    report.lines.append("Shared with the app: " + ", ".join(shared))
    report.lines.extend(not_shared)
    if "users" in read and not any(mapping.user_kind(user) == "contacts" for user in read["users"]):
        report.lines.append(NO_CONTACTS)
    return report


def _counts(classes: list[dict[str, Any]], users: list[dict[str, Any]]) -> defaultdict[str, Counter[str]]:
    """school id → its classes, students and teachers."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for cls in classes:
        counts[str(mapping.ref_id(cls.get("school")))]["classes"] += 1
    for user in users:
        roles = set(mapping.user_roles(user))
        for label, role_set in COUNTED:
            if roles & role_set:
                for org_id in mapping.user_org_ids(user, role_set):
                    counts[org_id][label] += 1
    return counts


def _refused(exc: FatalAPIError) -> bool:
    return any(f"HTTP {status}" in str(exc) for status in (403, 404))


def _where(tap: TapOneRoster) -> str:
    config = tap.config
    if config.get("csv_path"):
        return f"OneRoster CSV bundle {config['csv_path']}"
    return f"OneRoster {config.get('version', '1.1')} at {config.get('base_url')} (auth {config.get('auth')})"
