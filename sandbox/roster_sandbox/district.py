"""A district directory in Clever's dump format, loaded for serving.

The directory holds ``districts.json``, ``users.json``, ``sections.json`` and optionally ``schools.json``,
``terms.json``, ``courses.json`` and ``events.json``, each a Clever list envelope
(``{"data": [{"data": {...}, "uri": "..."}], "links": [...]}``). Schools, terms and courses that sections or
users refer to but that have no file are synthesised with the referenced ids, so the real demo-district dump
(which has no schools.json) serves as it is.

Records stay encoded: each is kept as the raw JSON bytes of its object plus the few fields used for indexing,
so a large district costs little memory and a page is a join of cached bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from plugin_runtime.failures import Failure
from roster_sandbox import dumpfile

COLLECTIONS = ("districts", "schools", "terms", "courses", "sections", "users")
OPTIONAL_FILES = ("schools", "terms", "courses")
REQUIRED_FILES = ("districts", "users", "sections")
USER_ROLES = ("student", "teacher", "staff", "district_admin", "contact")
# One record's JSON: bytes, or a zero-copy msgspec.Raw slice of the file it was read from.
Encoded = bytes | msgspec.Raw


class DistrictError(Failure):
    """The directory cannot be served; the message names the file and what is wrong."""


@dataclass
class Collection:
    """One Clever collection, sorted by ascending id."""

    name: str
    ids: list[str] = field(default_factory=list)
    # Each entry as it appears in a list envelope: {"data": <object>, "uri": "/v3.0/<name>/<id>"}
    items: list[bytes] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    def add_sorted(self, pairs: list[tuple[str, Encoded]]) -> None:
        pairs.sort(key=lambda pair: pair[0])
        for record_id, raw in pairs:
            self.positions[record_id] = len(self.ids)
            self.ids.append(record_id)
            self.items.append(
                b'{"data":' + raw + b',"uri":"/v3.0/' + self.name.encode() + b"/" + record_id.encode() + b'"}'
            )

    def get(self, record_id: str) -> Any:
        """The decoded object (for translations; the hot path serves ``items``)."""
        return msgspec.json.decode(self.raw(self.positions[record_id]))

    def raw(self, pos: int) -> bytes:
        """The object alone, cut out of its envelope entry (kept once, to halve a large district's memory)."""
        item = self.items[pos]
        return item[8 : item.rindex(b',"uri":"')]

    def raws(self) -> Iterator[bytes]:
        return (self.raw(pos) for pos in range(len(self.items)))


@dataclass
class View:
    """A filtered, id-sorted slice of a collection (for example users with role=student)."""

    ids: list[str]
    items: list[bytes]


class _UserIndex(msgspec.Struct):
    id: str
    roles: dict[str, _RoleIndex] = {}


class _RoleIndex(msgspec.Struct):
    school: str | None = None
    schools: list[str] = []


class _SectionIndex(msgspec.Struct):
    id: str
    name: str = ""
    school: str | None = None
    term_id: str | None = None
    course: str | None = None
    created: str | None = None
    last_modified: str | None = None


@dataclass
class District:
    """Everything the servers need from one directory, as loaded at one moment."""

    directory: Path
    district_id: str
    collections: dict[str, Collection]
    role_views: dict[str, View]
    events: Collection
    school_views: dict[tuple[str, str], View]  # (collection, school id) -> view
    fingerprint: tuple[tuple[str, float, int], ...]

    def view(self, collection: str, role: str | None = None, school: str | None = None) -> View:
        if role is not None:
            return self.role_views[role]
        if school is not None:
            return self.school_views.get((collection, school), View([], []))
        coll = self.collections[collection]
        return View(coll.ids, coll.items)

    def objects(self, collection: str) -> Iterator[dict[str, Any]]:
        """Decoded objects of a collection in id order."""
        decoder = msgspec.json.Decoder()
        for raw in self.collections[collection].raws():
            yield decoder.decode(raw)

    def event_objects(self) -> Iterator[dict[str, Any]]:
        decoder = msgspec.json.Decoder()
        for raw in self.events.raws():
            yield decoder.decode(raw)


def fingerprint(directory: Path) -> tuple[tuple[str, float, int], ...]:
    """File names, mtimes and sizes: when this changes the directory has changed on disk."""
    result = []
    for name in (*COLLECTIONS, "events"):
        path = directory / f"{name}.json"
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        result.append((name, stat.st_mtime, stat.st_size))
    return tuple(result)


def load(directory: Path) -> District:
    """Load a dump directory, raising DistrictError that names the file for anything unusable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DistrictError(f"{directory}: not a directory")
    stamp = fingerprint(directory)
    raw: dict[str, list[tuple[str, Encoded]]] = {}
    for name in (*COLLECTIONS, "events"):
        path = directory / f"{name}.json"
        if not path.exists():
            if name in REQUIRED_FILES:
                raise DistrictError(
                    f"{path}: missing (a Clever dump directory needs {', '.join(REQUIRED_FILES)})"
                )
            continue
        raw[name] = _read_records(path)

    districts = raw["districts"]
    if len(districts) != 1:
        raise DistrictError(
            f"{directory / 'districts.json'}: expected exactly one district, found {len(districts)}"
        )
    district_id = districts[0][0]

    user_decoder = msgspec.json.Decoder(_UserIndex)
    section_decoder = msgspec.json.Decoder(_SectionIndex)
    users = [(uid, data, user_decoder.decode(data)) for uid, data in raw["users"]]
    sections = [(sid, data, section_decoder.decode(data)) for sid, data in raw["sections"]]

    synthesized = _synthesise_missing(district_id, raw, users, sections)
    collections: dict[str, Collection] = {}
    for name in COLLECTIONS:
        coll = Collection(name)
        coll.add_sorted(list(raw.get(name, [])) + synthesized.get(name, []))
        collections[name] = coll

    role_pairs: dict[str, list[int]] = {role: [] for role in USER_ROLES}
    school_pairs: dict[tuple[str, str], list[int]] = {}
    user_coll = collections["users"]
    by_id = {uid: index for uid, _, index in users}
    for pos, uid in enumerate(user_coll.ids):
        index = by_id[uid]
        schools: set[str] = set()
        for role, detail in index.roles.items():
            if role in role_pairs:
                role_pairs[role].append(pos)
            schools.update(detail.schools)
            if detail.school:
                schools.add(detail.school)
        for school in schools:
            school_pairs.setdefault(("users", school), []).append(pos)
    section_coll = collections["sections"]
    section_school = {sid: index.school for sid, _, index in sections}
    for pos, sid in enumerate(section_coll.ids):
        section_school_id = section_school.get(sid)
        if section_school_id:
            school_pairs.setdefault(("sections", section_school_id), []).append(pos)

    def make_view(coll: Collection, positions: list[int]) -> View:
        return View([coll.ids[p] for p in positions], [coll.items[p] for p in positions])

    events = Collection("events")
    events.add_sorted(list(raw.get("events", [])))
    return District(
        directory=directory,
        district_id=district_id,
        collections=collections,
        role_views={role: make_view(user_coll, pos) for role, pos in role_pairs.items()},
        events=events,
        school_views={key: make_view(collections[key[0]], pos) for key, pos in school_pairs.items()},
        fingerprint=stamp,
    )


def _read_records(path: Path) -> list[tuple[str, Encoded]]:
    try:
        return list(dumpfile.read_raw(path))
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise DistrictError(f"{path}: not a Clever list envelope ({exc})") from exc


def _synthesise_missing(
    district_id: str,
    raw: dict[str, list[tuple[str, Encoded]]],
    users: list[tuple[str, bytes, _UserIndex]],
    sections: list[tuple[str, bytes, _SectionIndex]],
) -> dict[str, list[tuple[str, Encoded]]]:
    """Schools, terms and courses referenced but absent, with the referenced ids and stable names."""
    present = {name: {rid for rid, _ in raw.get(name, [])} for name in OPTIONAL_FILES}
    school_ids: set[str] = set()
    for _, _, user in users:
        for detail in user.roles.values():
            school_ids.update(detail.schools)
            if detail.school:
                school_ids.add(detail.school)
    term_ids: set[str] = set()
    courses: dict[str, str] = {}
    oldest = min((s.created for _, _, s in sections if s.created), default="2020-01-01T00:00:00.000Z")
    for _, _, section in sections:
        if section.school:
            school_ids.add(section.school)
        if section.term_id:
            term_ids.add(section.term_id)
        if section.course and section.course not in courses:
            # Clever builds section names as "course - teacher - period": the course is the first part.
            courses[section.course] = section.name.split(" - ")[0]
    out: dict[str, list[tuple[str, Encoded]]] = {}
    encode = msgspec.json.encode
    missing_schools = sorted(school_ids - present["schools"])
    out["schools"] = [
        (sid, encode(synthetic_school(district_id, sid, n, oldest)))
        for n, sid in enumerate(missing_schools, 1)
    ]
    missing_terms = sorted(term_ids - present["terms"])
    out["terms"] = [
        (tid, encode(synthetic_term(district_id, tid, n))) for n, tid in enumerate(missing_terms, 1)
    ]
    out["courses"] = [
        (cid, encode({"district": district_id, "id": cid, "name": name, "number": f"C{n:04d}"}))
        for n, (cid, name) in enumerate(sorted(courses.items()), 1)
        if cid not in present["courses"]
    ]
    return out


def synthetic_school(district_id: str, school_id: str, n: int, created: str) -> dict[str, Any]:
    return {
        "created": created,
        "district": district_id,
        "high_grade": "12",
        "id": school_id,
        "last_modified": created,
        "location": {"address": f"{n} School Street", "city": "Springfield", "state": "NY", "zip": "10001"},
        "low_grade": "Kindergarten",
        "name": f"School {n}",
        "phone": f"(555) 010-{n:04d}",
        "principal": {"email": f"principal{n}@example.net", "name": f"Principal {n}"},
        "school_number": f"{n:03d}",
        "sis_id": f"SCH{n:03d}",
        "state_id": f"ST{n:05d}",
    }


def synthetic_term(district_id: str, term_id: str, n: int) -> dict[str, Any]:
    return {
        "district": district_id,
        "end_date": "2021-06-15",
        "id": term_id,
        "name": f"Term {n}",
        "start_date": "2020-09-01",
    }


class LiveDistrict:
    """The directory as it is on disk: reloaded on the first request after any file changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._current = load(self.directory)

    def current(self) -> District:
        if fingerprint(self.directory) != self._current.fingerprint:
            with self._lock:
                if fingerprint(self.directory) != self._current.fingerprint:
                    self._current = load(self.directory)
        return self._current
