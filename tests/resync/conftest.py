"""Fixtures for the re-sync tests: a store per test, the target run on a district, the admin CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bloomz_sync.cli import main
from tests.resync.resync_helpers import NO_LIMITS

# The district helpers of tests/target_bloomz are reused, not copied.
from tests.support.district import Result, run_target, singer_lines


@pytest.fixture
def open_limits(mapping_file: Callable[[str], Path]) -> Path:
    return mapping_file(NO_LIMITS)


@pytest.fixture
def sync(database: Path, tmp_path: Path, open_limits: Path) -> Callable[..., Result]:
    """sync(records, activate=True, **options) → run target-bloomz, safety limits wide open."""

    def run(records: dict[str, list[dict[str, Any]]], *, activate: bool = True, **config: Any) -> Result:
        config = {"database": str(database), "mapping": str(open_limits), **config}
        return run_target(config, singer_lines(records, activate=activate), tmp_path)

    return run


@pytest.fixture
def cli(database: Path) -> Callable[..., Any]:
    """cli(*args) → the bloomz-sync command's result on this test's store."""

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, ["--database", str(database), *args], catch_exceptions=False)

    return invoke
