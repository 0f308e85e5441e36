"""The nightly schedule of meltano.yml: one job per school, each with its own state id, refusing a school
whose first import has not completed yet (DESIGN.md: the initial sync comes before autosync)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.district import query
from tests.support.project import meltano, meltano_env, pristine_project

ELEMENTARY = "5a25ff950a5f621109000005"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, demo_sandbox) -> tuple[Path, dict[str, str]]:
    """The project with Lincoln's plugins (districts/lincoln-unified/), pointed at the demo sandbox."""
    root = pristine_project(tmp_path_factory.mktemp("meltano-nightly"))
    return root, meltano_env(TAP_CLEVER_API_URL=demo_sandbox.clever_api_url)


def _meltano(root: Path, env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess:
    done = meltano(root, *args, env=env)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_school_nightly_job_needs_its_first_import_then_runs_with_its_own_state_id(project):
    root, env = project
    database = root / "data" / "bloomz.duckdb"

    refused = _meltano(root, env, "run", "nightly-lincoln-elementary")
    assert refused.returncode != 0
    assert "scheduled import refused" in refused.stderr
    assert "never completed a first import" in refused.stderr

    first = _meltano(root, env, "run", "tap-clever-lincoln-elementary", "target-bloomz-lincoln")
    assert first.returncode == 0, first.stderr[-3000:]

    nightly = _meltano(root, env, "run", "nightly-lincoln-elementary")
    assert nightly.returncode == 0, nightly.stderr[-3000:]
    assert query(database, "SELECT status, options->>'scheduled', school_ids FROM runs ORDER BY id") == [
        ("refused", "true", [ELEMENTARY]),  # recorded so the admins see it (bloomz-sync runs, status)
        ("applied", "false", [ELEMENTARY]),
        ("applied", "true", [ELEMENTARY]),
    ]
    states = _meltano(root, env, "state", "list", check=True).stdout
    assert "sandbox:tap-clever-lincoln-elementary-to-target-bloomz-lincoln-elementary" in states

    other_school = _meltano(root, env, "run", "nightly-lincoln-middle")
    assert other_school.returncode != 0, "Lincoln Middle never had its first import"
    assert "scheduled import refused" in other_school.stderr, other_school.stderr[-3000:]
    assert "(clever:5a25ff950a5f621109000006) never completed a first import" in other_school.stderr
