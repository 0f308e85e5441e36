"""'The next night': move a district directory forward by an amount of change and record Clever events.

Changes, each a share of the district (``change`` percent of the students, at least one of each): withdrawn
students (and contacts left with no student), new students (most with a new contact), new contacts for
existing students, students moved between sections, section renames, student renames, teachers moved to
another school (their sections there go to a colleague), contact phone changes, students moved to another
school (out of their sections, into a new classmate's), students taking a section at another school, and
teachers co-teaching a section at another school (the last three bring people into a school's scope).

As Clever does, a contact without ``sis_id`` whose record changes is deleted and re-created under a new id;
one with ``sis_id`` is updated in place. The events are computed by comparing the directory before and after,
so they match exactly what changed: ``*.created`` for new ids, ``*.deleted`` for ids gone (with the last
state), ``*.updated`` with ``previous_attributes`` (the old values of the changed top-level fields, inside
``data`` beside ``object``). Event ids ascend and carry the night's ``created`` timestamp.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from plugin_runtime.failures import Failure
from roster_sandbox import dumpfile, ids

DAY = 86_400
EVENT_ORDER = [
    ("users", "created"),
    ("sections", "created"),
    ("sections", "updated"),
    ("users", "updated"),
    ("sections", "deleted"),
    ("users", "deleted"),
]


class AdvanceError(Failure):
    pass


@dataclass
class Night:
    """What one advance did, for the command's summary."""

    when: str
    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def advance(directory: Path, change: float, seed: int) -> Night:
    directory = Path(directory)
    for name in ("users", "sections", "districts"):
        if not (directory / f"{name}.json").exists():
            raise AdvanceError(f"{directory / (name + '.json')}: missing; not a Clever dump directory")
    if not 0 < change <= 100:
        raise AdvanceError(f"--change must be a percentage in (0, 100], got {change}")
    users = {u["id"]: u for u in _read(directory / "users.json")}
    sections = {s["id"]: s for s in _read(directory / "sections.json")}
    events = _read(directory / "events.json")
    night = _next_night(users, sections, events)
    before = {"users": _snapshot(users), "sections": _snapshot(sections)}
    changer = _Changer(users, sections, night, random.Random(f"{seed}:{night}"), change)
    counts = changer.run()

    stamp = ids.timestamp(night)
    new_events = _diff_events(before, {"users": users, "sections": sections}, night, stamp)
    dumpfile.write(directory / "users.json", "users", sorted(users.values(), key=lambda u: u["id"]))
    dumpfile.write(directory / "sections.json", "sections", sorted(sections.values(), key=lambda s: s["id"]))
    dumpfile.write(
        directory / "events.json", "events", [*events, *new_events]
    )  # last: events follow the data
    return Night(when=stamp, events=len(new_events), counts=counts)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        return dumpfile.read_objects(path)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise AdvanceError(f"{path}: not a Clever list envelope ({exc})") from exc


def _next_night(users: dict[str, Any], sections: dict[str, Any], events: list[dict[str, Any]]) -> int:
    """One day after the latest moment the directory knows of, so new ids and events sort after old ones."""
    stamps = [e["created"] for e in events[-1:]]
    stamps += [
        r.get("last_modified") or r.get("created") or "" for r in (*users.values(), *sections.values())
    ]
    latest = max((ids.seconds_of(s) for s in stamps if s), default=0)
    return (latest // DAY + 1) * DAY + 2 * 3600  # 02:00 UTC, when a nightly SIS export lands


def _snapshot(records: dict[str, Any]) -> dict[str, bytes]:
    encode = msgspec.json.Encoder(order="sorted").encode
    return {rid: encode(record) for rid, record in records.items()}


class _Changer:
    def __init__(
        self, users: dict[str, Any], sections: dict[str, Any], night: int, rng: random.Random, change: float
    ) -> None:
        self.users, self.sections, self.rng = users, sections, rng
        self.when = ids.timestamp(night)
        self.ids = ids.IdMaker(night)
        self.students = sorted(uid for uid, u in users.items() if "student" in u["roles"])
        self.teachers = sorted(uid for uid, u in users.items() if "teacher" in u["roles"])
        self.n = max(1, round(len(self.students) * change / 100))
        self.n_staff = max(1, round(len(self.teachers) * change / 100))
        self.touched_contacts: set[str] = set()
        self.counts: dict[str, int] = {}

    def run(self) -> dict[str, int]:
        self.withdraw(self.n)
        self.enrol(self.n)
        self.new_contacts(max(1, self.n // 2))
        self.move_students(max(1, self.n // 2))
        self.rename_sections(max(1, self.n // 4))
        self.rename_students(max(1, self.n // 4))
        self.move_teachers(self.n_staff)
        self.change_contacts(max(1, self.n // 2))
        self.change_schools(max(1, self.n // 4))
        self.cross_enrol(max(1, self.n // 4))
        self.add_outside_teachers(self.n_staff)
        self.churn_contacts()
        return self.counts

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def _sample(self, pool: list[str], k: int) -> list[str]:
        return self.rng.sample(pool, min(k, len(pool)))

    def _contacts_of(self) -> dict[str, list[str]]:
        by_student: dict[str, list[str]] = {}
        for uid, user in self.users.items():
            for rel in (user["roles"].get("contact") or {}).get("student_relationships") or []:
                by_student.setdefault(rel["student"], []).append(uid)
        return by_student

    def withdraw(self, k: int) -> None:
        gone = set(self._sample(self.students, k))
        for sid in gone:
            del self.users[sid]
        self.students = [s for s in self.students if s not in gone]
        for section in self.sections.values():
            if gone.intersection(section.get("students") or []):
                section["students"] = [s for s in section["students"] if s not in gone]
        for uid, user in list(self.users.items()):
            contact = user["roles"].get("contact")
            if not contact:
                continue
            rels = contact.get("student_relationships") or []
            kept = [r for r in rels if r["student"] not in gone]
            if not kept:
                del self.users[uid]  # a contact with no student left goes with them
                self._count("contacts removed")
            elif len(kept) != len(rels):
                contact["student_relationships"] = kept
                self.touched_contacts.add(uid)
        self._count("students withdrawn", len(gone))

    def enrol(self, k: int) -> None:
        """New students placed like an existing student of the same school and grade."""
        templates = self._sample(self.students, k)
        by_student: dict[str, list[dict[str, Any]]] = {}
        for section in self.sections.values():
            for sid in section.get("students") or []:
                by_student.setdefault(sid, []).append(section)
        for n, template_id in enumerate(templates):
            template = self.users[template_id]
            student = copy.deepcopy(template)
            uid = self.ids.next("user")
            number = f"N{self.ids.seconds}{n:06d}"
            detail = student["roles"]["student"]
            detail.update(sis_id=number, student_number=number, state_id=f"9{number}")
            detail["credentials"] = {"district_username": f"new{number}"}
            student.update(id=uid, created=self.when, email=f"new.student{number}@example.net")
            student["name"] = {
                "first": self.rng.choice(["Ada", "Ben", "Cy", "Di"]),
                "last": f"Newcomer{n}",
                "middle": "",
            }
            self.users[uid] = student
            self.students.append(uid)
            for section in by_student.get(template_id, []):
                section["students"] = [*section["students"], uid]
            if self.rng.random() < 0.8:
                self._add_contact([uid], student["name"]["last"])
        self._count("students enrolled", len(templates))

    def _add_contact(self, student_ids: list[str], last: str) -> None:
        uid = self.ids.next("user")
        has_sis_id = self.rng.random() < 0.5
        self.users[uid] = {
            "created": self.when,
            "district": next(iter(self.users.values()))["district"],
            "email": f"contact.{uid[-8:]}@example.net",
            "id": uid,
            "last_modified": self.when,
            "name": {"first": self.rng.choice(["Alex", "Jordan", "Sam"]), "last": last},
            "roles": {
                "contact": {
                    "phone": f"(312) 555-01{self.rng.randint(0, 99):02d}",
                    "phone_type": "Cell",
                    "sis_id": f"PN{uid[-10:]}" if has_sis_id else "",
                    "student_relationships": [
                        {"relationship": "Parent", "student": sid, "type": "Parent/Guardian"}
                        for sid in student_ids
                    ],
                }
            },
        }
        self._count("contacts added")

    def new_contacts(self, k: int) -> None:
        for sid in self._sample(self.students, k):
            self._add_contact([sid], self.users[sid]["name"].get("last") or "Family")

    def _sections_by_school(self) -> dict[str, list[dict[str, Any]]]:
        by_school: dict[str, list[dict[str, Any]]] = {}
        for sec_id in sorted(self.sections):
            by_school.setdefault(self.sections[sec_id].get("school") or "", []).append(self.sections[sec_id])
        return by_school

    def move_students(self, k: int) -> None:
        """A student leaves one section for another section of the same school."""
        by_school = self._sections_by_school()
        candidates = sorted(sid for sid, s in self.sections.items() if s.get("students"))
        for sec_id in self._sample(candidates, k):
            source = self.sections[sec_id]
            if not source["students"]:
                continue
            student = self.rng.choice(source["students"])
            targets = [
                s for s in by_school[source.get("school") or ""] if student not in (s.get("students") or [])
            ]
            if not targets:
                continue
            target = self.rng.choice(targets)
            source["students"] = [s for s in source["students"] if s != student]
            target["students"] = [*(target.get("students") or []), student]
            self._count("section changes")

    def rename_sections(self, k: int) -> None:
        for sec_id in self._sample(sorted(self.sections), k):
            section = self.sections[sec_id]
            section["name"] = f"{section.get('name', '')} (Room {self.rng.randint(100, 399)})"
            self._count("sections renamed")

    def rename_students(self, k: int) -> None:
        for sid in self._sample(self.students, k):
            user = self.users[sid]
            user["name"] = {
                **(user.get("name") or {}),
                "last": self.rng.choice(["Rivera", "Okoro", "Lindqvist", "Tanaka"]),
            }
            self._count("students renamed")

    def move_teachers(self, k: int) -> None:
        """A teacher moves to another school; their sections stay behind with a colleague."""
        schools = sorted({s.get("school") for s in self.sections.values() if s.get("school")})
        for tid in self._sample([t for t in self.teachers if t in self.users], k):
            detail = self.users[tid]["roles"]["teacher"]
            old = detail.get("school")
            choices = [s for s in schools if s != old]
            if not choices:
                continue
            new = self.rng.choice(choices)
            detail["school"] = new
            detail["schools"] = [new]
            colleagues = sorted(
                t
                for t in self.teachers
                if t != tid
                and t in self.users
                and old in (self.users[t]["roles"]["teacher"].get("schools") or [])
            )
            for section in self.sections.values():
                if tid in (section.get("teachers") or []) or section.get("teacher") == tid:
                    replacement = self.rng.choice(colleagues) if colleagues else None
                    teachers = [t for t in section.get("teachers") or [] if t != tid]
                    if replacement and replacement not in teachers:
                        teachers.insert(0, replacement)
                    section["teachers"] = teachers
                    section["teacher"] = teachers[0] if teachers else None
            self._count("teachers moved")

    def change_contacts(self, k: int) -> None:
        contacts = sorted(uid for uid, u in self.users.items() if "contact" in u["roles"])
        for uid in self._sample(contacts, k):
            detail = self.users[uid]["roles"]["contact"]
            detail["phone"] = f"(773) 555-01{self.rng.randint(0, 99):02d}"
            self.touched_contacts.add(uid)
            self._count("contacts changed")

    def change_schools(self, k: int) -> None:
        """A student moves to another school: out of their sections, into those of a student of the same
        grade there (of any grade when none has it)."""
        schools = sorted({s.get("school") for s in self.sections.values() if s.get("school")})
        sections_of: dict[str, list[dict[str, Any]]] = {}
        for section in self.sections.values():
            for sid in section.get("students") or []:
                sections_of.setdefault(sid, []).append(section)
        by_school: dict[str, list[str]] = {}
        for sid in self.students:
            by_school.setdefault(self.users[sid]["roles"]["student"].get("school") or "", []).append(sid)
        moved: set[str] = set()
        for sid in self._sample(self.students, k):
            detail = self.users[sid]["roles"]["student"]
            choices = [s for s in schools if s != detail.get("school") and by_school.get(s)]
            if not choices:
                continue
            new = self.rng.choice(choices)
            peers = [p for p in by_school[new] if p not in moved]
            if not peers:
                continue
            same_grade = [
                p for p in peers if self.users[p]["roles"]["student"].get("grade") == detail.get("grade")
            ]
            peer = self.rng.choice(same_grade or peers)
            for section in sections_of.pop(sid, []):
                section["students"] = [s for s in section["students"] if s != sid]
            sections_of[sid] = list(sections_of.get(peer, []))
            for section in sections_of[sid]:
                section["students"] = [*section["students"], sid]
            detail["school"] = new
            detail["schools"] = [new]
            moved.add(sid)
            self._count("students changed school")

    def cross_enrol(self, k: int) -> None:
        """A student also takes a section at another school (a shared program)."""
        by_school = self._sections_by_school()
        for sid in self._sample(self.students, k):
            home = self.users[sid]["roles"]["student"].get("school")
            choices = [s for s in sorted(by_school) if s and s != home]
            if not choices:
                continue
            section = self.rng.choice(by_school[self.rng.choice(choices)])
            if sid in (section.get("students") or []):
                continue
            section["students"] = [*(section.get("students") or []), sid]
            self._count("students in another school's section")

    def add_outside_teachers(self, k: int) -> None:
        """A teacher co-teaches a section at a school they do not work at."""
        by_school = self._sections_by_school()
        for tid in self._sample([t for t in self.teachers if t in self.users], k):
            detail = self.users[tid]["roles"]["teacher"]
            home = {detail.get("school"), *(detail.get("schools") or [])}
            choices = [s for s in sorted(by_school) if s and s not in home]
            if not choices:
                continue
            section = self.rng.choice(by_school[self.rng.choice(choices)])
            section["teachers"] = [*(section.get("teachers") or []), tid]
            self._count("teachers added to another school's section")

    def churn_contacts(self) -> None:
        """Clever re-creates a changed contact that has no sis_id under a new id."""
        for uid in sorted(self.touched_contacts):
            user = self.users.get(uid)
            if user is None or (user["roles"]["contact"].get("sis_id") or ""):
                continue
            del self.users[uid]
            new_id = self.ids.next("user")
            self.users[new_id] = {**user, "id": new_id, "created": self.when}
            self._count("contact ids churned")


def _diff_events(
    before: dict[str, dict[str, bytes]], after: dict[str, dict[str, Any]], night: int, stamp: str
) -> list[dict[str, Any]]:
    """Events for exactly what differs between the snapshots, stamping changed records' last_modified."""
    decode = msgspec.json.decode
    encode = msgspec.json.Encoder(order="sorted").encode
    found: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in EVENT_ORDER}
    for collection in ("users", "sections"):
        old, new = before[collection], after[collection]
        for rid in sorted(new):
            record = new[rid]
            if rid not in old:
                record["last_modified"] = stamp
                found[(collection, "created")].append({"object": record})
            elif encode(record) != old[rid]:
                previous = decode(old[rid])
                record["last_modified"] = stamp
                changed = {
                    k: previous.get(k)
                    for k in sorted(set(previous) | set(record))
                    if previous.get(k) != record.get(k)
                }
                found[(collection, "updated")].append({"object": record, "previous_attributes": changed})
        for rid in sorted(set(old) - set(new)):
            found[(collection, "deleted")].append({"object": decode(old[rid])})
    maker = ids.IdMaker(night)
    events = []
    for collection, action in EVENT_ORDER:
        for data in found[(collection, action)]:
            events.append(
                {"created": stamp, "id": maker.next("event"), "type": f"{collection}.{action}", "data": data}
            )
    return events
