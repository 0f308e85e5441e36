"""The columns of a OneRoster CSV bundle file: those the tap cannot do without, and what a missing one hides.

A missing column is not a column of empty cells. Read as empty, a users.csv without givenName would blank
every first name, and one without orgSourcedIds would take every user out of their schools. So:

- a file without a column the OneRoster CSV standard requires and the tap reads fails the streams built
  from it, naming the file and the column (``MissingColumns``);
- a file without an optional column reports the roster fields only that column feeds as not provided
  (``not_provided``), and target-bloomz keeps the values it has for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from plugin_runtime import failures

# Required by the OneRoster 1.1/1.2 CSV binding and read by the tap.
REQUIRED: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "startDate", "endDate"),
    "courses.csv": ("sourcedId", "title"),
    "classes.csv": (
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("userSourcedId", "role", "orgSourcedId"),
}
# A 1.1 bundle names each user's role and schools in users.csv; a 1.2 bundle in roles.csv.
USERS_WITHOUT_ROLES_FILE = ("role", "orgSourcedIds")

# file → (columns that must all be missing, {roster stream: the fields they alone feed, None for the stream})
_OPTIONAL: dict[str, list[tuple[tuple[str, ...], dict[str, tuple[str, ...] | None]]]] = {
    "users.csv": [
        (("middleName",), {"students": ("middle_name",)}),
        (("email",), {"students": ("email",), "staff": ("email",), "contacts": ("email",)}),
        (
            ("phone", "sms"),
            {"students": ("phone",), "staff": ("phone",), "contacts": ("phone", "phone_type")},
        ),
        (("grades",), {"students": ("grade",)}),
        (("userIds",), {"students": ("state_id",)}),
        (("identifier",), {"staff": ("teacher_number",)}),
        (
            ("identifier", "userIds"),
            {"students": ("sis_id", "student_number"), "staff": ("sis_id",), "contacts": ("sis_id",)},
        ),
        (("agentSourcedIds",), {"student_contacts": None}),
    ],
    "classes.csv": [
        (("grades",), {"sections": ("grades",)}),
        (("classCode",), {"sections": ("section_number",)}),
        (("subjects",), {"sections": ("subject",)}),
        (("periods",), {"sections": ("period",)}),
    ],
    "courses.csv": [(("courseCode",), {"sections": ("course_number",)})],
    "orgs.csv": [
        (("identifier",), {"schools": ("school_number", "sis_id")}),
        (("parentSourcedId",), {"schools": ("district_id",)}),
    ],
}


class MissingColumns(failures.BadInput):
    """A bundle file lacks a column the tap needs: the streams built from it cannot be read."""


def check_required(name: str, header: Sequence[str], *, has_roles_file: bool) -> None:
    """Raise MissingColumns when the file lacks a required column."""
    required = REQUIRED.get(name, ())
    if name == "users.csv" and not has_roles_file:
        required = (*required, *USERS_WITHOUT_ROLES_FILE)
    missing = [column for column in required if column not in header]
    if missing:
        names = ", ".join(missing)
        raise MissingColumns(
            f"{name} has no {names} column{'s' if len(missing) > 1 else ''}, which OneRoster requires: "
            "nothing of it was read. Export the bundle again with every required column."
        )


def not_provided(name: str, header: Sequence[str]) -> Iterator[tuple[str, tuple[str, ...] | None, str]]:
    """(stream, fields or None for the whole stream, why) for each optional column the file lacks."""
    for columns, fed in _OPTIONAL.get(name, []):
        if any(column in header for column in columns):
            continue
        names = " and ".join(columns)
        for stream, fields in fed.items():
            what = f"{', '.join(fields)} kept as they were" if fields else "links kept as they were"
            yield stream, fields, f"{name} has no {names} column: {what}"
