"""Clever v3.0 objects turned into standard roster records (pure functions, no I/O).

Rules worth knowing:
- Named standard fields hold ``None`` where Clever sends an empty string; ``extra`` keeps values as sent.
- Employee roles (teacher, staff, district_admin) of one user become one staff record listing every role.
  Clever v3 has no school_admin role: school admins arrive as ``staff``.
- A contact's full name often sits in ``name.last``: it stays in ``last_name`` (``first_name`` is then empty),
  because splitting a whole name guesses wrong for many families.
- ``relationship`` and ``type`` of a student contact are kept exactly as Clever gives them ("" included).
- Lists the standard models as their own streams (section members, contact relationships) are not repeated
  in ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Record = dict[str, Any]

EMPLOYEE_ROLES = ("teacher", "staff", "district_admin")


def _text(value: Any) -> str | None:
    """A named standard field: Clever's empty string means "not filled"."""
    if value is None or value == "":
        return None
    return str(value)


def _date(value: Any) -> str | None:
    """Clever term dates arrive as dates or date-times; the standard wants YYYY-MM-DD."""
    text = _text(value)
    return text[:10] if text else None


def _rest(obj: dict[str, Any], named: set[str]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in named}


def schools_of(detail: dict[str, Any]) -> list[str]:
    """The school ids of a Clever role (its `school` first, then its `schools`)."""
    schools = list(detail.get("schools") or [])
    if detail.get("school") and detail["school"] not in schools:
        schools.insert(0, detail["school"])
    return schools


def school(obj: dict[str, Any]) -> Record:
    named = {"id", "name", "school_number", "sis_id", "state_id", "district", "low_grade", "high_grade"}
    named |= {"phone", "last_modified"}
    return {
        "id": obj["id"],
        "name": _text(obj.get("name")),
        "school_number": _text(obj.get("school_number")),
        "sis_id": _text(obj.get("sis_id")),
        "state_id": _text(obj.get("state_id")),
        "district_id": _text(obj.get("district")),
        "low_grade": _text(obj.get("low_grade")),
        "high_grade": _text(obj.get("high_grade")),
        "phone": _text(obj.get("phone")),
        "updated_at": _text(obj.get("last_modified")),
        "extra": _rest(obj, named),
    }


def term(obj: dict[str, Any]) -> Record:
    return {
        "id": obj["id"],
        "name": _text(obj.get("name")),
        "start_date": _date(obj.get("start_date")),
        "end_date": _date(obj.get("end_date")),
        # Clever v3.0 terms belong to the district, not to one school.
        "school_id": None,
        "updated_at": _text(obj.get("last_modified")),
        "extra": _rest(obj, {"id", "name", "start_date", "end_date", "last_modified"}),
    }


def section(obj: dict[str, Any], courses: dict[str, dict[str, Any]]) -> Record:
    course = courses.get(obj.get("course") or "", {})
    named = {"id", "school", "name", "section_number", "sis_id", "subject", "grade", "period", "term_id"}
    named |= {"teacher", "teachers", "students", "last_modified"}
    return {
        "id": obj["id"],
        "school_id": _text(obj.get("school")),
        "name": _text(obj.get("name")),
        "section_number": _text(obj.get("section_number")),
        "sis_id": _text(obj.get("sis_id")),
        "course_name": _text(course.get("name")),
        "course_number": _text(course.get("number")),
        "subject": _text(obj.get("subject")),
        "section_type": "homeroom" if obj.get("subject") == "homeroom/advisory" else "scheduled",
        "grades": [obj["grade"]] if obj.get("grade") else [],
        "period": _text(obj.get("period")),
        "term_ids": [obj["term_id"]] if obj.get("term_id") else [],
        "primary_teacher_id": _text(obj.get("teacher")),
        "updated_at": _text(obj.get("last_modified")),
        "extra": _rest(obj, named),
    }


def enrollments(obj: dict[str, Any]) -> Iterator[Record]:
    """One record per teacher (the primary one flagged) and per student of a section.

    Clever does not date a membership (the section's last_modified dates any change to the section), so
    ``updated_at`` is null, as it is for student contacts.
    """
    primary = obj.get("teacher")
    teachers = list(obj.get("teachers") or [])
    if primary and primary not in teachers:
        teachers.insert(0, primary)
    for teacher_id in dict.fromkeys(teachers):
        yield {
            "section_id": obj["id"],
            "user_id": teacher_id,
            "role": "teacher",
            "primary": teacher_id == primary,
            "updated_at": None,
            "extra": {},
        }
    for student_id in dict.fromkeys(obj.get("students") or []):
        yield {
            "section_id": obj["id"],
            "user_id": student_id,
            "role": "student",
            "primary": None,
            "updated_at": None,
            "extra": {},
        }


def _user_extra(obj: dict[str, Any]) -> dict[str, Any]:
    return _rest(obj, {"id", "name", "email", "roles", "last_modified"})


def _middle_name(name: dict[str, Any]) -> dict[str, Any]:
    """Staff and contacts have no standard middle name field: it goes in ``extra``."""
    return {"middle_name": name["middle"]} if name.get("middle") else {}


def student(obj: dict[str, Any]) -> Record | None:
    detail = (obj.get("roles") or {}).get("student")
    if detail is None:
        return None
    name = obj.get("name") or {}
    schools = schools_of(detail)
    named = {"school", "schools", "sis_id", "student_number", "state_id", "grade", "email"}
    return {
        "id": obj["id"],
        "school_ids": schools,
        "primary_school_id": _text(detail.get("school")) or (schools[0] if schools else None),
        "sis_id": _text(detail.get("sis_id")),
        "student_number": _text(detail.get("student_number")),
        "state_id": _text(detail.get("state_id")),
        "first_name": _text(name.get("first")),
        "middle_name": _text(name.get("middle")),
        "last_name": _text(name.get("last")),
        "preferred_first_name": _text(name.get("preferred")),
        "grade": _text(detail.get("grade")),
        "email": _text(obj.get("email") or detail.get("email")),
        "phone": None,
        "updated_at": _text(obj.get("last_modified")),
        "extra": _user_extra(obj) | _rest(detail, named),
    }


def staff(obj: dict[str, Any]) -> Record | None:
    roles = obj.get("roles") or {}
    held = [role for role in EMPLOYEE_ROLES if roles.get(role) is not None]
    if not held:
        return None
    name = obj.get("name") or {}
    teacher = roles.get("teacher") or {}
    staff_role = roles.get("staff") or {}
    schools: list[str] = []
    for role in held:
        schools += [school_id for school_id in schools_of(roles[role]) if school_id not in schools]
    title = next((roles[role].get("title") for role in held if roles[role].get("title")), None)
    return {
        "id": obj["id"],
        "school_ids": schools,
        "roles": held,
        "title": _text(title),
        "sis_id": _text(teacher.get("sis_id") or staff_role.get("staff_id")),
        "teacher_number": _text(teacher.get("teacher_number")),
        "first_name": _text(name.get("first")),
        "last_name": _text(name.get("last")),
        "email": _text(obj.get("email")),
        "phone": None,
        "updated_at": _text(obj.get("last_modified")),
        # Each role's own details (a second title, a department) as Clever gave them.
        "extra": _user_extra(obj) | _middle_name(name) | {"roles": {role: roles[role] for role in held}},
    }


def contact(obj: dict[str, Any]) -> Record | None:
    detail = (obj.get("roles") or {}).get("contact")
    if detail is None:
        return None
    name = obj.get("name") or {}
    named = {"sis_id", "phone", "phone_type", "student_relationships"}
    extra = _user_extra(obj) | _middle_name(name) | _rest(detail, named)
    return {
        "id": obj["id"],
        "sis_id": _text(detail.get("sis_id")),
        "first_name": _text(name.get("first")),
        "last_name": _text(name.get("last")),
        "email": _text(obj.get("email")),
        "phone": _text(detail.get("phone")),
        "phone_type": _text(detail.get("phone_type")),
        "updated_at": _text(obj.get("last_modified")),
        "extra": extra,
    }


def student_contacts(obj: dict[str, Any]) -> Iterator[Record]:
    detail = (obj.get("roles") or {}).get("contact")
    if detail is None:
        return
    links: dict[str, Record] = {}
    for link in detail.get("student_relationships") or []:
        if not link.get("student"):
            continue
        links[link["student"]] = {
            "student_id": link["student"],
            "contact_id": obj["id"],
            "relationship": link.get("relationship"),
            "type": link.get("type"),
            "updated_at": None,
            "extra": {},
        }
    yield from links.values()
