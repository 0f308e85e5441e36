"""A whole sync at DEBUG log level, both taps and the target: no token, secret, password, name, e-mail, phone
or birth date of the district appears in what they log.

The real executables run as Meltano runs them (a tap piped into target-bloomz), against the sandbox serving
a generated district whose every personal value is known.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from roster_sandbox.testing import Sandbox

from tests.support import runner

BIN = Path(sys.executable).parent
SMTP_PASSWORD = "smtp-Pa55word-never-logged"  # a test value that must not appear in the logs


def personal_values(tiny_district: Path) -> set[str]:
    """Every name (of 4 letters or more), e-mail, phone and birth date of the district's users."""
    users = [item["data"] for item in json.loads((tiny_district / "users.json").read_text())["data"]]
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
    debug = {
        **os.environ,
        "LOGLEVEL": "DEBUG",
        "TAP_CLEVER_LOGLEVEL": "DEBUG",
        "TARGET_BLOOMZ_LOGLEVEL": "DEBUG",
    }
    logs = runner.pipeline(tap, tap_config, target, folder, env=debug)
    assert logs.count(" DEBUG ") > 100  # the logs really are at DEBUG
    return logs


def test_a_whole_sync_at_debug_level_logs_no_secret_and_no_personal_data(
    tiny_district: Path, tiny_sandbox: Sandbox, tmp_path: Path
) -> None:
    secrets = {tiny_sandbox.token, tiny_sandbox.client_secret, SMTP_PASSWORD}
    clever = {
        "api_url": tiny_sandbox.clever_api_url,
        "oauth_tokens_url": tiny_sandbox.oauth_tokens_url,
        "client_id": tiny_sandbox.client_id,
        "client_secret": tiny_sandbox.client_secret,
        "district_id": json.loads((tiny_district / "districts.json").read_text())["data"][0]["data"]["id"],
    }
    oneroster = {
        "base_url": tiny_sandbox.url,
        "token_url": tiny_sandbox.oneroster_token_url,
        "client_id": tiny_sandbox.client_id,
        "client_secret": tiny_sandbox.client_secret,
    }

    logs = sync("tap-clever", clever, tmp_path / "clever", "clever")
    logs += sync("tap-oneroster", oneroster, tmp_path / "oneroster", "oneroster")

    printed = sorted(value for value in secrets | personal_values(tiny_district) if value in logs)
    assert printed == []
    # Tokens the servers issued during the run are not known here: no credential header or body at all.
    assert not re.search(r"(?i)(bearer|basic) [a-z0-9+/=._-]{8,}", logs)
    assert not re.search(r'(?i)"?(access_token|client_secret|password)"?\s*[:=]\s*"?[a-z0-9]', logs)
