"""The district's Clever records translated to OneRoster 1.1 / 1.2 objects.

The same people, classes and links as the Clever view: users become students, teachers, administrators and
guardians/parents/relatives (linked through ``agents`` both ways), sections become classes with their
enrollments, schools and the district become orgs, terms become academicSessions. Records deleted by an
``advance`` (Clever ``*.deleted`` events, and students or teachers dropped from a section) are served with
status ``tobedeleted`` and the deletion time as ``dateLastModified``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from roster_sandbox.district import District

SINGULAR = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
    "demographics": "demographics",
}
GRADES = {
    "InfantToddler": "IT",
    "Preschool": "PR",
    "PreKindergarten": "PK",
    "TransitionalKindergarten": "TK",
    "Kindergarten": "KG",
    "PostGraduate": "PS",
    "Ungraded": "UG",
    "Other": "Other",
}
CONTACT_ROLES = {
    "Parent": "parent",
    "Grandparent": "relative",
    "Aunt/Uncle": "relative",
    "Sibling": "relative",
}
# Clever role -> (OneRoster 1.1 role, OneRoster 1.2 role)
STAFF_ROLES = {
    "teacher": ("teacher", "teacher"),
    "staff": ("administrator", "siteAdministrator"),
    "district_admin": ("administrator", "districtAdministrator"),
}


class Entry:
    """One OneRoster object, kept encoded, plus the fields the server filters and nests on."""

    __slots__ = (
        "course",
        "encoded",
        "kind",
        "klass",
        "orgs",
        "roles",
        "sourced_id",
        "status",
        "terms",
        "user",
    )

    def __init__(
        self,
        sourced_id: str,
        obj: dict[str, Any],
        roles: tuple[str, ...] = (),  # OneRoster role names of a user
        orgs: tuple[str, ...] = (),  # org ids a user belongs to; a class's or enrollment's school
        klass: str = "",  # an enrollment's class
        user: str = "",  # an enrollment's user
        course: str = "",
        terms: tuple[str, ...] = (),
    ) -> None:
        self.sourced_id = sourced_id
        self.encoded = _encode(obj)
        self.status = obj["status"]
        self.kind = obj.get("type", "")  # orgs and academicSessions
        self.roles = roles
        self.orgs = orgs
        self.klass = klass
        self.user = user
        self.course = course
        self.terms = terms

    @property
    def obj(self) -> dict[str, Any]:
        decoded: dict[str, Any] = _decode(self.encoded)
        return decoded


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


REF_PATHS = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "user": "users",
    "class": "classes",
    "course": "courses",
}


def grade(value: str | None) -> str | None:
    if not value:
        return None
    return GRADES.get(value, value.zfill(2) if value.isdigit() else value)


def date_of(value: str | None) -> str:
    return (value or "")[:10]


def _ref(base: str, kind: str, sourced_id: str) -> dict[str, str]:
    return {"href": f"{base}/{REF_PATHS[kind]}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


@dataclass
class Collection:
    """One OneRoster collection, sorted by sourcedId."""

    entries: list[Entry]
    by_id: dict[str, Entry]


class OneRosterView:
    """One version's view of a district, each collection translated on first use and then kept."""

    def __init__(self, district: District, version: str, base: str) -> None:
        self.district = district
        self.version = version
        self.base = base
        self.v12 = version == "1.2"
        self._lock = threading.Lock()
        self._collections: dict[str, Collection] = {}
        self._agents_cache: dict[str, list[str]] | None = None
        self._deleted_cache: dict[str, list[Entry]] | None = None
        self.derived: dict[Any, list[Entry]] = {}  # filtered lists kept by the server, dropped with the view

    def collection(self, name: str) -> Collection:
        with self._lock:
            if name not in self._collections:
                entries = {e.sourced_id: e for e in self._deleted().get(name, [])}
                entries.update(
                    {e.sourced_id: e for e in self._active(name)}
                )  # a live record beats a deletion
                self._collections[name] = Collection([entries[key] for key in sorted(entries)], entries)
            return self._collections[name]

    def _active(self, name: str) -> Iterator[Entry]:
        district = self.district
        if name == "orgs":
            yield from self.orgs()
        elif name == "academicSessions":
            yield from (self.term(t, "active", t.get("last_modified")) for t in district.objects("terms"))
        elif name == "courses":
            yield from (self.course(c, "active", c.get("last_modified")) for c in district.objects("courses"))
        elif name == "users":
            agents = self._agents()
            for user in district.objects("users"):
                yield self.user(user, "active", user.get("last_modified"), agents.get(user["id"], []))
        elif name == "demographics":
            for user in district.objects("users"):
                if "student" in user["roles"]:
                    yield self.demographics(user, "active", user.get("last_modified"))
        elif name == "classes":
            yield from (self.klass(s, "active", s.get("last_modified")) for s in district.objects("sections"))
        elif name == "enrollments":
            for section in district.objects("sections"):
                yield from self.enrollments(section, "active", section.get("last_modified"))

    def _base(self, sourced_id: str, status: str, modified: str | None) -> dict[str, Any]:
        return {
            "sourcedId": sourced_id,
            "status": status,
            "dateLastModified": modified or "2020-01-01T00:00:00.000Z",
        }

    def orgs(self) -> Iterator[Entry]:
        district = next(self.district.objects("districts"))
        schools = list(self.district.objects("schools"))
        obj = self._base(district["id"], "active", district.get("last_sync"))
        obj.update(name=district.get("name", ""), type="district", identifier=district.get("nces_id") or "")
        obj["children"] = [_ref(self.base, "org", s["id"]) for s in schools]
        yield Entry(district["id"], obj)
        for school in schools:
            yield self.school(school, "active", school.get("last_modified"))

    def school(self, school: dict[str, Any], status: str, modified: str | None) -> Entry:
        obj = self._base(school["id"], status, modified)
        obj.update(name=school.get("name", ""), type="school", identifier=school.get("school_number") or "")
        obj["parent"] = _ref(self.base, "org", school.get("district") or self.district.district_id)
        return Entry(school["id"], obj, orgs=(school["id"],))

    def term(self, term: dict[str, Any], status: str, modified: str | None) -> Entry:
        obj = self._base(term["id"], status, modified)
        end = date_of(term.get("end_date"))
        obj.update(
            title=term.get("name") or "",
            startDate=date_of(term.get("start_date")),
            endDate=end,
            type="term",
            schoolYear=end[:4],
        )
        return Entry(term["id"], obj)

    def course(self, course: dict[str, Any], status: str, modified: str | None) -> Entry:
        obj = self._base(course["id"], status, modified)
        obj.update(title=course.get("name") or "", courseCode=course.get("number") or "")
        obj["org"] = _ref(self.base, "org", course.get("district") or self.district.district_id)
        return Entry(course["id"], obj)

    def klass(self, section: dict[str, Any], status: str, modified: str | None) -> Entry:
        obj = self._base(section["id"], status, modified)
        subject = section.get("subject") or ""
        term_ids = (section["term_id"],) if section.get("term_id") else ()
        school = section.get("school") or ""
        obj.update(
            title=section.get("name", ""),
            classCode=section.get("section_number") or section.get("sis_id") or "",
            classType="homeroom" if subject == "homeroom/advisory" else "scheduled",
            location="",
            grades=[g for g in [grade(section.get("grade"))] if g],
            subjects=[subject] if subject else [],
            school=_ref(self.base, "org", school),
            terms=[_ref(self.base, "academicSession", t) for t in term_ids],
            periods=[section["period"]] if section.get("period") else [],
        )
        if section.get("course"):
            obj["course"] = _ref(self.base, "course", section["course"])
        return Entry(section["id"], obj, orgs=(school,), course=section.get("course") or "", terms=term_ids)

    def enrollments(self, section: dict[str, Any], status: str, modified: str | None) -> Iterator[Entry]:
        school = section.get("school") or ""
        primary = section.get("teacher")
        members = [(t, "teacher") for t in section.get("teachers") or ([primary] if primary else [])]
        members += [(s, "student") for s in section.get("students") or []]
        for user_id, role in members:
            yield self.enrollment(
                section["id"],
                school,
                user_id,
                role,
                role == "teacher" and user_id == primary,
                status,
                modified,
            )

    def enrollment(
        self,
        class_id: str,
        school: str,
        user_id: str,
        role: str,
        primary: bool,
        status: str,
        modified: str | None,
    ) -> Entry:
        sourced_id = f"{class_id}-{user_id}"
        obj = self._base(sourced_id, status, modified)
        obj.update(
            user=_ref(self.base, "user", user_id),
            school=_ref(self.base, "org", school),
            role=role,
            primary="true" if primary else "false",
        )
        obj["class"] = _ref(self.base, "class", class_id)
        return Entry(sourced_id, obj, orgs=(school,), klass=class_id, user=user_id, roles=(role,))

    def _agents(self) -> dict[str, list[str]]:
        """Both directions of the student-contact links."""
        if self._agents_cache is not None:
            return self._agents_cache
        agents: dict[str, list[str]] = {}
        self._agents_cache = agents
        for user in self.district.objects("users"):
            contact = user["roles"].get("contact")
            for rel in (contact or {}).get("student_relationships") or []:
                agents.setdefault(user["id"], []).append(rel["student"])
                agents.setdefault(rel["student"], []).append(user["id"])
        return agents

    def user(self, user: dict[str, Any], status: str, modified: str | None, agents: list[str]) -> Entry:
        obj = self._base(user["id"], status, modified)
        roles = user.get("roles") or {}
        name = user.get("name") or {}
        roles_here: list[tuple[str, tuple[str, ...]]] = []  # (OneRoster role, orgs)
        identifier, sis_id, state_id, username, phone, sms, grades = "", "", "", "", "", "", []
        preferred = ""
        for clever_role, detail in roles.items():
            detail = detail or {}
            schools = tuple(
                dict.fromkeys(
                    [*(detail.get("schools") or []), *([detail["school"]] if detail.get("school") else [])]
                )
            )
            if clever_role == "student":
                roles_here.append(("student", schools))
                identifier = detail.get("student_number") or ""
                grades = [g for g in [grade(detail.get("grade"))] if g]
                preferred = (detail.get("preferred_name") or {}).get("first") or ""
            elif clever_role == "contact":
                rels = detail.get("student_relationships") or []
                relationship = rels[0].get("relationship") if rels else ""
                roles_here.append((CONTACT_ROLES.get(relationship or "", "guardian"), ()))
                phone = detail.get("phone") or ""
                sms = phone if detail.get("phone_type") == "Cell" else ""
            elif clever_role in STAFF_ROLES:
                role = STAFF_ROLES[clever_role][1 if self.v12 else 0]
                orgs = schools if clever_role != "district_admin" else (self.district.district_id,)
                roles_here.append((role, orgs))
                identifier = identifier or detail.get("teacher_number") or detail.get("staff_id") or ""
            sis_id = sis_id or detail.get("sis_id") or ""
            state_id = state_id or detail.get("state_id") or ""
            username = username or (detail.get("credentials") or {}).get("district_username") or ""
        # Order roles the way a SIS would name the primary one: teacher before staff before admin.
        rank = ["student", "teacher", "administrator", "siteAdministrator", "districtAdministrator"]
        roles_here.sort(key=lambda r: rank.index(r[0]) if r[0] in rank else len(rank))
        user_orgs = tuple(dict.fromkeys(org for _, orgs in roles_here for org in orgs))
        if not user_orgs and agents:
            user_orgs = self._schools_of(agents)
        user_ids = [
            {"type": t, "identifier": v} for t, v in (("sis_id", sis_id), ("state_id", state_id)) if v
        ]
        obj.update(
            username=username or user.get("email") or "",
            userIds=user_ids,
            enabledUser="true",
            givenName=name.get("first") or "",
            familyName=name.get("last") or "",
            middleName=name.get("middle") or "",
            identifier=identifier,
            email=user.get("email") or "",
            sms=sms,
            phone=phone,
            agents=[_ref(self.base, "user", a) for a in dict.fromkeys(agents)],
            grades=grades,
        )
        role_names = tuple(r for r, _ in roles_here) or ("guardian",)
        if self.v12:
            obj["preferredFirstName"] = preferred
            obj["userMasterIdentifier"] = state_id
            obj["roles"] = [
                {
                    "roleType": "primary" if n == 0 else "secondary",
                    "role": role,
                    "org": _ref(self.base, "org", org),
                }
                for n, (role, orgs) in enumerate(roles_here)
                for org in (orgs or user_orgs or (self.district.district_id,))
            ]
            _one_primary_per_org(obj["roles"])
            obj["primaryOrg"] = _ref(self.base, "org", (user_orgs or (self.district.district_id,))[0])
        else:
            obj["role"] = role_names[0]
            obj["orgs"] = [_ref(self.base, "org", org) for org in (user_orgs or (self.district.district_id,))]
        return Entry(user["id"], obj, roles=role_names, orgs=user_orgs)

    def _schools_of(self, student_ids: list[str]) -> tuple[str, ...]:
        users = self.district.collections["users"]
        schools: dict[str, None] = {}
        for sid in student_ids:
            if sid in users.positions:
                student = (users.get(sid)["roles"].get("student")) or {}
                schools.update(dict.fromkeys(student.get("schools") or []))
        return tuple(schools)

    def demographics(self, user: dict[str, Any], status: str, modified: str | None) -> Entry:
        student = user["roles"]["student"] or {}
        obj = self._base(user["id"], status, modified)
        month, _, rest = (student.get("dob") or "").partition("/")
        day, _, year = rest.partition("/")
        race = student.get("race") or ""
        races = {
            "americanIndianOrAlaskaNative": "American Indian",
            "asian": "Asian",
            "blackOrAfricanAmerican": "Black or African American",
            "nativeHawaiianOrOtherPacificIslander": "Hawaiian or Other Pacific Islander",
            "white": "Caucasian",
            "demographicRaceTwoOrMoreRaces": "Two or More Races",
        }
        obj.update(
            birthDate=f"{year}-{int(month):02d}-{int(day):02d}" if year else "",
            sex={"M": "male", "F": "female", "X": "other"}.get(student.get("gender") or "", "unspecified"),
            **{key: "true" if race == value else "false" for key, value in races.items()},
            hispanicOrLatinoEthnicity="true" if student.get("hispanic_ethnicity") == "Y" else "false",
        )
        return Entry(user["id"], obj)

    def _deleted(self) -> dict[str, list[Entry]]:
        """Records that Clever events say were deleted, or members dropped from a section."""
        if self._deleted_cache is not None:
            return self._deleted_cache
        out: dict[str, list[Entry]] = {}
        self._deleted_cache = out
        for event in self.district.event_objects():
            kind, _, action = event.get("type", "").partition(".")
            data = event.get("data") or {}
            obj = data.get("object") or {}
            when = event.get("created")
            if action == "deleted" and kind == "users":
                agents = self._agents().get(obj["id"], [])
                out.setdefault("users", []).append(self.user(obj, "tobedeleted", when, agents))
                if "student" in (obj.get("roles") or {}):
                    out.setdefault("demographics", []).append(self.demographics(obj, "tobedeleted", when))
            elif action == "deleted" and kind == "sections":
                out.setdefault("classes", []).append(self.klass(obj, "tobedeleted", when))
                out.setdefault("enrollments", []).extend(self.enrollments(obj, "tobedeleted", when))
            elif action == "deleted" and kind == "schools":
                out.setdefault("orgs", []).append(self.school(obj, "tobedeleted", when))
            elif action == "updated" and kind == "sections":
                previous = data.get("previous_attributes") or event.get("previous_attributes") or {}
                school = obj.get("school") or ""
                for key, role in (("students", "student"), ("teachers", "teacher")):
                    dropped = set(previous.get(key) or []) - set(obj.get(key) or [])
                    out.setdefault("enrollments", []).extend(
                        self.enrollment(obj["id"], school, u, role, False, "tobedeleted", when)
                        for u in sorted(dropped)
                    )
        return out


def _one_primary_per_org(roles: list[dict[str, Any]]) -> None:
    """OneRoster 1.2 allows exactly one primary role per org."""
    primary_orgs = {r["org"]["sourcedId"] for r in roles if r["roleType"] == "primary"}
    for role in roles:
        if role["roleType"] == "secondary" and role["org"]["sourcedId"] not in primary_orgs:
            role["roleType"] = "primary"
            primary_orgs.add(role["org"]["sourcedId"])
