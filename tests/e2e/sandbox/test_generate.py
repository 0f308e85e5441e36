"""Synthetic districts: deterministic, valid Clever data, and every awkward case a real district has."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from roster_sandbox import dumpfile

from tests.support import clever_spec

FILES = ("districts", "schools", "terms", "courses", "sections", "users", "events")


def generate(size: str, seed: int, out: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "roster_sandbox", "generate", size, "--seed", str(seed), "--out", str(out)]
    return subprocess.run(args, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate("small", 11, out)
    return out


def test_same_seed_same_bytes_other_seed_other_district(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        result = generate("tiny", seed, tmp_path / name)
        assert "students" in result.stdout
    for file in FILES:
        assert (tmp_path / "a" / f"{file}.json").read_bytes() == (
            tmp_path / "b" / f"{file}.json"
        ).read_bytes()
    assert (tmp_path / "a" / "users.json").read_bytes() != (tmp_path / "c" / "users.json").read_bytes()


def test_sizes(small: Path, tmp_path: Path) -> None:
    generate("tiny", 1, tmp_path)
    tiny_students = [u for u in dumpfile.read_objects(tmp_path / "users.json") if "student" in u["roles"]]
    assert 40 <= len(tiny_students) <= 60
    students = [u for u in dumpfile.read_objects(small / "users.json") if "student" in u["roles"]]
    assert 2900 <= len(students) <= 3100


@pytest.mark.parametrize(
    ("file", "definition"),
    [
        ("districts", "DistrictsResponse"),
        ("schools", "SchoolsResponse"),
        ("terms", "TermsResponse"),
        ("courses", "CoursesResponse"),
        ("sections", "SectionsResponse"),
        ("users", "UsersResponse"),
    ],
)
def test_files_are_valid_clever_v3(small: Path, shared_dir: Path, file: str, definition: str) -> None:
    spec = shared_dir / "reference" / "clever" / "v3.0.yml"
    body = json.loads((small / f"{file}.json").read_text())
    assert body["data"]
    assert clever_spec.errors(spec, definition, body) == []


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_awkward_cases_are_all_there(tmp_path: Path, size: str) -> None:
    generate(size, 2, tmp_path)
    users = {u["id"]: u for u in dumpfile.read_objects(tmp_path / "users.json")}
    sections = dumpfile.read_objects(tmp_path / "sections.json")
    students = {uid for uid, u in users.items() if "student" in u["roles"]}
    contacts = [u["roles"]["contact"] for u in users.values() if "contact" in u["roles"]]

    names = Counter((s["school"], s["name"]) for s in sections)
    assert any(n > 1 for n in names.values()), "duplicated section names"
    assert any(len(users[s]["roles"]["student"]["schools"]) > 1 for s in students), "students in two schools"
    assert any(len({r["student"] for r in c["student_relationships"]}) > 1 for c in contacts), (
        "siblings share contacts"
    )
    assert any(c["sis_id"] for c in contacts), "contacts with sis_id"
    assert any(not c["sis_id"] for c in contacts), "contacts without sis_id"
    assert any(
        len({r["type"] for r in c["student_relationships"] if r["student"] == s}) > 1
        for c in contacts
        for s in {r["student"] for r in c["student_relationships"]}
    ), "several contact types per contact"
    with_contact = {r["student"] for c in contacts for r in c["student_relationships"]}
    assert students - with_contact, "students with no contact"
    assert any({"teacher", "staff"} <= set(u["roles"]) for u in users.values()), "multi-role staff"
    assert any(
        len(u["roles"]["teacher"]["schools"]) > 1 for u in users.values() if "teacher" in u["roles"]
    ), "teachers in two schools"
    assert any(len(s["teachers"]) > 1 for s in sections), "co-taught sections"
    subjects = {s["subject"] for s in sections}
    assert {"homeroom/advisory", "arts and music", "PE and health"} <= subjects, (
        "homerooms and specialist sections"
    )
    # Every reference resolves.
    assert {t for s in sections for t in s["teachers"]} <= set(users)
    assert {m for s in sections for m in s["students"]} <= students
    assert with_contact <= students


def test_section_names_read_like_clevers_and_about_one_in_twelve_repeats(small: Path) -> None:
    """Clever's demo district names sections "<course> - <teacher> - <period>", and 29 of its 378 repeat a
    name within their school: so does a generated district, school by school."""
    users = {u["id"]: u for u in dumpfile.read_objects(small / "users.json")}
    sections = dumpfile.read_objects(small / "sections.json")
    by_name: dict[tuple[str, str], list[dict[str, object]]] = {}
    for s in sections:
        assert s["name"].endswith(f" - {users[s['teacher']]['name']['last']} - {s['period']}"), s["name"]
        by_name.setdefault((s["school"], s["name"].strip().lower()), []).append(s)
    for school in {s["school"] for s in sections}:
        here = [s for s in sections if s["school"] == school]
        repeats = sum(len(same) - 1 for (where, _), same in by_name.items() if where == school)
        assert 0.06 <= repeats / len(here) <= 0.10, (school, repeats, len(here))
    # A repeated name is one teacher's: the same primary teacher and period.
    for same in by_name.values():
        assert len({(s["teacher"], s["period"]) for s in same}) == 1, same


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "roster_sandbox", "generate", "gigantic", "--out", str(tmp_path)]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "tiny" in result.stderr
    assert "huge" in result.stderr
