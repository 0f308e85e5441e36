"""One distribution provides every executable, and ships its schemas and mappings."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.project import REPO_ROOT

BIN = Path(sys.executable).parent
REPO = REPO_ROOT
SINGER_PLUGINS = ["tap-clever", "tap-oneroster", "target-bloomz"]


@pytest.mark.parametrize("executable", [*SINGER_PLUGINS, "roster-sandbox", "bloomz-sync"])
def test_every_executable_answers_help(executable: str) -> None:
    result = subprocess.run([BIN / executable, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("executable", SINGER_PLUGINS)
def test_singer_plugins_describe_themselves(executable: str) -> None:
    result = subprocess.run(
        [BIN / executable, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    about = json.loads(result.stdout)
    assert about["name"] == executable
    assert about["sdk_version"].startswith("0.54.")
    assert about["version"] == "0.1.0"
    assert about["settings"]["properties"], "a plugin with no settings of its own says nothing true"


def test_a_built_wheel_carries_the_schemas_and_mappings(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, REPO],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bloomz_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for stream in ["schools", "sections", "students", "staff", "contacts", "enrollments"]:
        assert f"roster_streams/schemas/roster/{stream}.json" in names
    assert "roster_streams/schemas/mapping.schema.json" in names
    assert "target_bloomz/mapping/defaults/clever.yml" in names
    for package in ["tap_clever", "tap_oneroster", "target_bloomz", "roster_sandbox", "bloomz_sync"]:
        assert f"{package}/__init__.py" in names
