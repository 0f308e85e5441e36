"""meltano.yml declares every plugin setting with a description, and keeps secrets secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLUGINS = yaml.safe_load((REPO / "meltano.yml").read_text())["plugins"]
OWN_PLUGINS = ["tap-clever", "tap-oneroster", "target-bloomz"]


def _declared(name: str) -> dict[str, dict[str, Any]]:
    """The settings meltano.yml declares for a plugin (its own, not inherited)."""
    plugin = next(p for kind in PLUGINS.values() for p in kind if p["name"] == name)
    return {setting["name"]: setting for setting in plugin.get("settings", [])}


def _about(executable: str) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [BIN / executable, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    properties: dict[str, dict[str, Any]] = json.loads(result.stdout)["settings"]["properties"]
    return properties


@pytest.mark.parametrize("plugin", OWN_PLUGINS)
def test_every_setting_the_plugin_takes_is_declared_with_a_description(plugin: str) -> None:
    declared = _declared(plugin)
    sdk_builtins = {"stream_maps", "stream_map_config", "faker_config", "batch_config"}
    missing = sorted(
        name
        for name in _about(plugin)
        if name not in declared
        and name not in sdk_builtins
        and not name.startswith(
            (
                "flattening_",
                "add_record_metadata",
                "load_method",
                "validate_records",
                "batch_size_rows",
                "process_activate_version_messages",
            )
        )
    )
    assert missing == []
    undescribed = sorted(name for name, setting in declared.items() if not setting.get("description"))
    assert undescribed == []


@pytest.mark.parametrize("plugin", OWN_PLUGINS)
def test_secrets_are_sensitive_in_meltano_and_secret_in_the_plugin(plugin: str) -> None:
    declared, about = _declared(plugin), _about(plugin)
    secret_in_plugin = {name for name, spec in about.items() if spec.get("secret")}
    sensitive_in_meltano = {name for name, setting in declared.items() if setting.get("sensitive")}
    assert secret_in_plugin == sensitive_in_meltano
    assert secret_in_plugin, "every plugin here takes a credential"


def test_presets_keep_their_secret_sensitive() -> None:
    for preset in ["tap-skyward", "tap-classlink"]:
        assert _declared(preset)["client_secret"]["sensitive"] is True


def test_the_file_meltano_writes_secrets_to_is_never_committed() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert result.returncode == 0, ".env (where `meltano config set` stores secrets) is not git-ignored"
