"""After any night, the store holds what a fresh full import of that day would hold, apart from what history
rightly keeps (tests/support/fresh_import.py says what); and each night's input applied a second time
changes nothing.

Random nights: a generated tiny district moved forward by `roster-sandbox advance` (seeded: these seeds
rename sections that held a duplicated name, so a name is freed the same night, and churn contact ids).
Each night runs the way a nightly job does (tap-clever incremental through Clever's events, Full Data and
Archive on), then again on the same input, and is compared with a fresh store fed tap-clever's full pull.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from roster_sandbox.testing import run_sandbox

from tests.support.fresh_import import Store, differences, read, source_ids
from tests.support.nightly import export_as_is, tap_clever, target_bloomz

BIN = Path(sys.executable).parent
NIGHTS = 3
SEED = 70  # night n advances with seed SEED + n
CHANGE = 20  # percent of students changing each night: several renames, withdrawals and churned contacts


def _sandbox(*args: str) -> None:
    done = subprocess.run([str(BIN / "roster-sandbox"), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_night_leaves_the_store_a_fresh_import_of_the_day_gives(open_limits: Path, tmp_path: Path):
    district = tmp_path / "district"
    _sandbox("generate", "tiny", "--out", str(district))
    settings = {"mapping": str(open_limits), "full_data": True, "archive": True}
    store = tmp_path / "nightly.duckdb"
    nightly = {"database": str(store), **settings}
    state = None
    before = Store()
    with run_sandbox(district, rate_limit=0) as sandbox:
        for night in range(NIGHTS + 1):
            if night:
                _sandbox("advance", str(district), "--change", str(CHANGE), "--seed", str(SEED + night))
            folder = tmp_path / f"night-{night}"
            delta = tap_clever(sandbox, folder / "delta", incremental=True, state=state)
            applied = target_bloomz(nightly, delta, folder / "delta")
            assert applied.returncode == 0, applied.stderr[-3000:]
            state = applied.states[-1]  # as Meltano keeps it for the next night
            after = export_as_is(store)

            again = target_bloomz(nightly, delta, folder / "delta")

            assert again.returncode == 0, again.stderr[-3000:]
            assert export_as_is(store) == after, f"night {night}: a rerun changed the store"

            full = tap_clever(sandbox, folder / "full", incremental=False, state=None)
            fresh_store = folder / "fresh.duckdb"
            fresh = target_bloomz({"database": str(fresh_store), **settings}, full, folder / "full")
            assert fresh.returncode == 0, fresh.stderr[-3000:]
            fresh_export = export_as_is(fresh_store)
            known = source_ids(fresh_export)
            now = read(after, known)

            problems = differences(now, read(fresh_export, known), before)

            if problems:
                pytest.fail(f"night {night}: " + "\n".join(problems[:20]))
            before = now
    assert now.classes, "the stores compared hold a real district: classes"
    assert now.links, "and parents linked to students"
