"""A fixture only the tap-oneroster e2e tests use: one full OneRoster 1.1 sync of the demo district."""

from __future__ import annotations

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config


@pytest.fixture(scope="session")
def full_run_11(demo_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    """One full OneRoster 1.1 sync of the demo district, shared by the tests that only read it."""
    run = run_tap(tmp_path_factory.mktemp("full11"), sandbox_config(demo_sandbox, "1.1"))
    assert run.returncode == 0, run.stderr[-3000:]
    return run
