"""Fixtures only the hostile-input suite uses: a store the small district went into, copied for each case.

The suite runs hundreds of generated bad inputs through the real executables' own entry points, in this
process (tests/support/runner.py); what every case checks is in tests/support/hostile.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.district import district, run_target, singer_lines


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store the small district was imported into once, for every case of a module to start from."""
    folder = tmp_path_factory.mktemp("good-store")
    database = folder / "bloomz.duckdb"
    # The real executable, once: every case copies its result.
    done = run_target({"database": str(database)}, singer_lines(district()), folder)
    assert done.returncode == 0, done.stderr
    return database


@pytest.fixture
def store(good_store: Path, tmp_path: Path) -> Path:
    """A copy of the good store for one case."""
    copy = tmp_path / "data" / "bloomz.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(good_store, copy)
    return copy
