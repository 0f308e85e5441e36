"""Approve in the console moves Meltano's state as `bloomz-sync approve` tells an admin to (`meltano state
set --force` for the run's recorded state id, with its held Singer state), and says in one line when it
could not, with the command to run by hand; the run is applied either way. (The browser walk-throughs
approve through the page; here the line that could not is checked.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bloomz_console import engine, meltano_state
from bloomz_console.project import Project

from tests.support.district import district, query, run_target, singer_lines
from tests.support.project import meltano, pristine_project

STATE_ID = "sandbox:tap-clever-to-target-bloomz"
HELD_STATE = {"bookmarks": {"night": 2}}
# what `meltano run tap-clever target-bloomz` tells the target in the sandbox environment
MELTANO_RUN = {
    "MELTANO_ENVIRONMENT": "sandbox",
    "MELTANO_EXTRACTOR_NAME": "tap-clever",
    "MELTANO_LOADER_NAME": "target-bloomz",
}


@pytest.fixture
def held_run(database: Path, tmp_path: Path, mapping_file, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run 2, held over a safety limit, started the way `meltano run tap-clever target-bloomz` starts the
    target (so the target records the run's state id)."""
    config = {
        "database": str(database),
        "mapping": str(mapping_file("safety_limits:\n  removals:\n    class_memberships: {count: 1}\n")),
    }
    night = district()
    night["enrollments"] = [e for e in night["enrollments"] if e["section_id"] != "sec1"]  # sec1 empties
    with monkeypatch.context() as env:
        for name, value in MELTANO_RUN.items():
            env.setenv(name, value)
        first = run_target(config, singer_lines(district(), state={"bookmarks": {"night": 1}}), tmp_path)
        held = run_target({**config, "full_data": True}, singer_lines(night, state=HELD_STATE), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert held.returncode == 3, held.stderr[-2000:]
    return 2


def _approve(root: Path, database: Path, run_id: int) -> str:
    with engine.store(database, write=True) as con:
        assert con is not None
        return meltano_state.approve(Project(root=root, database=database), con, run_id)


def test_approve_sets_meltano_state_of_the_run(held_run: int, database: Path, tmp_path: Path) -> None:
    root = pristine_project(tmp_path / "project")

    shown = _approve(root, database, held_run)

    assert shown.startswith(f"Run {held_run} approved and applied.")
    assert f"Meltano's state of {STATE_ID} is now this run's: the console ran meltano state set" in shown
    got = meltano(root, "state", "get", STATE_ID)
    assert got.returncode == 0, got.stderr[-2000:]
    assert json.loads(got.stdout) == {"singer_state": HELD_STATE}


def test_when_meltano_cannot_set_the_state_one_line_says_why_and_the_run_stays_applied(
    held_run: int, database: Path, tmp_path: Path
) -> None:
    not_a_project = tmp_path / "elsewhere"
    not_a_project.mkdir()

    shown = _approve(not_a_project, database, held_run)

    assert shown.startswith(f"Run {held_run} approved and applied.")
    (line,) = [line for line in shown.splitlines() if "Meltano's state" in line]
    assert line == (
        f"Meltano's state of {STATE_ID} was not moved (`meltano state` must be run inside a Meltano "
        "project.): the next import pulls again from the last bookmark; to move it now, run in the "
        f"project's folder: meltano state set --force {STATE_ID} '{json.dumps({'singer_state': HELD_STATE})}'"
    )
    assert query(database, "SELECT status FROM runs WHERE id = ?", [held_run]) == [("applied",)]
