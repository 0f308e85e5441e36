"""``tap-oneroster --test``: the district, the schools the credentials see with their counts, and which
collections the credentials may read and which they may not."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from singer_sdk.exceptions import FatalAPIError

from tap_oneroster.csv_source import CsvSource

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


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


def check(tap: TapOneRoster) -> Report:
    """The report; an authentication or connection failure propagates (the caller says "Connection test
    failed"), a collection the server refuses (HTTP 403 or 404) is reported as not shared."""
    collections = tap.collections
    con = collections.con
    report = Report([f"Source: {_where(tap)}"])
    orgs = collections.table("orgs")
    for name, sourced_id in con.execute(
        f"SELECT name, \"sourcedId\" FROM {orgs} WHERE lower(trim(type)) = 'district' ORDER BY _ord"
    ).fetchall():
        report.lines.append(f"District: {name} ({sourced_id})")

    read: set[str] = set()
    shared, not_shared = ["schools"], []
    for collection, what, loss, whole in COLLECTIONS:
        try:
            if whole:
                collections.table(collection)
            elif not isinstance(collections.source, CsvSource):
                list(islice(collections.source.read(collection), 1))
            read.add(collection)
            shared.append(what)
        except FatalAPIError as exc:
            if not _refused(exc):
                raise
            not_shared.append(f"NOT SHARED: {what} ({exc}): {loss}.")

    counts = _counts(tap, read)
    selected = set(tap.config.get("schools") or [])
    schools = con.execute(
        f"SELECT \"sourcedId\", coalesce(name, '') FROM {orgs} "
        "WHERE lower(trim(type)) = 'school' ORDER BY _ord"
    ).fetchall()
    report.lines.append(f"The credentials see {len(schools)} school(s) (id, name, counts):")
    for school_id, name in schools:
        classes, students, teachers = counts.get(school_id, (0, 0, 0))
        mark = "  (selected in `schools`)" if school_id in selected else ""
        report.lines.append(
            f"  {school_id}  {name}  {classes} classes, {students} students, {teachers} teachers{mark}"
        )
    report.lines.append("Shared with the app: " + ", ".join(shared))
    report.lines.extend(not_shared)
    if "users" in read and not _any_contact(tap):
        report.lines.append(NO_CONTACTS)
    return report


def _counts(tap: TapOneRoster, read: set[str]) -> dict[str, tuple[int, int, int]]:
    """org id → (classes, students, teachers) of what could be read."""
    collections = tap.collections
    classes = collections.table("classes") if "classes" in read else "(SELECT NULL AS school WHERE false)"
    people = '(SELECT NULL AS org, NULL AS stream, NULL AS role, NULL AS "user" WHERE false)'
    if "users" in read:
        people = tap.roster().roles()
    rows = collections.con.execute(
        f"""WITH c AS (SELECT school AS org, count(*) AS n FROM {classes} GROUP BY 1),
                p AS (SELECT org, count(DISTINCT "user") FILTER (WHERE stream = 'students') AS students,
                        count(DISTINCT "user") FILTER (WHERE role = 'teacher') AS teachers
                      FROM {people} GROUP BY 1)
            SELECT coalesce(c.org, p.org), coalesce(c.n, 0), coalesce(p.students, 0), coalesce(p.teachers, 0)
            FROM c FULL JOIN p ON p.org = c.org"""
    ).fetchall()
    return {org: (int(n), int(s), int(t)) for org, n, s, t in rows if org is not None}


def _any_contact(tap: TapOneRoster) -> bool:
    row = tap.collections.con.execute(f"SELECT bool_or(contact) FROM {tap.roster().kinds()}").fetchone()
    return bool(row and row[0])


def _refused(exc: FatalAPIError) -> bool:
    return any(f"HTTP {status}" in str(exc) for status in (403, 404))


def _where(tap: TapOneRoster) -> str:
    config = tap.config
    if config.get("csv_path"):
        return f"OneRoster CSV bundle {config['csv_path']}"
    return f"OneRoster {config.get('version', '1.1')} at {config.get('base_url')} (auth {config.get('auth')})"
