"""Through `meltano run`: tap-skyward with the target's defaults lands as OneRoster, the same schools through
Clever are refused, and a Skyward night cut short changes nothing and leaves Meltano's state where it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.district import query
from tests.support.pipes import exported
from tests.support.project import meltano, meltano_env, pristine_project

STATE_ID = "sandbox:tap-skyward-to-target-bloomz"


@pytest.mark.e2e
def test_meltano_run_tap_skyward_lands_as_oneroster_and_a_cut_night_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    project = pristine_project(tmp_path / "project")
    database = tmp_path / "bloomz.duckdb"
    env = meltano_env(
        # the seed's Skyward form, pointed at the sandbox; the target keeps its defaults (no mapping, source)
        TAP_SKYWARD_BASE_URL=sandbox.oneroster_base_url("1.1"),
        TAP_SKYWARD_TOKEN_URL=sandbox.oneroster_token_url,
        TAP_SKYWARD_CLIENT_ID=sandbox.client_id,
        TAP_SKYWARD_CLIENT_SECRET=sandbox.client_secret,
        TAP_SKYWARD_MAX_TRIES="2",
        TAP_CLEVER_API_URL=sandbox.clever_api_url,
        TAP_CLEVER_DISTRICT_TOKEN=sandbox.token,
        TARGET_BLOOMZ_DATABASE=str(database),
    )

    first = meltano(project, "run", "tap-skyward", "target-bloomz", env=env, timeout=600)

    assert first.returncode == 0, first.stderr[-3000:]
    assert query(database, "SELECT DISTINCT split_part(key, ':', 1), source FROM communities") == [
        ("oneroster", "oneroster")
    ]
    assert query(database, "SELECT mapping_file LIKE '%/oneroster.yml' FROM runs") == [(True,)]
    assert query(database, "SELECT count(*) > 0 FROM people WHERE kind = 'parent'") == [(True,)]
    state = json.loads(meltano(project, "state", "get", STATE_ID, env=env).stdout)
    before = exported(database)

    clever = meltano(project, "run", "tap-clever", "target-bloomz", env=env)

    assert clever.returncode != 0
    assert "is already in Bloomz as community oneroster:" in clever.stderr
    assert query(database, "SELECT status FROM runs ORDER BY id DESC LIMIT 1") == [("refused",)]
    assert exported(database) == before

    sandbox.set_faults({"kind": "status", "status": 503, "path": "/ims/oneroster/v1p1/users", "count": None})
    try:
        cut = meltano(project, "run", "tap-skyward", "target-bloomz", env=env)
    finally:
        sandbox.clear_faults()

    assert cut.returncode != 0
    assert (
        "the source stopped before the pull was complete (tap-skyward stopped: OneRoster GET /users"
        in cut.stderr
    )
    assert exported(database) == before
    assert json.loads(meltano(project, "state", "get", STATE_ID, env=env).stdout) == state
