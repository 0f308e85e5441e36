"""The Meltano project as a newcomer meets it: environments that do not leak into each other, and
`meltano config set` that leaves the hand-written files alone (they live in districts/*/meltano.yml)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.project import meltano, meltano_env, pristine_project

pytestmark = pytest.mark.e2e


def _config(project: Path, environment: str, plugin: str) -> dict[str, object]:
    done = meltano(project, f"--environment={environment}", "invoke", "--dump=config", plugin)
    assert done.returncode == 0, done.stderr[-3000:]
    config: dict[str, object] = json.loads(done.stdout)
    return config


def test_a_prod_secret_never_reaches_the_sandbox(tmp_path: Path, demo_sandbox: Sandbox) -> None:
    project = pristine_project(tmp_path)
    for plugin, setting in (("tap-clever", "district_token"), ("tap-skyward", "client_secret")):
        done = meltano(project, "--environment=prod", "config", "set", plugin, setting, "prod-secret")
        assert done.returncode == 0, done.stderr
    assert "prod-secret" in (project / ".env").read_text()
    assert "prod-secret" not in (project / "meltano.yml").read_text()

    assert _config(project, "prod", "tap-clever")["district_token"] == "prod-secret"
    assert _config(project, "sandbox", "tap-clever")["district_token"] == "sandbox-district-token"
    assert _config(project, "sandbox", "tap-clever-lincoln-elementary")["district_token"] == (
        "sandbox-district-token"
    )
    assert _config(project, "sandbox", "tap-skyward")["client_secret"] == "sandbox-client-secret"

    # and the sandbox still answers (it used to say "Clever refused the district token (HTTP 401)")
    env = meltano_env(TAP_CLEVER_API_URL=demo_sandbox.clever_api_url)
    test = meltano(project, "invoke", "tap-clever", "--test", env=env)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "District: #DEMO_DISTRICT" in test.stderr


def test_config_set_keeps_the_hand_written_files_and_only_adds_to_meltano_yml(tmp_path: Path) -> None:
    project = pristine_project(tmp_path)
    district = project / "districts" / "lincoln-unified" / "meltano.yml"
    root_before, district_before = (project / "meltano.yml").read_text(), district.read_text()

    for args in (
        ("--environment=prod", "config", "set", "tap-clever", "api_url", "https://api.clever.com"),
        ("config", "set", "target-bloomz", "signup_url", "https://bloomz.net/join/lincoln"),
        ("config", "set", "tap-clever-lincoln-middle", "admin_email", "principal@lincoln.example.net"),
    ):
        done = meltano(project, *args)
        assert done.returncode == 0, done.stderr

    diff = difflib.ndiff(root_before.splitlines(), (project / "meltano.yml").read_text().splitlines())
    removed = [line for line in diff if line.startswith("- ")]
    assert removed == [], "meltano.yml is kept in the form Meltano writes: a config set only adds lines"
    comments = [line for line in district_before.splitlines() if line.lstrip().startswith("#")]
    assert comments
    assert all(comment in district.read_text() for comment in comments)
    assert "principal@lincoln.example.net" in district.read_text()  # written where the plugin is defined
