"""OneRoster objects (the REST JSON shape, 1.1 or 1.2) → standard roster records.

Both sources (REST and CSV) hand this module the same JSON shape, so the same district produces the same
records whichever way it arrives. Functions here are pure: no I/O, no configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]

STUDENT_ROLES = frozenset({"student"})
CONTACT_ROLES = frozenset({"parent", "guardian", "relative"})
# OneRoster staff roles (1.1 and the 1.2 additions) → the standard staff roles.
STAFF_ROLES: dict[str, str] = {
    "teacher": "teacher",
    "aide": "aide",
    "proctor": "staff",
    "counselor": "staff",
    "administrator": "school_admin",
    "siteAdministrator": "school_admin",
    "principal": "school_admin",
    "districtAdministrator": "district_admin",
    "systemAdministrator": "district_admin",
}
ENROLLMENT_ROLES = {"student": "student", "teacher": "teacher", "aide": "aide", "proctor": "aide"}
DELETED_STATUSES = frozenset({"tobedeleted", "inactive"})  # `inactive` is the OneRoster 1.0 spelling

# Fields each mapper reads into a standard field; everything else goes to `extra`.
_BASE_FIELDS = ("sourcedId", "status", "dateLastModified")
_USER_FIELDS = (
    *_BASE_FIELDS,
    "givenName",
    "familyName",
    "middleName",
    "preferredFirstName",
    "identifier",
    "email",
    "phone",
    "grades",
    "orgs",
    "primaryOrg",
)


def ref_id(ref: Any) -> str | None:
    """The sourcedId of a GUIDRef (`{"sourcedId": ...}`), or None."""
    if isinstance(ref, dict):
        value = ref.get("sourcedId")
        return str(value) if value else None
    return None


def ref_ids(refs: Any) -> list[str]:
    """The sourcedIds of a list of GUIDRefs, de-duplicated, in source order."""
    ids = (ref_id(ref) for ref in refs or [])
    return list(dict.fromkeys(i for i in ids if i))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _timestamp(value: Any) -> str | None:
    """A dateLastModified as ISO 8601 UTC, or None when absent or unreadable."""
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _date(value: Any) -> str | None:
    text = _text(value)
    return text[:10] if text else None


def updated_at(obj: dict[str, Any]) -> str | None:
    """When the source last changed an object, as ISO 8601 UTC."""
    return _timestamp(obj.get("dateLastModified"))


def is_deleted(obj: dict[str, Any]) -> bool:
    return str(obj.get("status") or "").strip() in DELETED_STATUSES


def _plain(value: Any) -> Any:
    """A source value for `extra`: GUIDRefs become their sourcedIds (CSV has nothing else to give)."""
    if isinstance(value, dict) and "sourcedId" in value:
        return ref_id(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _common(obj: dict[str, Any], used: Iterable[str], now: str) -> Record:
    """updated_at, extra and _sdc_deleted_at: the fields every standard record carries."""
    used_fields = set(used)
    record: Record = {
        "updated_at": _timestamp(obj.get("dateLastModified")),
        "extra": {
            k: _plain(v) for k, v in obj.items() if k not in used_fields and v not in (None, "", [], {})
        },
    }
    if is_deleted(obj):
        record["_sdc_deleted_at"] = record["updated_at"] or now
    return record


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- orgs, sessions, classes -------------------------------------------------------------------------


def is_school(org: dict[str, Any]) -> bool:
    return org.get("type") == "school"


def school(org: dict[str, Any], now: str) -> Record:
    used = (*_BASE_FIELDS, "name", "identifier", "parent")
    identifier = _text(org.get("identifier"))
    return {
        "id": str(org["sourcedId"]),
        "name": _text(org.get("name")),
        "school_number": identifier,
        "sis_id": identifier,
        "state_id": None,
        "district_id": ref_id(org.get("parent")),
        "low_grade": None,
        "high_grade": None,
        "phone": None,
        **_common(org, used, now),
    }


def term(session: dict[str, Any], now: str) -> Record:
    used = (*_BASE_FIELDS, "title", "startDate", "endDate", "org")
    return {
        "id": str(session["sourcedId"]),
        "name": _text(session.get("title")),
        "start_date": _date(session.get("startDate")),
        "end_date": _date(session.get("endDate")),
        "school_id": ref_id(session.get("org")),
        **_common(session, used, now),
    }


def _joined(values: Any) -> str | None:
    """A list of strings de-duplicated (Skyward repeats periods) and comma-joined."""
    unique = dict.fromkeys(v for v in (_text(x) for x in values or []) if v)
    return ", ".join(unique) or None


def section(
    cls: dict[str, Any],
    courses: dict[str, dict[str, Any]],
    primary_teachers: dict[str, str],
    now: str,
) -> Record:
    used = (
        *_BASE_FIELDS,
        *("title", "classCode", "classType", "grades", "subjects", "course", "school", "terms", "periods"),
    )
    class_id = str(cls["sourcedId"])
    course = courses.get(ref_id(cls.get("course")) or "", {})
    class_type = cls.get("classType")
    return {
        "id": class_id,
        "school_id": ref_id(cls.get("school")),
        "name": _text(cls.get("title")),
        "section_number": _text(cls.get("classCode")),
        "sis_id": None,
        "course_name": _text(course.get("title")),
        "course_number": _text(course.get("courseCode")),
        "subject": _joined(cls.get("subjects")),
        "section_type": class_type if class_type in ("homeroom", "scheduled") else None,
        "grades": list(dict.fromkeys(g for g in (_text(x) for x in cls.get("grades") or []) if g)),
        "period": _joined(cls.get("periods")),
        "term_ids": ref_ids(cls.get("terms")),
        "primary_teacher_id": primary_teachers.get(class_id),
        **_common(cls, used, now),
    }


# -- users ---------------------------------------------------------------------------------------------


def user_roles(user: dict[str, Any]) -> list[str]:
    """Every role of a user: 1.1 `role`, or each 1.2 `roles[].role`."""
    if isinstance(user.get("roles"), list):
        roles = [str(r.get("role")) for r in user["roles"] if isinstance(r, dict) and r.get("role")]
    else:
        roles = [str(user["role"])] if user.get("role") else []
    return list(dict.fromkeys(roles))


def user_org_ids(user: dict[str, Any], roles: frozenset[str] | None = None) -> list[str]:
    """The orgs a user belongs to: 1.1 `orgs`, or the 1.2 orgs of the given roles (primary org first)."""
    if isinstance(user.get("roles"), list):
        ids = [ref_id(user.get("primaryOrg"))] + [
            ref_id(r.get("org"))
            for r in user["roles"]
            if isinstance(r, dict) and (roles is None or r.get("role") in roles)
        ]
        return list(dict.fromkeys(i for i in ids if i))
    return ref_ids(user.get("orgs"))


def user_kind(user: dict[str, Any]) -> str | None:
    """students, staff or contacts: the stream a user belongs to (a student role wins), or None."""
    roles = set(user_roles(user))
    if roles & STUDENT_ROLES:
        return "students"
    if roles & STAFF_ROLES.keys():
        return "staff"
    if roles & CONTACT_ROLES:
        return "contacts"
    return None


def _user_id_of_type(user: dict[str, Any], *types: str) -> str | None:
    """The identifier in `userIds` whose type (case and punctuation ignored) is one of `types`."""
    for entry in user.get("userIds") or []:
        if isinstance(entry, dict):
            kind = re.sub(r"[^a-z]", "", str(entry.get("type") or "").lower())
            if kind in types:
                return _text(entry.get("identifier"))
    return None


def _sis_id(user: dict[str, Any]) -> str | None:
    return _user_id_of_type(user, "sisid", "sis") or _text(user.get("identifier"))


def _phone(user: dict[str, Any]) -> str | None:
    return _text(user.get("phone")) or _text(user.get("sms"))


def student(user: dict[str, Any], now: str) -> Record:
    identifier = _text(user.get("identifier"))
    school_ids = user_org_ids(user, STUDENT_ROLES)
    primary = ref_id(user.get("primaryOrg")) or (school_ids[0] if school_ids else None)
    grades = [g for g in (_text(x) for x in user.get("grades") or []) if g]
    return {
        "id": str(user["sourcedId"]),
        "school_ids": school_ids,
        "primary_school_id": primary,
        "sis_id": _sis_id(user),
        "student_number": _user_id_of_type(user, "studentnumber", "studentid") or identifier,
        "state_id": _user_id_of_type(user, "stateid", "state"),
        "first_name": _text(user.get("givenName")),
        "middle_name": _text(user.get("middleName")),
        "last_name": _text(user.get("familyName")),
        "preferred_first_name": _text(user.get("preferredFirstName")),
        "grade": grades[0] if grades else None,
        "email": _text(user.get("email")),
        "phone": _phone(user),
        **_common(user, _USER_FIELDS, now),
    }


def staff(user: dict[str, Any], now: str, district_ids: frozenset[str] = frozenset()) -> Record:
    """A staff record; `district_ids` (orgs of type district) tell a 1.1 district administrator apart."""
    source_roles = [r for r in user_roles(user) if r in STAFF_ROLES]
    org_ids = user_org_ids(user, frozenset(STAFF_ROLES))
    at_district = bool(org_ids) and all(o in district_ids for o in org_ids)
    roles = [STAFF_ROLES[r] for r in source_roles]
    if at_district and "administrator" in source_roles:
        roles[source_roles.index("administrator")] = "district_admin"
    record: Record = {
        "id": str(user["sourcedId"]),
        "school_ids": org_ids,
        "roles": list(dict.fromkeys(roles)),
        "title": None,
        "sis_id": _sis_id(user),
        "teacher_number": _text(user.get("identifier")),
        "first_name": _text(user.get("givenName")),
        "last_name": _text(user.get("familyName")),
        "email": _text(user.get("email")),
        "phone": _phone(user),
        **_common(user, _USER_FIELDS, now),
    }
    # The OneRoster roles are kept: "administrator" alone cannot say which admin someone is.
    record["extra"]["source_roles"] = source_roles
    return record


def merge_staff(first: Record, other: Record) -> Record:
    """One record for a person the source sends as several staff rows (a Skyward quirk)."""
    merged = dict(first)
    merged["school_ids"] = list(dict.fromkeys([*first["school_ids"], *other["school_ids"]]))
    merged["roles"] = list(dict.fromkeys([*first["roles"], *other["roles"]]))
    for key, value in other.items():
        if merged.get(key) is None and value is not None:
            merged[key] = value
    sources = [*first["extra"].get("source_roles", []), *other["extra"].get("source_roles", [])]
    merged["extra"] = {**other["extra"], **first["extra"], "source_roles": list(dict.fromkeys(sources))}
    # A person is deleted only when no row of theirs is still active.
    if "_sdc_deleted_at" not in first or "_sdc_deleted_at" not in other:
        merged.pop("_sdc_deleted_at", None)
    return merged


def contact(user: dict[str, Any], now: str) -> Record:
    phone, sms = _text(user.get("phone")), _text(user.get("sms"))
    return {
        "id": str(user["sourcedId"]),
        "sis_id": _sis_id(user),
        "first_name": _text(user.get("givenName")),
        "last_name": _text(user.get("familyName")),
        "email": _text(user.get("email")),
        "phone": phone or sms,
        "phone_type": "Cell" if sms and not phone else None,
        **_common(user, _USER_FIELDS, now),
    }


def contact_relationship(user: dict[str, Any]) -> str | None:
    """A contact's role (parent, guardian, relative): the relationship to the students it is agent of."""
    return next((r for r in user_roles(user) if r in CONTACT_ROLES), None)


def student_contact(
    student_id: str, contact_id: str, relationship: str | None, updated_at: str | None, deleted_at: str | None
) -> Record:
    record: Record = {
        "student_id": student_id,
        "contact_id": contact_id,
        "relationship": relationship,
        "type": None,
        "updated_at": updated_at,
        "extra": {},
    }
    if deleted_at:
        record["_sdc_deleted_at"] = deleted_at
    return record


# -- enrollments ---------------------------------------------------------------------------------------


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    return {"true": True, "false": False}.get(text)


def enrollment(obj: dict[str, Any], now: str) -> Record | None:
    """A standard enrollment, or None for roles Bloomz does not seat in a class (administrator)."""
    role = ENROLLMENT_ROLES.get(str(obj.get("role") or ""))
    section_id, user_id = ref_id(obj.get("class")), ref_id(obj.get("user"))
    if role is None or not section_id or not user_id:
        return None
    used = (*_BASE_FIELDS, "class", "user", "role", "primary")
    return {
        "section_id": section_id,
        "user_id": user_id,
        "role": role,
        "primary": _flag(obj.get("primary")),
        **_common(obj, used, now),
    }


def primary_teachers(enrollments: Iterable[dict[str, Any]]) -> dict[str, str]:
    """class id → its primary teacher: the teacher enrolled with primary=true, else the first teacher."""
    chosen: dict[str, tuple[bool, str]] = {}
    for obj in enrollments:
        if obj.get("role") != "teacher" or is_deleted(obj):
            continue
        class_id, user_id = ref_id(obj.get("class")), ref_id(obj.get("user"))
        if not class_id or not user_id:
            continue
        primary = _flag(obj.get("primary")) is True
        if class_id not in chosen or (primary and not chosen[class_id][0]):
            chosen[class_id] = (primary, user_id)
    return {class_id: user_id for class_id, (_, user_id) in chosen.items()}


def iter_links(user: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(student id, contact id) pairs a user's `agents` declare, from whichever side the user is on."""
    user_id = str(user["sourcedId"])
    kind = user_kind(user)
    for agent_id in ref_ids(user.get("agents")):
        if kind == "students":
            yield user_id, agent_id
        elif kind == "contacts":
            yield agent_id, user_id
