"""``tap-clever --test``: the district, the schools the token sees with their counts, and what the district
shared and what it did not."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_clever.admin import verify_admin
from tap_clever.errors import CleverError
from tap_clever.records import schools_of
from tap_clever.shared import NO_ADMIN_EMAIL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_clever.tap import TapClever

    Fetch = Callable[[str, dict[str, Any]], Iterator[dict[str, Any]]]

# What each kind of data needs (its scope), and what the user loses without it.
NEEDED = (
    ("read:schools", "schools", "schools cannot be listed or imported"),
    ("read:sections", "sections", "classes cannot be imported"),
    ("read:students", "students", "students cannot be imported"),
    ("read:teachers", "teachers", "teachers cannot be imported"),
    ("read:school_admins", "school staff", "school staff cannot be imported"),
    ("read:district_admins", "district admins", "district admins cannot be imported"),
    ("read:terms", "terms", "terms cannot be imported"),
    (
        "read:student_contacts",
        "contacts",
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
    ok: bool = True

    def text(self) -> str:
        return "\n".join(self.lines)


# What each school's line counts: (label, Clever collection, role filter, scope it needs).
COUNTED = (
    ("sections", "sections", None, "read:sections"),
    ("students", "users", "student", "read:students"),
    ("teachers", "users", "teacher", "read:teachers"),
)


def check(tap: TapClever) -> Report:
    report = Report()
    fetch = tap.clever_streams["schools"].fetch
    token = tap.shared.district_token()

    for district in fetch("districts", {}):
        report.lines.append(f"District: {district.get('name')} ({district['id']})")
    schools = list(fetch("schools", {}))

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
    report.lines.append(f"Schools this token can see ({len(schools)}; id, name, school number, counts):")
    counts = school_counts(fetch, visible)
    selected = set(tap.config.get("schools") or [])
    for school in schools:
        counted = ", ".join(f"{counts[school['id']][label]} {label}" for label, *_ in _shared(visible))
        mark = "  (selected in `schools`)" if school["id"] in selected else ""
        report.lines.append(
            f"  {school['id']}  {school.get('name')}  {school.get('school_number') or '-'}"
            f"  {counted or 'no counts: nothing shared'}{mark}"
        )
    shared = [what for scope, what, *_ in NEEDED if scope in visible]
    report.lines.append("Shared with the app: " + (", ".join(shared) or "nothing"))
    for scope, what, loss in NEEDED:
        if scope not in visible:
            report.lines.append(f"NOT SHARED: {what} ({scope}): {loss}.")

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


def _shared(visible: set[str]) -> list[tuple[str, str, str | None, str]]:
    return [counted for counted in COUNTED if counted[3] in visible]


def school_counts(fetch: Fetch, visible: set[str]) -> defaultdict[str, Counter[str]]:
    """school id → how many sections, students and teachers Clever lists for it (what is shared)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for label, resource, role, _ in _shared(visible):
        for obj in fetch(resource, {"role": role} if role else {}):
            school_ids = [obj.get("school")] if role is None else schools_of(obj["roles"][role])
            for school_id in school_ids:
                counts[str(school_id)][label] += 1
    return counts
