"""The tap-skyward and tap-classlink Meltano presets reach the sandbox with the seed's form values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def meltano_test(plugin: str, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    prefix = plugin.upper().replace("-", "_")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.update({f"{prefix}_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [str(BIN / "meltano"), "invoke", plugin, "--test"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.e2e
def test_the_skyward_preset_takes_the_oneroster_api_url_and_lists_the_schools(demo_sandbox: Sandbox) -> None:
    done = meltano_test(
        "tap-skyward",
        {
            "client_id": demo_sandbox.client_id,
            "client_secret": demo_sandbox.client_secret,
            "base_url": demo_sandbox.oneroster_base_url("1.1"),  # the whole OneRoster API URL
            "token_url": demo_sandbox.oneroster_token_url,
        },
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "The credentials see 5 school(s)" in done.stderr
    assert done.stdout.count('"type":"RECORD","stream":"schools"') == 5
    assert demo_sandbox.client_secret not in done.stderr


@pytest.mark.e2e
def test_the_classlink_preset_signs_with_oauth1(demo_sandbox: Sandbox) -> None:
    done = meltano_test(
        "tap-classlink",
        {
            "client_id": demo_sandbox.client_id,
            "client_secret": demo_sandbox.client_secret,
            "base_url": demo_sandbox.url,
        },
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "The credentials see 5 school(s)" in done.stderr
