"""The seed's rule: a school-level import is allowed only for a Clever admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tap_clever.errors import CleverError

# Reads every object of a Clever collection: fetch("users", {"role": "staff"}).
Fetch = Callable[[str, dict[str, Any]], Iterator[dict[str, Any]]]

NOT_AN_ADMIN = (
    "School level import is allowed only for users with admin roles on the Clever side; Bloomz side setup "
    "alone is not sufficient. The Clever user with the admin_email of this link is {problem}. Clever must "
    "return the role 'district_admin' for that user, or list them as staff ('school_admin') of every school "
    "being imported. Only when this role is set up properly on the Clever side is the school import "
    "permitted: you may have to contact the district admin of Clever to get these roles set up."
)


def verify_admin(fetch: Fetch, admin_email: str, school_ids: list[str]) -> str:
    """How the admin qualifies ("district admin" or "staff of every selected school").

    Raises CleverError when they do not.

    With no school selected the link covers every school of the district.
    """
    wanted = admin_email.strip().lower()
    for user in fetch("users", {"role": "district_admin"}):
        if _email(user) == wanted:
            return "district admin"
    schools = set(school_ids) or {school["id"] for school in fetch("schools", {})}
    found = False
    for user in fetch("users", {"role": "staff"}):
        if _email(user) != wanted:
            continue
        found = True
        detail = (user.get("roles") or {}).get("staff") or {}
        works_at = set(detail.get("schools") or []) | {detail.get("school")}
        if schools <= works_at:
            return "staff of every selected school"
    problem = (
        "staff of only some of the selected schools"
        if found
        else "not found among Clever's district admins and school staff"
    )
    raise CleverError(NOT_AN_ADMIN.format(problem=problem))


def _email(user: dict[str, Any]) -> str:
    return str(user.get("email") or "").strip().lower()
