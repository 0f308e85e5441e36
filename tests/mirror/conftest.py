"""Source-mirror tests: real roster-sandbox nights, the real tap-clever and target-bloomz executables, and
the store compared through ``bloomz-sync export`` (helpers in nightly.py)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.dumps import copy_dump, generate

# tests/target_bloomz/district.py: the hand-made district and the run_target helper.

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def mapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Clever default with safety limits out of the way (a held night is another test's subject)."""
    path = tmp_path_factory.mktemp("mapping") / "nightly.yml"
    path.write_text(
        textwrap.dedent(
            """\
            extends: clever
            safety_limits:
              removals: {classes: {percent: 100}, class_memberships: {percent: 100}, people: {percent: 100}}
              updates: {classes: {percent: 100}, class_memberships: {percent: 100}, people: {percent: 100}}
            """
        )
    )
    return path


@pytest.fixture(scope="module")
def tiny_district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic tiny district (about 50 students in 2 schools) the tests move forward night by night."""
    return generate(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def demo_copy(demo_district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of Clever's demo district that the tests move forward night by night."""
    return copy_dump(demo_district_dir, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def tiny_sandbox(tiny_district: Path) -> Iterator[Sandbox]:
    with run_sandbox(tiny_district, rate_limit=0) as sandbox:
        yield sandbox
