"""``tap-clever --test``: the district, the schools the token sees, and what the district shared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_clever.admin import verify_admin
from tap_clever.errors import CleverError
from tap_clever.shared import NO_ADMIN_EMAIL

if TYPE_CHECKING:
    from tap_clever.tap import TapClever

# What each kind of data needs, the streams built from it, and what the user loses without it.
NEEDED = (
    ("read:schools", "schools", ("schools",), "schools cannot be listed or imported"),
    ("read:sections", "sections", ("sections", "enrollments"), "classes cannot be imported"),
    ("read:students", "students", ("students",), "students cannot be imported"),
    ("read:teachers", "teachers", ("staff",), "teachers cannot be imported"),
    ("read:school_admins", "school staff", (), "school staff cannot be imported"),
    ("read:district_admins", "district admins", (), "district admins cannot be imported"),
    ("read:terms", "terms", ("terms",), "terms cannot be imported"),
    (
        "read:student_contacts",
        "contacts",
        ("contacts", "student_contacts"),
        "parents cannot be imported; share Family Codes so parents can sign up and be linked to the right "
        "students (or ask the district to share contacts with the app in Clever)",
    ),
)
# How to see whether data is visible when the token's scopes are unknown (a bare district token).
PROBES = {
    "read:schools": ("schools", {}),
    "read:sections": ("sections", {}),
    "read:students": ("users", {"role": "student"}),
    "read:teachers": ("users", {"role": "teacher"}),
    "read:school_admins": ("users", {"role": "staff"}),
    "read:district_admins": ("users", {"role": "district_admin"}),
    "read:terms": ("terms", {}),
    "read:student_contacts": ("users", {"role": "contact"}),
}


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    missing_streams: set[str] = field(default_factory=set)
    ok: bool = True

    def text(self) -> str:
        return "\n".join(self.lines)

    def stream_shared(self, stream: str) -> bool:
        return stream not in self.missing_streams


def check(tap: TapClever) -> Report:
    report = Report()
    fetch = tap.clever_streams["schools"].fetch
    token = tap.shared.district_token()

    for district in fetch("districts", {}):
        report.lines.append(f"District: {district.get('name')} ({district['id']})")
    report.lines.append("Schools this token can see (id, name, school number):")
    for school in fetch("schools", {}):
        report.lines.append(f"  {school['id']}  {school.get('name')}  {school.get('school_number') or '-'}")

    if token.scopes is not None:
        report.lines.append("Scopes the district shared: " + ", ".join(token.scopes))
        visible = {scope for scope, *_ in NEEDED if scope in token.scopes}
    else:
        report.lines.append(
            "Scopes unknown with a bare district_token (set client_id and client_secret to list them);"
        )
        report.lines.append("checking which data the token can see instead.")
        visible = set()
        for scope, (resource, params) in PROBES.items():
            if next(iter(fetch(resource, params | {"limit": 1})), None) is not None:
                visible.add(scope)
    for scope, what, stream_names, loss in NEEDED:
        if scope not in visible:
            report.lines.append(f"NOT SHARED: {what} ({scope}): {loss}.")
            report.missing_streams.update(stream_names)

    if tap.config.get("admin_email"):
        try:
            role = verify_admin(fetch, tap.config["admin_email"], list(tap.config.get("schools") or []))
            report.lines.append(f"Admin check: the admin_email user is a Clever {role}.")
        except CleverError as exc:
            report.lines.append(f"Admin check FAILED: {exc}")
            report.ok = False
    elif tap.config.get("schools"):
        report.lines.append(f"Admin check skipped: {NO_ADMIN_EMAIL}")
    return report
