"""`bloomz-sync mapping validate FILE`: the real executable, its exit codes and its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.project import REPO_ROOT

BLOOMZ_SYNC = str(Path(sys.executable).parent / "bloomz-sync")
LINCOLN = REPO_ROOT / "districts" / "lincoln-unified" / "mapping.yml"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BLOOMZ_SYNC, *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_a_valid_file_exits_0_with_a_one_line_summary(tmp_path):
    result = run("mapping", "validate", str(LINCOLN), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{LINCOLN}: valid (")
    assert (
        "source clever; students by student_number; parents from type in Parent/Guardian, Family" in lines[0]
    )
    assert lines[0].endswith("3 section rules")


def test_paths_are_shown_relative_to_the_working_directory(tmp_path):
    (tmp_path / "districts").mkdir()
    (tmp_path / "districts" / "small.yml").write_text("extends: oneroster\n")
    result = run("mapping", "validate", "districts/small.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("districts/small.yml: valid (")


def test_an_invalid_file_exits_1_with_file_line_key_and_allowed_values(tmp_path):
    path = tmp_path / "lincoln.yml"
    path.write_text("extends: clever\n\nstudents:\n  id_field: sis\n")
    result = run("mapping", "validate", "lincoln.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "lincoln.yml:4: students.id_field: 'sis' is not allowed; "
        "allowed values: sis_id, student_number, state_id\n"
    )


def test_a_missing_file_exits_1(tmp_path):
    result = run("mapping", "validate", "nope.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("nope.yml: cannot read the mapping file")


def test_show_prints_the_resolved_mapping(tmp_path):
    result = run("mapping", "validate", "--show", str(LINCOLN), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _summary, _, shown = result.stdout.partition("\n")
    resolved = yaml.safe_load(shown)
    assert "extends" not in resolved
    assert resolved["source"] == "clever"  # from the base
    assert resolved["students"]["id_field"] == "student_number"  # from the district
    assert resolved["contacts"] == {"field": "type", "include": ["Parent/Guardian", "Family"]}
    assert resolved["options"]["keep_manual_staff"] is True


def test_no_file_is_a_usage_error():
    result = run("mapping", "validate")
    assert result.returncode == 2
    assert "Missing argument 'FILE'" in result.stderr
