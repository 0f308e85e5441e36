"""Incremental nights cut short (Clever events, OneRoster dateLastModified deltas) are not applied either,
and Meltano's bookmark stays where it was, so the rerun reads the same changes again and lands them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.district import query
from tests.support.nightly import advance
from tests.support.pipes import clever_config, exported, oneroster_config, pipe


@pytest.fixture(scope="module")
def oneroster_first(
    sandbox: Sandbox, open_oneroster_mapping: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The district's first import through tap-oneroster in incremental mode, and the STATE it passed on."""
    folder = tmp_path_factory.mktemp("oneroster")
    config = oneroster_config(sandbox, incremental=True)
    target = {"database": str(folder / "bloomz.duckdb"), "mapping": str(open_oneroster_mapping)}
    run = pipe("tap-oneroster", config, target, folder)
    assert run.returncode == 0, run.stderr[-3000:]
    return folder / "bloomz.duckdb", run.states[-1]


@pytest.fixture(scope="module")
def next_night(
    district_dir: Path,
    first_import: tuple[Path, dict[str, Any]],
    oneroster_first: tuple[Path, dict[str, Any]],
) -> None:
    """The district one night later (adds, drops, renames, with Clever events), after both first imports."""
    advance(district_dir, 1, change=10)


def _copy(database: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(database, folder / "bloomz.duckdb"))


@pytest.mark.parametrize(
    ("tap", "fault"),
    [
        # Clever's events answer once per stream, then the token stops working.
        ("tap-clever", {"kind": "status", "status": 401, "path": "/v3.0/events", "after": 6, "count": None}),
        (
            "tap-oneroster",
            {"kind": "status", "status": 503, "path": "/ims/oneroster/v1p1/users", "count": None},
        ),
    ],
    ids=["clever-events", "oneroster-delta"],
)
def test_an_incremental_night_cut_short_keeps_the_bookmark_and_the_rerun_lands_it(
    request: pytest.FixtureRequest, sandbox: Sandbox, next_night: None, tmp_path: Path, tap: str, fault: dict
) -> None:
    clever = tap == "tap-clever"
    first, mapping = (
        ("first_import", "open_mapping") if clever else ("oneroster_first", "open_oneroster_mapping")
    )
    database, state = request.getfixturevalue(first)
    database = _copy(database, tmp_path / "store")
    before = exported(database)
    target = {"database": str(database), "mapping": str(request.getfixturevalue(mapping)), "full_data": True}
    config = (clever_config if clever else oneroster_config)(sandbox, incremental=True)
    sandbox.set_faults(fault)
    try:
        cut = pipe(tap, config, target, tmp_path, state=state)
    finally:
        sandbox.clear_faults()

    assert cut.returncode == 1, cut.stderr[-3000:]
    assert cut.states == []
    assert exported(database) == before
    assert query(database, "SELECT status, json_extract_string(pull, '$.mode') FROM runs WHERE id = 2") == [
        ("failed", "incremental")
    ]

    rerun = pipe(tap, config, target, tmp_path, state=state)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states, "the bookmark moves once the night landed"
    assert rerun.states[-1] != state
    assert exported(database) != before, "the night's changes landed"
