"""Issue 4's invariant for OneRoster: after several nights, tap-oneroster's incremental runs leave the store
identical to a full sync of the same night (REST, a tiny generated district, target source=oneroster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.mappings import write_open_mapping
from tests.support.nightly import advance, differences, export, run_tap, target_bloomz

NIGHTS = 3


@pytest.fixture(scope="module")
def oneroster_mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OneRoster default with safety limits out of the way (a held night is another test's subject)."""
    return write_open_mapping(tmp_path_factory.mktemp("mapping") / "nightly.yml", "oneroster")


def tap_oneroster(sandbox: Sandbox, folder: Path, *, incremental: bool, state: dict | None) -> Path:
    """Run tap-oneroster (OneRoster 1.1 REST, OAuth 2) into ``folder/tap.singer``; return that file."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "base_url": sandbox.oneroster_base_url("1.1"),
        "api_path": "",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "token_url": sandbox.oneroster_token_url,
        "incremental": incremental,
    }
    return run_tap("tap-oneroster", config, folder, state)


def test_oneroster_incremental_nights_leave_the_store_of_a_full_sync(
    tiny_district: Path, oneroster_mapping: Path, tmp_path: Path
) -> None:
    incremental_store, full_store = tmp_path / "incremental.duckdb", tmp_path / "full.duckdb"
    settings: dict[str, Any] = {"mapping": str(oneroster_mapping), "source": "oneroster"}
    state: dict | None = None
    with run_sandbox(tiny_district, rate_limit=0) as sandbox:
        for night in range(NIGHTS + 1):
            if night:
                advance(tiny_district, night, change=30.0)  # a tiny district needs a busy night to churn
            folder = tmp_path / f"night-{night}"
            full = tap_oneroster(sandbox, folder / "full", incremental=False, state=None)
            delta = tap_oneroster(sandbox, folder / "incremental", incremental=True, state=state)
            a = target_bloomz({"database": str(incremental_store), **settings}, delta, folder / "incremental")
            assert a.returncode == 0, a.stderr[-3000:]
            assert a.states, f"night {night}: the target emitted no STATE ({a.stderr[-2000:]})"
            state = a.states[-1]  # as Meltano keeps it for the next run
            b = target_bloomz({"database": str(full_store), **settings}, full, folder / "full")
            assert b.returncode == 0, b.stderr[-3000:]
            if night:  # a real delta: fewer records than the full pull
                assert 0 < a.records < b.records, (a.records, b.records)

            after_incremental, after_full = export(incremental_store), export(full_store)
            if after_incremental != after_full:
                pytest.fail(f"night {night}:\n{differences(after_incremental, after_full)}")
    # the stores compared hold a real district: classes, and parents placed in them
    assert after_full["classes"]
    assert any(p["kind"] == "parent" for p in after_full["people"])
