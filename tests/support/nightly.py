"""Helpers of the source-mirror tests: run the real tap-clever, target-bloomz and bloomz-sync executables."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roster_sandbox.testing import Sandbox

BIN = Path(sys.executable).parent


@dataclass
class Night:
    """One nightly run: the Singer output the target read, and what the target said."""

    returncode: int
    stderr: str
    states: list[dict[str, Any]]
    records: int


def tap_clever(
    sandbox: Sandbox, folder: Path, *, incremental: bool, state: dict | None, schools: list[str] | None = None
) -> Path:
    """Run tap-clever (every school, or only ``schools``) into ``folder/tap.singer``; return that file."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "api_url": sandbox.clever_api_url,
        "district_token": sandbox.token,
        "incremental": incremental,
        "schools": schools or [],
    }
    return run_tap("tap-clever", config, folder, state)


def run_tap(executable: str, config: dict[str, Any], folder: Path, state: dict | None) -> Path:
    """Run a tap with ``config`` (and ``state``) into ``folder/tap.singer``; return that file."""
    (folder / "tap-config.json").write_text(json.dumps(config))
    command = [str(BIN / executable), "--config", str(folder / "tap-config.json")]
    if state is not None:
        (folder / "tap-state.json").write_text(json.dumps(state))
        command += ["--state", str(folder / "tap-state.json")]
    output = folder / "tap.singer"
    with output.open("w") as out:
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.PIPE, text=True, timeout=300, check=False
        )
    assert done.returncode == 0, f"{executable} failed: {done.stderr[-3000:]}"
    return output


def target_bloomz(config: dict[str, Any], singer: Path, folder: Path) -> Night:
    """Run target-bloomz on a Singer file; the STATE lines it emitted are what Meltano would keep."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / f"target-config-{len(list(folder.glob('target-config-*')))}.json"
    config_file.write_text(json.dumps(config))
    with singer.open() as messages:
        done = subprocess.run(
            [str(BIN / "target-bloomz"), "--config", str(config_file)],
            stdin=messages,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=folder,
        )
    states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]  # state values
    with singer.open() as lines:
        records = sum(1 for message in map(json.loads, lines) if _roster_record(message))
    return Night(done.returncode, done.stderr, states, records)


def _roster_record(message: dict[str, Any]) -> bool:
    return message["type"] == "RECORD" and message["stream"] != "pull"  # not the pull's own records


def export(database: Path) -> dict[str, Any]:
    """``bloomz-sync export --format json`` of a store, its surrogate ids replaced by source identities."""
    return normalised(export_as_is(database))


def export_as_is(database: Path) -> dict[str, Any]:
    """``bloomz-sync export --format json`` of a store."""
    done = subprocess.run(
        [str(BIN / "bloomz-sync"), "--database", str(database), "export", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    """Person, class and community ids are the store's surrogates: name each by its source identity."""
    person = {
        p["id"]: " ".join(f"{s['source']}:{s['id']}" for s in p["source_ids"])
        or f"#{p['kind']}:{p['last_name']}"
        for p in document["people"]
    }

    def members(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({**m, "person_id": person[m["person_id"]]} for m in rows), key=json.dumps)

    return {
        "communities": sorted(
            ({**c, "id": None, "members": members(c["members"])} for c in document["communities"]),
            key=lambda c: c["key"],
        ),
        "classes": sorted(
            ({**c, "id": None, "members": members(c["members"])} for c in document["classes"]),
            key=lambda c: (c["community"], c["section_id"] or "", c["name"]),
        ),
        "people": sorted(
            (
                {
                    **p,
                    "id": person[p["id"]],
                    # family codes are random: only whether a student has one is comparable
                    "family_code": p["family_code"] is not None,
                    "contacts": members(p["contacts"]),
                }
                for p in document["people"]
            ),
            key=lambda p: p["id"],
        ),
    }


def advance(district: Path, night: int, change: float = 5.0) -> None:
    """``roster-sandbox advance``: the next night, with its Clever events."""
    done = subprocess.run(
        [
            str(BIN / "roster-sandbox"),
            "advance",
            str(district),
            "--change",
            str(change),
            "--seed",
            str(night),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def differences(incremental: dict[str, Any], full: dict[str, Any]) -> str:
    """The first entries that differ, per part of the export: readable when the invariant breaks."""
    lines = []
    for part in incremental:
        a = {json.dumps(row, sort_keys=True) for row in incremental[part]}
        b = {json.dumps(row, sort_keys=True) for row in full[part]}
        lines += [f"{part} only after incremental: {row[:400]}" for row in sorted(a - b)[:3]]
        lines += [f"{part} only after full: {row[:400]}" for row in sorted(b - a)[:3]]
    return "\n".join(lines)
