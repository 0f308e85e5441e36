"""Fixtures for the target-bloomz tests: a store path per test and a district mapping writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where this test's Bloomz store lives (created by the first run)."""
    return tmp_path / "data" / "bloomz.duckdb"


@pytest.fixture
def mapping_file(tmp_path: Path) -> Callable[[str], Path]:
    """mapping_file(yaml_text) → a district mapping file extending the Clever default."""

    def write(text: str) -> Path:
        path = tmp_path / f"district-{len(list(tmp_path.glob('district-*.yml')))}.yml"
        path.write_text("extends: clever\n" + textwrap.dedent(text).lstrip("\n"))
        return path

    return write
