"""What every stream of one run shares: district token, request budget, courses and school scope."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tap_clever.admin import Fetch, verify_admin
from tap_clever.auth import DistrictToken, resolve_district_token
from tap_clever.errors import CleverError
from tap_clever.ratelimit import RateLimiter

# Clever allows 1200 requests a minute per token; keep a margin for other clients of the same token.
REQUESTS_PER_MINUTE = 1100

logger = logging.getLogger("tap-clever")

NO_ADMIN_EMAIL = (
    "`schools` is set but `admin_email` is not: the rule that a school-level import needs a Clever admin "
    "(a district admin, or staff of every selected school) is NOT checked. Set admin_email to the e-mail "
    "of the Bloomz admin linking the school."
)


@dataclass(frozen=True)
class Scope:
    """What belongs to the selected schools: their sections (and those sections' terms, teachers and
    students), their students, the contacts of those students, and their staff."""

    schools: frozenset[str]
    terms: frozenset[str]
    teachers: frozenset[str]
    students: frozenset[str]

    def has_any_school(self, school_ids: list[str]) -> bool:
        return any(school_id in self.schools for school_id in school_ids)


def compute_scope(fetch: Fetch, school_ids: list[str]) -> Scope:
    schools = frozenset(school_ids)
    terms: set[str] = set()
    teachers: set[str] = set()
    students: set[str] = set()
    for section in fetch("sections", {}):
        if section.get("school") not in schools:
            continue
        if section.get("term_id"):
            terms.add(section["term_id"])
        teachers.update(filter(None, [section.get("teacher"), *(section.get("teachers") or [])]))
        students.update(section.get("students") or [])
    for user in fetch("users", {"role": "student"}):
        detail = (user.get("roles") or {}).get("student") or {}
        if schools.intersection([detail.get("school"), *(detail.get("schools") or [])]):
            students.add(user["id"])
    return Scope(schools, frozenset(terms), frozenset(teachers), frozenset(students))


@dataclass
class Shared:
    config: dict[str, Any]
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(REQUESTS_PER_MINUTE, 60.0))
    _token: DistrictToken | None = None
    _courses: dict[str, dict[str, Any]] | None = None
    _scope: Scope | None = None
    _admin_verified: bool = False
    # `--test`: a connection that cannot be made fails at once, with what to do (plugin_runtime.unreachable).
    testing_connection: bool = False

    def district_token(self) -> DistrictToken:
        if self._token is None:
            self._token = resolve_district_token(self.config)
        return self._token

    def check_admin(self, fetch: Fetch) -> None:
        """Refuse the run when admin_email is set and is not a Clever admin of the selected schools."""
        if self._admin_verified:
            return
        if self.config.get("admin_email"):
            verify_admin(fetch, self.config["admin_email"], list(self.config.get("schools") or []))
        elif self.config.get("schools"):
            logger.warning(NO_ADMIN_EMAIL)
        self._admin_verified = True  # checked (or warned about) once per run

    def scope(self, fetch: Fetch) -> Scope | None:
        """The school scope, or None when every school is synced."""
        if not self.config.get("schools"):
            return None
        if self._scope is None:
            self._scope = compute_scope(fetch, list(self.config["schools"]))
        return self._scope

    def courses(self, fetch: Fetch) -> dict[str, dict[str, Any]]:
        """Courses by id, for the course name and number of each section."""
        if self._courses is None:
            try:
                self._courses = {course["id"]: course for course in fetch("courses", {})}
            except CleverError as exc:
                if exc.status not in (403, 404):
                    raise
                logger.warning(
                    "Courses are not shared (HTTP %s): sections will have no course name.", exc.status
                )
                self._courses = {}
        return self._courses
