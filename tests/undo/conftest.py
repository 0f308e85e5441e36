"""Fixtures of the undo tests: a store per test, the real target-bloomz run on it, the bloomz-sync CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bloomz_sync.cli import main
from tests.support.district import Result, run_target, singer_lines

# Safety limits wide open, except the one a held-run test sets on purpose.
OPEN_LIMITS = """
safety_limits:
  removals: {classes: {percent: 100}, class_memberships: {percent: 100}, people: {percent: 100}}
  updates: {classes: {percent: 100}, class_memberships: {percent: 100}, people: {percent: 100}}
"""


@pytest.fixture
def sync(database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]) -> Callable[..., Result]:
    """sync(records, **settings) → run target-bloomz (limits open, outbox files under tmp_path/outbox)."""
    mapping = mapping_file(OPEN_LIMITS)

    def run(records: dict[str, list[dict[str, Any]]], **settings: Any) -> Result:
        config = {
            "database": str(database),
            "mapping": str(mapping),
            "outbox_dir": str(tmp_path / "outbox"),
            **settings,
        }
        result = run_target(config, singer_lines(records), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


@pytest.fixture
def cli(database: Path) -> Callable[..., Any]:
    """cli(*args) → the bloomz-sync command's result on this test's store."""

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, ["--database", str(database), *args], catch_exceptions=False)

    return invoke
