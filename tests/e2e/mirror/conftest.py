"""Fixtures only the source-mirror tests use: their mapping file and a copy of the demo district to move
forward.

The mapping file is named nightly.yml on purpose: its stem names the feed (``clever:nightly``) the tests
check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dumps import copy_dump
from tests.support.mappings import write_open_mapping


@pytest.fixture(scope="module")
def nightly_mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Clever default with safety limits out of the way (a held night is another test's subject)."""
    return write_open_mapping(tmp_path_factory.mktemp("mapping") / "nightly.yml")


@pytest.fixture(scope="module")
def demo_copy(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of Clever's demo district that a module's tests may move forward night by night."""
    return copy_dump(demo_district_dir, tmp_path_factory.mktemp("demo"))
