"""Fixtures only the tap-clever e2e tests use: the executable as a fixture, one full sync of the demo
district."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.clever_tap import TapRun, run_tap, sandbox_config


@pytest.fixture(scope="session")
def tap_run() -> Callable[..., TapRun]:
    """``tap_run(tmp_path, config, state=None, *args)``: run the tap-clever executable, return a TapRun."""
    return run_tap


@pytest.fixture(scope="session")
def demo_full_run(demo_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    """One full sync of the demo district, shared by the tests that only read it."""
    run = run_tap(tmp_path_factory.mktemp("demo-full"), sandbox_config(demo_sandbox))
    assert run.returncode == 0, run.stderr[-3000:]
    return run
