"""Undo keeps the source mirror: after "undo + the next incremental night" the store is what a full sync of
that night gives (real roster-sandbox nights, the real tap-clever, target-bloomz and bloomz-sync)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import run_sandbox

from tests.support.district import query
from tests.support.nightly import BIN, advance, differences, export, tap_clever, target_bloomz

OPTIONS: dict[str, dict[str, Any]] = {"default": {}, "full_data": {"full_data": True}}


@pytest.fixture
def fresh_tiny_district(tmp_path: Path) -> Path:
    """A synthetic tiny district (about 50 students in 2 schools) of this test alone: it moves it forward."""
    folder = tmp_path / "tiny"
    done = subprocess.run(
        [str(BIN / "roster-sandbox"), "generate", "tiny", "--out", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder


def undo(database: Path, run_id: int) -> str:
    done = subprocess.run(
        [str(BIN / "bloomz-sync"), "--database", str(database), "undo", str(run_id)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("option", list(OPTIONS))
def test_undo_then_an_incremental_night_equals_a_full_night(
    option: str, fresh_tiny_district: Path, nightly_mapping: Path, tmp_path: Path
) -> None:
    store, full_store = tmp_path / "incremental.duckdb", tmp_path / "full.duckdb"
    settings = {"database": str(store), "mapping": str(nightly_mapping), **OPTIONS[option]}
    state: dict | None = None
    with run_sandbox(fresh_tiny_district, rate_limit=0) as sandbox:
        for night in (0, 1):  # the first import, then a night with adds, drops, renames, contact churn
            if night:
                advance(fresh_tiny_district, night)
            delta = tap_clever(sandbox, tmp_path / f"night-{night}", incremental=bool(night), state=state)
            ran = target_bloomz(settings, delta, tmp_path / f"night-{night}")
            assert ran.returncode == 0, ran.stderr[-3000:]
            state = ran.states[-1]  # as Meltano keeps it: undo does not move it
        before_night_1 = query(store, "SELECT count(*) FROM journal WHERE run_id = 2")[0][0]
        assert before_night_1, "night 1 changed the store"

        said = undo(store, 2)

        assert said.startswith("Run 2 undone:")
        assert "the source mirror are kept" in said
        assert query(store, "SELECT status FROM runs WHERE id = 2") == [("undone",)]
        shutil.copyfile(store, full_store)  # the same undone store, to take a full night instead
        advance(fresh_tiny_district, 2)
        folder = tmp_path / "night-2"
        delta = tap_clever(sandbox, folder / "incremental", incremental=True, state=state)
        full = tap_clever(sandbox, folder / "full", incremental=False, state=None)
        a = target_bloomz(settings, delta, folder / "incremental")
        b = target_bloomz({**settings, "database": str(full_store)}, full, folder / "full")
    assert a.returncode == 0, a.stderr[-3000:]
    assert b.returncode == 0, b.stderr[-3000:]
    assert a.records < b.records / 2, "night 2 was a real delta"
    after_incremental, after_full = export(store), export(full_store)
    if after_incremental != after_full:
        pytest.fail(f"{option}:\n{differences(after_incremental, after_full)}")
    assert any(p["kind"] == "parent" for p in after_full["people"]), json.dumps(after_full)[:500]
