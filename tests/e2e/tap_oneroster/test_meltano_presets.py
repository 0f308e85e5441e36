"""The tap-skyward and tap-classlink Meltano presets reach the sandbox with the seed's form values."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.project import meltano, meltano_env, pristine_project


def meltano_test(plugin: str, settings: dict[str, str], project: Path) -> subprocess.CompletedProcess[str]:
    """`meltano --environment prod invoke PLUGIN --test` with the seed's form values as the settings."""
    prefix = plugin.upper().replace("-", "_")
    env = meltano_env(**{f"{prefix}_{name.upper()}": value for name, value in settings.items()})
    return meltano(
        pristine_project(project), "--environment=prod", "invoke", plugin, "--test", env=env, timeout=180
    )


@pytest.mark.e2e
def test_the_skyward_preset_takes_the_oneroster_api_url_and_lists_the_schools(
    demo_sandbox: Sandbox, tmp_path: Path
) -> None:
    done = meltano_test(
        "tap-skyward",
        {
            "client_id": demo_sandbox.client_id,
            "client_secret": demo_sandbox.client_secret,
            "base_url": demo_sandbox.oneroster_base_url("1.1"),  # the whole OneRoster API URL
            "token_url": demo_sandbox.oneroster_token_url,
        },
        tmp_path,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "The credentials see 5 school(s)" in done.stderr
    assert "  5a25ff950a5f621109000004  School 1  165 classes, 400 students, 44 teachers" in done.stderr
    assert demo_sandbox.client_secret not in done.stderr


@pytest.mark.e2e
def test_the_classlink_preset_signs_with_oauth1(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    done = meltano_test(
        "tap-classlink",
        {
            "client_id": demo_sandbox.client_id,
            "client_secret": demo_sandbox.client_secret,
            "base_url": demo_sandbox.url,
        },
        tmp_path,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "The credentials see 5 school(s)" in done.stderr
