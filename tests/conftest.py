"""Fixtures every area's tests share: where the shared reference lives, a running demo-district sandbox."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """<repo>/../shared (CI clones the repo with shared/ beside it)."""
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.fail(f"the shared folder is missing: expected it at {path}")
    return path


@pytest.fixture(scope="session")
def demo_district_dir(shared_dir: Path) -> Path:
    """Clever's real #DEMO_DISTRICT dump (users.json, sections.json, districts.json)."""
    return shared_dir / "reference" / "clever" / "demo-district"


@pytest.fixture(scope="session")
def demo_sandbox(demo_district_dir: Path) -> Iterator[Sandbox]:
    """A roster-sandbox server serving the demo district for the whole session (default credentials).

    Its Clever rate limit is off, so many tests sharing it never meet a 429 by accident; test rate limiting
    with a fault (``set_faults({"kind": "rate_limit", ...})``) or your own ``run_sandbox(..., rate_limit=N)``.
    Tests that switch faults on it must clear them (``demo_sandbox.clear_faults()``) before they end.
    """
    with run_sandbox(demo_district_dir, rate_limit=0) as sandbox:
        yield sandbox


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
