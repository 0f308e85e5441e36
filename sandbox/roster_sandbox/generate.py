"""Deterministic synthetic districts in Clever's dump format, with the awkward cases real districts have.

Same seed and size, same files, byte for byte. Schools are generated one at a time and streamed to
``users.json`` and ``sections.json`` as they are made: memory stays bounded by one school whatever the size.

Section names follow Clever's demo district: "<course>, Class <code> - <teacher> - <period>" (the code is the
group's grade and number, "Class 903"), and about 8% of each school's sections share a name with another of
the same teacher, as in that district (29 of 378): a teacher's sections of one course in one period named
"<course> - <teacher> - <period>", or a course taught per semester named the same in both semesters.

Awkward cases, each present in every size: duplicated section names, students enrolled in two schools,
siblings sharing contacts, contacts with and without ``sis_id``, several contact types for one contact,
students with no contact, staff who are also teachers, teachers in two schools, co-taught sections, homerooms
and specialist sections (art, music, PE) in elementary schools.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roster_sandbox import dumpfile, ids

SIZES = {  # students, schools
    "tiny": (50, 2),
    "small": (3000, 4),
    "large": (100_000, 60),
    "huge": (500_000, 300),
    "many": (30_000, 100),  # many small schools, for one job per school (bench/many_schools_night.py)
}
EPOCH = 1_754_000_000  # 2025-07-31: "generation time" of every synthetic district
FIRST = [
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Zoe",
    "Eli",
    "Ivy",
    "Leo",
    "Ana",
    "Omar",
    "Sara",
    "Ken",
    "Lena",
    "Raj",
    "Nia",
    "Tom",
    "Ada",
    "Luis",
    "Mei",
    "Sam",
    "Jade",
    "Ian",
    "Rosa",
    "Ben",
    "Kai",
    "Amir",
    "Eva",
    "Finn",
    "Hana",
    "Jon",
]
LAST = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Kim",
    "Patel",
    "Lopez",
    "Brown",
    "Chen",
    "Okafor",
    "Rossi",
    "Silva",
    "Khan",
    "Murphy",
    "Haddad",
    "Novak",
    "Santos",
    "Ito",
    "Berg",
    "Adams",
    "Diaz",
    "Meyer",
    "Reyes",
    "Ward",
    "Cohen",
]
GRADES_ELEMENTARY = ["Kindergarten", "1", "2", "3", "4", "5"]
GRADES_MIDDLE = ["6", "7", "8"]
GRADES_HIGH = ["9", "10", "11", "12"]
SECONDARY_COURSES = [
    ("English", "english/language arts"),
    ("Math", "math"),
    ("Science", "science"),
    ("History", "social studies"),
    ("Spanish", "language"),
    ("Robotics", "technology and engineering"),
    ("Band", "arts and music"),
    ("PE", "PE and health"),
]
SPECIALS = [("Art", "arts and music"), ("Music", "arts and music"), ("PE", "PE and health")]
RELATIONSHIPS = [
    ("Parent", "Parent/Guardian"),
    ("Parent", "Primary"),
    ("Grandparent", "Emergency"),
    ("Aunt/Uncle", "Family"),
    ("Sibling", "Emergency"),
    ("Other", "Other"),
]
SECTION_SIZE = 25
DUPLICATE_NAME_SHARE = 0.08  # of a school's sections; Clever's demo district: 29 of 378
SECONDARY_PERIODS = range(1, 8)  # a group takes six courses in seven periods


@dataclass
class Counts:
    students: int = 0
    teachers: int = 0
    staff: int = 0
    contacts: int = 0
    sections: int = 0
    enrollments: int = 0
    schools: int = 0


@dataclass
class _Naming:
    """What a section's name is made of, and which sections may share it (same teacher, same course)."""

    coded: str  # "Math 9, Class 903"
    course: str  # "Math 9"
    code: str  # "903"
    teacher: str  # the primary teacher's last name
    group: tuple[str, str]  # (primary teacher id, course)


@dataclass
class _Carry:
    """People shared with the next school: students in two schools, teachers in two schools."""

    students: list[dict[str, Any]] = field(default_factory=list)
    teacher: dict[str, Any] | None = None


class Generator:
    def __init__(self, size: str, seed: int) -> None:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
        self.size = size
        self.seed = seed
        self.rng = random.Random(f"{size}:{seed}")
        # Periods and shared names draw from their own generator: people, sections and enrollments stay
        # what the main one makes.
        self.names = random.Random(f"{size}:{seed}:section names")
        self.students_total, self.school_total = SIZES[size]
        self.ids = ids.IdMaker(EPOCH)
        self.created = ids.timestamp(EPOCH)
        self.district_id = self.ids.next("district")
        self.counts = Counts()
        self.terms = [
            self._term("Semester 1", "2025-08-20", "2026-01-15"),
            self._term("Semester 2", "2026-01-16", "2026-06-10"),
            self._term("Full Year 2025-26", "2025-08-20", "2026-06-10"),
        ]
        self.courses: dict[str, dict[str, Any]] = {}
        self.schools = [self._school(n) for n in range(self.school_total)]
        self._serial = 0

    # --- static parts --------------------------------------------------------------------------------

    def _term(self, name: str, start: str, end: str) -> dict[str, Any]:
        return {
            "district": self.district_id,
            "id": self.ids.next("term"),
            "name": name,
            "start_date": start,
            "end_date": end,
        }

    def _school(self, n: int) -> dict[str, Any]:
        level = ("elementary", "middle", "high")[n % 3] if self.school_total > 1 else "elementary"
        low, high = {"elementary": ("Kindergarten", "5"), "middle": ("6", "8"), "high": ("9", "12")}[level]
        name = f"{LAST[n % len(LAST)]} {level.title()} School" + (
            f" {n // len(LAST) + 1}" if n >= len(LAST) else ""
        )
        return {
            "created": self.created,
            "district": self.district_id,
            "high_grade": high,
            "id": self.ids.next("school"),
            "last_modified": self.created,
            "location": {
                "address": f"{100 + n} Main Street",
                "city": "Springfield",
                "state": "IL",
                "zip": f"627{n % 100:02d}",
            },
            "low_grade": low,
            "name": name,
            "phone": f"(217) 555-01{n % 100:02d}",
            "principal": {
                "email": f"principal{n + 1}@example.net",
                "name": f"Principal {LAST[n % len(LAST)]}",
            },
            "school_number": f"{n + 1:03d}",
            "sis_id": f"SCH{n + 1:03d}",
            "state_id": f"IL{n + 1:05d}",
            "ext": {"level": level},
        }

    def district(self) -> dict[str, Any]:
        return {
            "id": self.district_id,
            "name": f"Sandbox {self.size.title()} District {self.seed}",
            "district_contact": {
                "district": self.district_id,
                "email": "admin@example.net",
                "id": self.ids.next("contact"),
                "name": {"first": "Dana", "last": "Admin"},
                "title": "IT Director",
            },
            "error": "",
            "last_sync": self.created,
            "launch_date": "2025-08-01",
            "login_methods": ["Clever Badges"],
            "nces_id": f"17{self.seed % 100000:05d}",
            "portal_url": "https://clever.com/in/sandbox",
            "sis_type": "sftp",
            "state": "running",
        }

    def course(self, title: str, grade: str) -> dict[str, Any]:
        key = f"{title} {grade}"
        if key not in self.courses:
            self.courses[key] = {
                "district": self.district_id,
                "id": self.ids.next("course"),
                "name": key,
                "number": f"C{len(self.courses) + 1:04d}",
            }
        return self.courses[key]

    # --- people --------------------------------------------------------------------------------------

    def _person(self) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        self._serial += 1
        return first, last, f"{first.lower()}.{last.lower()}{self._serial}@example.net"

    def _student(self, school: dict[str, Any], grade: str) -> dict[str, Any]:
        first, last, email = self._person()
        number = f"{100000 + self._serial}"
        user_id = self.ids.next("user")
        self.counts.students += 1
        born = f"{self.rng.randint(1, 12)}/{self.rng.randint(1, 28)}/{2020 - _grade_number(grade)}"
        return {
            "created": self.created,
            "district": self.district_id,
            "email": email if self.rng.random() < 0.7 else None,
            "id": user_id,
            "last_modified": self.created,
            "name": {"first": first, "last": last, "middle": self.rng.choice("ABCDEJKLMR")},
            "roles": {
                "student": {
                    "credentials": {"district_username": email.split("@")[0]},
                    "dob": born,
                    "enrollments": [],
                    "gender": self.rng.choice("MFX"),
                    "grade": grade,
                    "graduation_year": str(2038 - _grade_number(grade)),
                    "hispanic_ethnicity": self.rng.choice("YN"),
                    "location": {"address": "", "city": "Springfield", "state": "IL", "zip": "62701"},
                    "race": self.rng.choice(
                        ["Caucasian", "Asian", "Black or African American", "Two or More Races", "Unknown"]
                    ),
                    "school": school["id"],
                    "schools": [school["id"]],
                    "sis_id": number,
                    "state_id": f"9{number}",
                    "student_number": number,
                }
            },
        }

    def _staff_user(self, school: dict[str, Any], title: str, roles: tuple[str, ...]) -> dict[str, Any]:
        first, last, email = self._person()
        user_id = self.ids.next("user")
        detail: dict[str, Any] = {}
        if "teacher" in roles:
            self.counts.teachers += 1
            detail["teacher"] = {
                "credentials": {"district_username": email.split("@")[0]},
                "school": school["id"],
                "schools": [school["id"]],
                "sis_id": f"T{self._serial}",
                "state_id": f"8{self._serial}",
                "teacher_number": f"{50000 + self._serial}",
                "title": title,
            }
        if "staff" in roles:
            self.counts.staff += 1
            detail["staff"] = {
                "credentials": {"district_username": email.split("@")[0]},
                "department": "Administration",
                "roles": ["staff"],
                "schools": [school["id"]],
                "staff_id": f"S{self._serial}",
                "title": "Assistant Principal" if "teacher" in roles else title,
            }
        return {
            "created": self.created,
            "district": self.district_id,
            "email": email,
            "id": user_id,
            "last_modified": self.created,
            "name": {"first": first, "last": last, "middle": ""},
            "roles": detail,
        }

    def _contacts(self, family: list[dict[str, Any]], showcase: bool) -> Iterator[dict[str, Any]]:
        """0 to 3 contacts shared by siblings; half with a sis_id; some with two types for one student.

        A ``showcase`` family has two contacts, one with sis_id and one without, the first with two types.
        """
        roll = self.rng.random()
        how_many = 2 if showcase else 0 if roll < 0.05 else 1 if roll < 0.45 else 2 if roll < 0.9 else 3
        last = family[0]["name"]["last"]
        for n in range(how_many):
            relationship, kind = RELATIONSHIPS[0] if n == 0 else self.rng.choice(RELATIONSHIPS)
            relations = [{"relationship": relationship, "student": s["id"], "type": kind} for s in family]
            if kind != "Emergency" and ((showcase and n == 0) or self.rng.random() < 0.15):
                relations.append(
                    {"relationship": relationship, "student": family[0]["id"], "type": "Emergency"}
                )
            first = self.rng.choice(FIRST)
            self._serial += 1
            has_sis_id = n == 0 if showcase else self.rng.random() < 0.5
            self.counts.contacts += 1
            yield {
                "created": self.created,
                "district": self.district_id,
                "email": f"{first.lower()}.{last.lower()}.family{self._serial}@example.net"
                if self.rng.random() < 0.85
                else None,
                "id": self.ids.next("user"),
                "last_modified": self.created,
                # Clever often puts a contact's whole name in name.last.
                "name": {"first": first, "last": last}
                if self.rng.random() < 0.6
                else {"last": f"{first} {last}"},
                "roles": {
                    "contact": {
                        "phone": f"({self.rng.randint(201, 989)}) 555-01{self.rng.randint(0, 99):02d}"
                        if self.rng.random() < 0.8
                        else "",
                        "phone_type": self.rng.choice(["Cell", "Cell", "Home", "Work"]),
                        "sis_id": f"P{self._serial}" if has_sis_id else "",
                        "student_relationships": relations,
                    }
                },
            }

    def district_admins(self) -> list[dict[str, Any]]:
        admins = []
        for title in ("Superintendent", "Data Manager"):
            first, last, email = self._person()
            admins.append(
                {
                    "created": self.created,
                    "district": self.district_id,
                    "email": email,
                    "id": self.ids.next("user"),
                    "last_modified": self.created,
                    "name": {"first": first, "last": last},
                    "roles": {"district_admin": {"title": title}},
                }
            )
        return admins

    # --- sections --------------------------------------------------------------------------------------

    def _section(
        self,
        school: dict[str, Any],
        course: dict[str, Any],
        subject: str,
        grade: str,
        period: int,
        term: dict[str, Any],
        naming: tuple[str, str, str],
        teachers: list[dict[str, Any]],
        students: list[dict[str, Any]],
    ) -> tuple[dict[str, Any], _Naming]:
        """A section and what its name is made of; ``naming`` is (coded label, course label, class code)."""
        self.counts.sections += 1
        self.counts.enrollments += len(students) + len(teachers)
        primary = teachers[0]
        coded, label, code = naming
        made = _Naming(coded, label, code, primary["name"]["last"], (primary["id"], label))
        section = {
            "course": course["id"],
            "created": self.created,
            "district": self.district_id,
            "grade": grade,
            "id": self.ids.next("section"),
            "last_modified": self.created,
            "name": f"{coded} - {made.teacher} - {period}",
            "period": str(period),
            "school": school["id"],
            "section_number": f"{course['number']}-{code}",
            "sis_id": f"SEC{self.counts.sections}",
            "students": [s["id"] for s in students],
            "subject": subject,
            "teacher": primary["id"],
            "teachers": [t["id"] for t in teachers],
            "term_id": term["id"],
        }
        return section, made

    def _elementary_sections(
        self, school: dict[str, Any], by_grade: dict[str, list[Any]], teacher: Any, teachers: list[Any]
    ) -> Iterator[tuple[dict[str, Any], _Naming]]:
        """A homeroom per class of 25, and art, music and PE for the same class with specialist teachers."""
        full_year = self.terms[2]
        specialists = {title: teacher(f"{title} Teacher") for title, _ in SPECIALS}
        first_grade = next(iter(by_grade))
        for grade, kids in by_grade.items():
            for number, start in enumerate(range(0, len(kids), SECTION_SIZE), 1):
                group = kids[start : start + SECTION_SIZE]
                code = _class_code(grade, number)
                staff = [teacher(f"Grade {grade} Teacher")]
                # The school's first homeroom, and about one in ten others, is co-taught.
                if ((start == 0 and grade == first_grade) or self.rng.random() < 0.1) and len(teachers) > 1:
                    staff.append(self.rng.choice(teachers[:-1]))
                homeroom = self.course("Homeroom", grade)
                naming = (f"Class {code}, Homeroom", "Homeroom", code)
                yield self._section(
                    school, homeroom, "homeroom/advisory", grade, 0, full_year, naming, staff, group
                )
                periods = self.names.sample(range(1, 7), len(SPECIALS))
                for period, (title, subject) in zip(periods, SPECIALS, strict=True):
                    course, specialist = self.course(title, grade), [specialists[title]]
                    naming = (f"{_grade_title(grade)} {title}, Class {code}", title, code)
                    yield self._section(
                        school, course, subject, grade, period, full_year, naming, specialist, group
                    )

    def _secondary_sections(
        self,
        school: dict[str, Any],
        by_grade: dict[str, list[Any]],
        teacher: Any,
        teachers: list[Any],
        shared_teacher: dict[str, Any] | None,
    ) -> Iterator[tuple[dict[str, Any], _Naming]]:
        """Six courses per grade in sections of 25, each group on its own timetable; Spanish runs per
        semester (the second in the group's free period)."""
        semester1, semester2, full_year = self.terms
        first_grade = next(iter(by_grade))
        for grade, kids in by_grade.items():
            starts = range(0, len(kids), SECTION_SIZE)
            timetables = [self.names.sample(SECONDARY_PERIODS, len(SECONDARY_PERIODS)) for _ in starts]
            for index, (title, subject) in enumerate(SECONDARY_COURSES[:6]):
                course = self.course(title, grade)
                shares = shared_teacher is not None and title == "Math" and grade == first_grade
                who = shared_teacher if shares and shared_teacher else teacher(f"{title} Teacher")
                for number, (start, timetable) in enumerate(zip(starts, timetables, strict=True), 1):
                    group = kids[start : start + SECTION_SIZE]
                    staff = [who] + ([self.rng.choice(teachers)] if self.rng.random() < 0.05 else [])
                    staff = list({t["id"]: t for t in staff}.values())
                    code = _class_code(grade, number)
                    naming = (f"{course['name']}, Class {code}", course["name"], code)
                    terms = (
                        [(semester1, timetable[index]), (semester2, timetable[-1])]
                        if title == "Spanish"
                        else [(full_year, timetable[index])]
                    )
                    for term, period in terms:
                        yield self._section(
                            school, course, subject, grade, period, term, naming, staff, group
                        )

    def _share_names(self, made: list[tuple[dict[str, Any], _Naming]]) -> list[dict[str, Any]]:
        """Give about DUPLICATE_NAME_SHARE of a school's sections (at least one where it can) the name of
        the section before them with the same teacher and course.

        Sections sharing a name take its period too. Most share "<course> - <teacher> - <period>" (a
        teacher's sections of one course in one period, as Clever's demo district has them); a semester
        course's two halves of one class share the full name.
        """
        previous: dict[tuple[str, str], int] = {}
        candidates: list[tuple[int, int]] = []  # (a section, the one before it with its teacher and course)
        for i, (_, naming) in enumerate(made):
            if naming.group in previous:
                candidates.append((i, previous[naming.group]))
            previous[naming.group] = i
        want = min(len(candidates), max(1, round(len(made) * DUPLICATE_NAME_SHARE)))
        first_of: dict[int, int] = {}
        for i, before in sorted(self.names.sample(candidates, want)):
            first_of[i] = first_of.get(before, before)
        runs: dict[int, list[int]] = {}
        for i, first in first_of.items():
            runs.setdefault(first, [first]).append(i)
        taken: set[str] = set()
        for first, members in runs.items():
            section, naming = made[first]
            if len({made[i][1].code for i in members}) == 1:
                name, period = section["name"], section["period"]
            else:
                # Another run of this teacher and course may hold the period's name already.
                tried = [section["period"], *(str(p) for p in SECONDARY_PERIODS)]
                period = next((p for p in tried if _plain_name(naming, p) not in taken), tried[0])
                name = _plain_name(naming, period)
                taken.add(name)
            for i in members:
                made[i][0].update(name=name, period=period)
        return [section for section, _ in made]

    def school_people(
        self, school: dict[str, Any], students_here: int, carry: _Carry
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], _Carry]:
        """(users, sections) of one school, and who carries over to the next."""
        level = school["ext"]["level"]
        grades = {"elementary": GRADES_ELEMENTARY, "middle": GRADES_MIDDLE, "high": GRADES_HIGH}[level]
        users: list[dict[str, Any]] = []
        by_grade: dict[str, list[dict[str, Any]]] = {g: [] for g in grades}
        placed, families = 0, 0
        while placed < students_here:
            grade = self.rng.choice(grades)
            family = [self._student(school, grade)]
            if families == 1 or self.rng.random() < 0.2:  # a sibling in another grade of the same school
                family.append(self._student(school, self.rng.choice(grades)))
            for student in family:
                by_grade[student["roles"]["student"]["grade"]].append(student)
                users.append(student)
            # Every school shows each awkward case: its first family has no contact, its second is a showcase.
            if families:
                users.extend(self._contacts(family, showcase=families == 1))
            placed += len(family)
            families += 1
        # Students from the previous school who are also enrolled here.
        for student in carry.students:
            student["roles"]["student"]["schools"].append(school["id"])
            by_grade[grades[0]].append(student)
        teachers: list[dict[str, Any]] = []

        def teacher(title: str) -> dict[str, Any]:
            # The school's first teacher is also staff (assistant principal); a few others are too.
            roles = ("teacher", "staff") if not teachers or self.rng.random() < 0.03 else ("teacher",)
            made = self._staff_user(school, title, roles)
            users.append(made)
            teachers.append(made)
            return made

        if carry.teacher is not None:  # a teacher shared with the previous school
            carry.teacher["roles"]["teacher"]["schools"].append(school["id"])
            teachers.append(carry.teacher)
        for n in range(max(1, students_here // 400)):
            users.append(self._staff_user(school, "Office Manager" if n else "Principal", ("staff",)))
        if level == "elementary":
            made = list(self._elementary_sections(school, by_grade, teacher, teachers))
        else:
            made = list(self._secondary_sections(school, by_grade, teacher, teachers, carry.teacher))
        sections = self._share_names(made)
        if carry.teacher is not None:
            users.append(carry.teacher)
        all_students = [u for u in users if "student" in u["roles"]]
        carry_out = _Carry(
            students=self.rng.sample(all_students, min(2, len(all_students)))
            if self.school_total > 1
            else [],
            teacher=teachers[-1] if self.school_total > 1 and teachers else None,
        )
        # People carried to the next school are written there (they gain a school); write the rest now.
        carried = {s["id"] for s in carry_out.students} | (
            {carry_out.teacher["id"]} if carry_out.teacher else set()
        )
        # A student carried *in* from the previous school is written here, after gaining this school.
        users.extend(carry.students)
        return [u for u in users if u["id"] not in carried], sections, carry_out


def _grade_number(grade: str) -> int:
    return 0 if grade == "Kindergarten" else int(grade)


def _grade_title(grade: str) -> str:
    return grade if grade == "Kindergarten" else f"Grade {grade}"


def _class_code(grade: str, number: int) -> str:
    """A class's code as schools print it: grade, then its number in the grade ("Class 903", "Class 001")."""
    return f"{_grade_number(grade)}{number:02d}"


def _plain_name(naming: _Naming, period: str) -> str:
    return f"{naming.course} - {naming.teacher} - {period}"


def generate(size: str, seed: int, out: Path) -> Counts:
    """Write a synthetic district directory; returns what it holds."""
    gen = Generator(size, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_school = gen.students_total // gen.school_total
    users_path, sections_path = out / "users.json", out / "sections.json"
    with (
        dumpfile.StreamWriter(users_path, "users") as users,
        dumpfile.StreamWriter(sections_path, "sections") as sections,
    ):
        carry = _Carry()
        for n, school in enumerate(gen.schools):
            count = (
                per_school
                if n < gen.school_total - 1
                else gen.students_total - per_school * (gen.school_total - 1)
            )
            school_users, school_sections, carry = gen.school_people(school, count, carry)
            users.write_all(school_users)
            sections.write_all(school_sections)
        # Whoever was carried out of the last school has nowhere further to go.
        users.write_all(carry.students + ([carry.teacher] if carry.teacher else []))
        users.write_all(gen.district_admins())
    gen.counts.schools = len(gen.schools)
    dumpfile.write(out / "schools.json", "schools", gen.schools)
    dumpfile.write(out / "terms.json", "terms", gen.terms)
    dumpfile.write(out / "courses.json", "courses", sorted(gen.courses.values(), key=lambda c: c["id"]))
    dumpfile.write(out / "districts.json", "districts", [gen.district()])
    dumpfile.write(out / "events.json", "events", [])
    return gen.counts
