"""Fixtures every area's tests share: where the shared reference lives, a running demo-district sandbox."""

from __future__ import annotations

from collections.abc import Iterator
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
