"""Issue 4's invariant: after any sequence of nights, an incremental sync leaves the store identical to a
full sync of the same night (default options, and with Full Data on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import run_sandbox

from tests.support.nightly import advance, differences, export, tap_clever, target_bloomz

OPTIONS: dict[str, dict[str, Any]] = {"default": {}, "full_data": {"full_data": True}}


@pytest.mark.parametrize(("district_fixture", "nights"), [("tiny_district", 3), ("demo_copy", 2)])
def test_incremental_nights_leave_the_store_of_a_full_sync(
    district_fixture: str, nights: int, nightly_mapping: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    district: Path = request.getfixturevalue(district_fixture)
    stores = {
        name: (tmp_path / name / "incremental.duckdb", tmp_path / name / "full.duckdb") for name in OPTIONS
    }
    states: dict[str, dict | None] = dict.fromkeys(OPTIONS)
    with run_sandbox(district, rate_limit=0) as sandbox:
        for night in range(nights + 1):
            if night:
                advance(district, night)
            folder = tmp_path / f"night-{night}"
            full = tap_clever(sandbox, folder / "full", incremental=False, state=None)
            for name, options in OPTIONS.items():
                incremental_store, full_store = stores[name]
                delta = tap_clever(sandbox, folder / name, incremental=True, state=states[name])
                settings = {"mapping": str(nightly_mapping), **options}
                a = target_bloomz({"database": str(incremental_store), **settings}, delta, folder / name)
                assert a.returncode == 0, a.stderr[-3000:]
                assert a.states, f"night {night}: the target emitted no STATE ({a.stderr[-2000:]})"
                states[name] = a.states[-1]  # as Meltano keeps it for the next run
                b = target_bloomz({"database": str(full_store), **settings}, full, folder / name)
                assert b.returncode == 0, b.stderr[-3000:]
                if night:  # a real delta: far fewer records than the full pull
                    assert 0 < a.records < b.records / 2, (a.records, b.records)

                after_incremental, after_full = export(incremental_store), export(full_store)
                if after_incremental != after_full:
                    pytest.fail(f"night {night}, {name}:\n{differences(after_incremental, after_full)}")
    # the stores compared hold a real district: classes, and parents placed in them
    assert after_full["classes"]
    assert any(p["kind"] == "parent" for p in after_full["people"])
