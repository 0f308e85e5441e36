"""The hard shapes real OneRoster exports have, added to a district's OneRoster objects (``--shapes hard``).

Deterministic, school by school (schools in id order), on the objects a CSV bundle is written from:

- a department ``dep-<school>`` under each school, holding every tenth class of the school (with its
  enrollments) and attached to those classes' primary teacher instead of the school;
- a district-level teacher per school: attached to the district instead of the school (classes stay);
- a teacher per school with a second role (1.2: ``siteAdministrator`` at the next school);
- a teacher per school who is also the guardian of two students of the school (1.2: a secondary role;
  1.1: a second users row for the same person, as Skyward sends several rows);
- one class per school ``tobedeleted`` whose enrollments stay active, and one whose teachers are gone;
- a teacher per school also enrolled as a student in another class;
- a substitute per school whose one role is a vendor extension (``ext:substitute``), none Bloomz imports;
- classType in title case (``Scheduled``, ``Homeroom``).

The CSV writer adds the rest (csv_export.py): headers ending in empty columns (``...,,``) and dates
written day first (``1/05/2023``). ``HardShapes`` records who was given which shape, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class HardShapes:
    """Which source ids were given each shape."""

    departments: dict[str, str] = field(default_factory=dict)  # department id → its school
    department_classes: list[str] = field(default_factory=list)
    district_teachers: list[str] = field(default_factory=list)
    two_role_teachers: list[str] = field(default_factory=list)
    guardian_teachers: dict[str, list[str]] = field(default_factory=dict)  # teacher → their students
    deleted_classes: list[str] = field(default_factory=list)
    classes_without_teacher: list[str] = field(default_factory=list)
    teachers_as_students: dict[str, str] = field(default_factory=dict)  # teacher → the class
    substitutes: list[str] = field(default_factory=list)  # users whose only role is ext:substitute


def harden(objects: dict[str, list[Obj]], version: str) -> HardShapes:
    """Give the district's objects (``orgs``, ``users``, ``classes``, ``enrollments``) the hard shapes."""
    shapes = HardShapes()
    orgs, users, classes = objects["orgs"], objects["users"], objects["classes"]
    enrollments = objects["enrollments"]
    district = next(o["sourcedId"] for o in orgs if o["type"] == "district")
    schools = sorted(o["sourcedId"] for o in orgs if o["type"] == "school")
    by_id = {u["sourcedId"]: u for u in users}
    taken: set[str] = set()
    for n, school in enumerate(schools):
        own = sorted((c for c in classes if c["school"]["sourcedId"] == school), key=lambda c: c["sourcedId"])
        rosters = {
            c["sourcedId"]: [e for e in enrollments if e["class"]["sourcedId"] == c["sourcedId"]] for c in own
        }
        teachers = sorted(
            {e["user"]["sourcedId"] for c in own for e in rosters[c["sourcedId"]] if e["role"] == "teacher"}
        )
        students = sorted(
            {e["user"]["sourcedId"] for c in own for e in rosters[c["sourcedId"]] if e["role"] == "student"}
        )
        if len(own) < 6 or len(students) < 2:
            continue

        department = f"dep-{school}"
        orgs.append(
            {
                **{k: v for k, v in orgs[0].items() if k in ("status", "dateLastModified")},
                "sourcedId": department,
                "name": "Science Department",
                "type": "department",
                "identifier": "",
                "parent": {"sourcedId": school, "type": "org"},
            }
        )
        shapes.departments[department] = school
        for cls in own[1::10]:
            cls["school"] = {"sourcedId": department, "type": "org"}
            shapes.department_classes.append(cls["sourcedId"])
            for enrollment in rosters[cls["sourcedId"]]:
                enrollment["school"] = {"sourcedId": department, "type": "org"}
                if enrollment["role"] == "teacher" and enrollment.get("primary") == "true":
                    _move(by_id[enrollment["user"]["sourcedId"]], school, department, version)
                    taken.add(enrollment["user"]["sourcedId"])

        # four more teachers, one shape each (a school short of free teachers gets fewer)
        free = iter([t for t in teachers if t not in taken])
        if (at_district := next(free, None)) is not None:
            _move(by_id[at_district], school, district, version)
            shapes.district_teachers.append(at_district)
        if version == "1.2" and (two_roles := next(free, None)) is not None:
            other = schools[(n + 1) % len(schools)]
            by_id[two_roles]["roles"].append(_role("secondary", "siteAdministrator", other))
            shapes.two_role_teachers.append(two_roles)
        if (guardian := next(free, None)) is not None:
            kids = students[:2]
            _make_guardian(by_id, users, guardian, kids, school, version)
            shapes.guardian_teachers[guardian] = kids
        learner = next(free, None)
        taken.update(shapes.district_teachers + shapes.two_role_teachers + list(shapes.guardian_teachers))

        substitute = f"sub-{school}"
        users.append(_substitute(by_id[teachers[0]], substitute, school, version))
        shapes.substitutes.append(substitute)

        deleted, untaught = own[2], own[3]
        deleted["status"] = "tobedeleted"
        shapes.deleted_classes.append(deleted["sourcedId"])
        enrollments[:] = [
            e
            for e in enrollments
            if not (e["class"]["sourcedId"] == untaught["sourcedId"] and e["role"] == "teacher")
        ]
        shapes.classes_without_teacher.append(untaught["sourcedId"])

        lesson = own[4]
        if learner is None:
            continue
        taken.add(learner)
        enrollments.append(
            {
                **rosters[lesson["sourcedId"]][0],
                "sourcedId": f"{lesson['sourcedId']}-{learner}-as-student",
                "user": {"sourcedId": learner, "type": "user"},
                "role": "student",
                "primary": "false",
            }
        )
        shapes.teachers_as_students[learner] = lesson["sourcedId"]
    for cls in classes:
        cls["classType"] = str(cls.get("classType") or "").title()
    return shapes


def _role(role_type: str, role: str, org: str) -> Obj:
    return {"roleType": role_type, "role": role, "org": {"sourcedId": org, "type": "org"}}


def _substitute(teacher: Obj, sourced_id: str, school: str, version: str) -> Obj:
    """A new user shaped like ``teacher``, whose only role is a vendor extension of the standard's roles."""
    user = {**teacher, "sourcedId": sourced_id, "email": "", "username": "", "agents": []}
    if version == "1.2":
        user["roles"] = [_role("primary", "ext:substitute", school)]
        user["primaryOrg"] = {"sourcedId": school, "type": "org"}
    else:
        user["role"] = "ext:substitute"
        user["orgs"] = [{"sourcedId": school, "type": "org"}]
    return user


def _move(user: Obj, old: str, new: str, version: str) -> None:
    """Attach a user to ``new`` where it was attached to ``old``."""
    if version == "1.2":
        for role in user["roles"]:
            if role["org"]["sourcedId"] == old:
                role["org"] = {"sourcedId": new, "type": "org"}
        if user.get("primaryOrg", {}).get("sourcedId") == old:
            user["primaryOrg"] = {"sourcedId": new, "type": "org"}
    else:
        user["orgs"] = [
            {"sourcedId": new, "type": "org"} if o["sourcedId"] == old else o for o in user["orgs"]
        ]


def _make_guardian(
    by_id: dict[str, Obj], users: list[Obj], teacher: str, kids: list[str], school: str, version: str
) -> None:
    """The teacher becomes the guardian of the students, who list them as an agent."""
    for kid in kids:
        by_id[kid]["agents"] = [*by_id[kid].get("agents", []), {"sourcedId": teacher, "type": "user"}]
    agents = [{"sourcedId": kid, "type": "user"} for kid in kids]
    if version == "1.2":
        by_id[teacher]["roles"].append(_role("secondary", "guardian", school))
        by_id[teacher]["agents"] = [*by_id[teacher].get("agents", []), *agents]
    else:  # 1.1 has one role per row: the SIS sends the person again, as a guardian
        users.append({**by_id[teacher], "role": "guardian", "agents": agents})
