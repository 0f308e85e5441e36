"""Fixtures of the pull tests: a tiny generated district served by a sandbox, and a store it went into.

The baseline store is built once per module and copied for each test (``store_copy``), so a test starts from
a district already imported and only pays for the run it is about.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.mappings import write_open_mapping
from tests.support.nightly import tap_clever, target_bloomz
from tests.support.pipes import sandbox_cli


@pytest.fixture(scope="module")
def open_mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Clever default with safety limits out of the way (a held run is another test's subject)."""
    return write_open_mapping(tmp_path_factory.mktemp("mapping") / "district.yml")


@pytest.fixture(scope="module")
def open_oneroster_mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OneRoster default with safety limits out of the way."""
    return write_open_mapping(tmp_path_factory.mktemp("mapping") / "district-oneroster.yml", "oneroster")


@pytest.fixture(scope="module")
def district_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic tiny district (2 schools, about 50 students) in Clever's dump format."""
    folder = tmp_path_factory.mktemp("district")
    sandbox_cli("generate", "tiny", "--seed", "20", "--out", str(folder))
    return folder


@pytest.fixture(scope="module")
def sandbox(district_dir: Path) -> Iterator[Sandbox]:
    with run_sandbox(district_dir, rate_limit=0) as served:
        yield served


@pytest.fixture(scope="module")
def first_import(
    sandbox: Sandbox, open_mapping: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A store holding the district's first import (tap-clever's full pull, event bookmarks noted), and the
    STATE the target passed on to Meltano."""
    folder = tmp_path_factory.mktemp("baseline")
    singer = tap_clever(sandbox, folder, incremental=True, state=None)
    database = folder / "bloomz.duckdb"
    first = target_bloomz({"database": str(database), "mapping": str(open_mapping)}, singer, folder)
    assert first.returncode == 0, first.stderr[-3000:]
    return database, first.states[-1]


@pytest.fixture(scope="module")
def baseline(first_import: tuple[Path, dict[str, Any]]) -> Path:
    return first_import[0]


@pytest.fixture
def store_copy(baseline: Path, tmp_path: Path) -> Callable[[], Path]:
    """store_copy() → a fresh copy of the baseline store for this test."""

    def copy() -> Path:
        target = tmp_path / f"store-{len(list(tmp_path.glob('store-*')))}" / "bloomz.duckdb"
        target.parent.mkdir()
        shutil.copy(baseline, target)
        return target

    return copy
