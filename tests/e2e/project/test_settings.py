"""meltano.yml declares each plugin as the plugin describes itself (`--about`), and keeps secrets secret.

Every setting has a kind, a label and a description; the settings and capabilities meltano.yml declares are
exactly those the executable reports, with the plugin's own label (its title) and description.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.project import REPO_ROOT

REPO = REPO_ROOT
BIN = Path(sys.executable).parent
OWN_PLUGINS = ["tap-clever", "tap-oneroster", "target-bloomz"]
# meltano.yml's value where it differs from the plugin's default: paths inside the Meltano project.
PROJECT_VALUES = {
    ("tap-clever", "batch_config"),
    ("tap-oneroster", "batch_config"),
    ("target-bloomz", "batch_config"),
    ("target-bloomz", "outbox_dir"),
}
KINDS = {"string": "string", "integer": "integer", "boolean": "boolean", "number": "decimal"}


def _plugins() -> list[dict[str, Any]]:
    """Every plugin of meltano.yml and of the files it includes (districts/*/meltano.yml)."""
    root = yaml.safe_load((REPO / "meltano.yml").read_text())
    files = [root] + [
        yaml.safe_load(path.read_text())
        for pattern in root["include_paths"]
        for path in sorted(REPO.glob(pattern.removeprefix("./")))
    ]
    return [plugin for data in files for kind in data.get("plugins", {}).values() for plugin in kind]


def _plugin(name: str) -> dict[str, Any]:
    return next(p for p in _plugins() if p["name"] == name)


def _declared(name: str) -> dict[str, dict[str, Any]]:
    """The settings meltano.yml declares for a plugin (its own, not inherited)."""
    return {setting["name"]: setting for setting in _plugin(name).get("settings", [])}


@cache
def _about(executable: str) -> dict[str, Any]:
    result = subprocess.run(
        [BIN / executable, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    about: dict[str, Any] = json.loads(result.stdout)
    return about


def test_every_setting_has_a_kind_a_label_and_a_description() -> None:
    settings = [(p["name"], s) for p in _plugins() for s in p.get("settings", [])]
    assert len(settings) > 50
    incomplete = [
        f"{plugin}.{s['name']}"
        for plugin, s in settings
        if not (s.get("kind") and s.get("label") and s.get("description"))
    ]
    assert incomplete == []


@pytest.mark.parametrize("plugin", OWN_PLUGINS)
def test_meltano_declares_exactly_the_settings_and_capabilities_the_plugin_reports(plugin: str) -> None:
    about = _about(plugin)
    assert list(_declared(plugin)) == list(about["settings"]["properties"])
    assert _plugin(plugin)["capabilities"] == about["capabilities"]


@pytest.mark.parametrize("plugin", OWN_PLUGINS)
def test_each_setting_reads_as_the_plugin_describes_it(plugin: str) -> None:
    for name, spec in _about(plugin)["settings"]["properties"].items():
        setting = _declared(plugin)[name]
        assert setting["label"] == spec["title"], name
        assert setting["description"] == spec["description"], name
        if "enum" in spec:
            assert setting["kind"] == "options", name
            assert [option["value"] for option in setting["options"]] == spec["enum"], name
        else:
            json_type = next(t for t in spec["type"] if t != "null")
            assert setting["kind"] == KINDS.get(json_type, json_type), name
        if (plugin, name) not in PROJECT_VALUES:
            assert setting.get("value") == spec.get("default"), name


def test_the_target_offers_no_sdk_setting_that_does_nothing_here() -> None:
    about = _about("target-bloomz")
    assert not {"load_method", "batch_size_rows", "add_record_metadata", "validate_records"} & set(
        about["settings"]["properties"]
    )
    assert not any(name.startswith("flattening_") for name in about["settings"]["properties"])
    assert about["capabilities"] == ["about", "stream-maps", "structured-logging", "batch"]


@pytest.mark.parametrize("plugin", OWN_PLUGINS)
def test_secrets_are_sensitive_in_meltano_and_secret_in_the_plugin(plugin: str) -> None:
    declared, about = _declared(plugin), _about(plugin)["settings"]["properties"]
    secret_in_plugin = {name for name, spec in about.items() if spec.get("secret")}
    sensitive_in_meltano = {name for name, setting in declared.items() if setting.get("sensitive")}
    assert secret_in_plugin == sensitive_in_meltano
    assert secret_in_plugin, "every plugin here takes a credential"


def test_presets_keep_their_secret_sensitive_and_declare_only_settings_of_their_plugin() -> None:
    for preset in ["tap-skyward", "tap-classlink"]:
        declared = _declared(preset)
        assert declared["client_secret"]["sensitive"] is True
        assert set(declared) <= set(_declared("tap-oneroster"))


def test_the_file_meltano_writes_secrets_to_is_never_committed() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert result.returncode == 0, ".env (where `meltano config set` stores secrets) is not git-ignored"
