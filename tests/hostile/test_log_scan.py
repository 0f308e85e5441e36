"""A whole sync at DEBUG log level, both taps and the target: no token, secret, password, name, e-mail, phone
or birth date of the district appears in what they log.

The real executables run as Meltano runs them (a tap piped into target-bloomz), against the sandbox serving
a generated district whose every personal value is known.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

BIN = Path(sys.executable).parent
SMTP_PASSWORD = "smtp-Pa55word-never-logged"  # a test value that must not appear in the logs


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scan") / "district"
    done = subprocess.run(
        [BIN / "roster-sandbox", "generate", "tiny", "--seed", "3", "--out", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district, rate_limit=0) as running:
        yield running


def personal_values(district: Path) -> set[str]:
    """Every name (of 4 letters or more), e-mail, phone and birth date of the district's users."""
    users = [item["data"] for item in json.loads((district / "users.json").read_text())["data"]]
    values: set[str] = set()
    for user in users:
        name = user.get("name") or {}
        values |= {name[part] for part in ("first", "last", "middle") if len(name.get(part) or "") >= 4}
        values |= {user[key] for key in ("email",) if user.get(key)}
        for role in (user.get("roles") or {}).values():
            values |= {str(role[key]) for key in ("phone", "dob") if role.get(key)}
    assert len(values) > 100  # the scan looks for something
    return values


def sync(tap: str, tap_config: dict[str, Any], folder: Path, source: str) -> str:
    """``tap | target-bloomz`` at DEBUG; both logs."""
    folder.mkdir()
    (folder / "tap.json").write_text(json.dumps(tap_config))
    target = {
        "database": str(folder / "bloomz.duckdb"),
        "source": source,
        "outbox_dir": str(folder / "outbox"),
        "invite_parents": True,
        "smtp_host": "127.0.0.1",
        "smtp_port": 9,  # nothing listens: delivery fails, and its error is logged at DEBUG too
        "smtp_username": "bloomz",
        "smtp_password": SMTP_PASSWORD,
    }
    (folder / "target.json").write_text(json.dumps(target))
    debug = {
        **os.environ,
        "LOGLEVEL": "DEBUG",
        "TAP_CLEVER_LOGLEVEL": "DEBUG",
        "TARGET_BLOOMZ_LOGLEVEL": "DEBUG",
    }
    tapped = subprocess.run(
        [BIN / tap, "--config", folder / "tap.json"], capture_output=True, text=True, env=debug, check=False
    )
    assert tapped.returncode == 0, tapped.stderr[-3000:]
    loaded = subprocess.run(
        [BIN / "target-bloomz", "--config", folder / "target.json"],
        input=tapped.stdout,
        capture_output=True,
        text=True,
        env=debug,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert " DEBUG " in tapped.stderr  # the logs really are at DEBUG
    assert " DEBUG " in loaded.stderr
    return tapped.stderr + loaded.stderr


def test_a_whole_sync_at_debug_level_logs_no_secret_and_no_personal_data(
    district: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    secrets = {sandbox.token, sandbox.client_secret, SMTP_PASSWORD}
    clever = {
        "api_url": sandbox.clever_api_url,
        "oauth_tokens_url": sandbox.oauth_tokens_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "district_id": json.loads((district / "districts.json").read_text())["data"][0]["data"]["id"],
    }
    oneroster = {
        "base_url": sandbox.url,
        "token_url": sandbox.oneroster_token_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
    }

    logs = sync("tap-clever", clever, tmp_path / "clever", "clever")
    logs += sync("tap-oneroster", oneroster, tmp_path / "oneroster", "oneroster")

    printed = sorted(value for value in secrets | personal_values(district) if value in logs)
    assert printed == []
    # Tokens the servers issued during the run are not known here: no credential header or body at all.
    assert not re.search(r"(?i)(bearer|basic) [a-z0-9+/=._-]{8,}", logs)
    assert not re.search(r'(?i)"?(access_token|client_secret|password)"?\s*[:=]\s*"?[a-z0-9]', logs)
