"""The real tap-oneroster executable against the sandbox, CSV bundles for it, and its records read in this
process."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roster_sandbox.testing import Sandbox
from tap_oneroster.csv_source import CsvSource
from tap_oneroster.problems import Problem
from tap_oneroster.records import Roster
from tap_oneroster.tables import Collections

TAP = str(Path(sys.executable).parent / "tap-oneroster")


@dataclass
class TapRun:
    """What one run of the tap produced: exit code, Singer messages, log."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD" and message["stream"] != "pull":  # the roster streams' records
                self.records.setdefault(message["stream"], []).append(message["record"])

    def counts(self) -> dict[str, int]:
        return {stream: len(records) for stream, records in sorted(self.records.items())}

    def last_state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def stream_messages(self, stream: str) -> list[str]:
        return [m["type"] for m in self.messages if m.get("stream") == stream and m["type"] != "SCHEMA"]


def write_bundle(folder: Path, manifest: dict[str, str], files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["propertyName,value", *(f"{k},{v}" for k, v in manifest.items())]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as bundle:
        for path in folder.iterdir():
            bundle.write(path, prefix + path.name)
    return target


def run_tap(
    tmp_path: Path, config: dict[str, Any], *args: str, state: dict[str, Any] | None = None
) -> TapRun:
    """Run `tap-oneroster --config ...` as a subprocess, the way Meltano does."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return TapRun(done.returncode, messages, done.stderr)


def sandbox_config(
    sandbox: Sandbox, version: str = "1.1", auth: str = "oauth2", **extra: Any
) -> dict[str, Any]:
    """A tap config for the sandbox, the way the Skyward form fills it."""
    config: dict[str, Any] = {
        "base_url": sandbox.url,
        "api_path": sandbox.oneroster_base_url(version)[len(sandbox.url) :],
        "version": version,
        "auth": auth,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "token_url": sandbox.oneroster_token_url,
        "backoff_factor": 0.1,
    }
    return {**config, **extra}


def without(records: list[dict[str, Any]], *fields: str) -> list[str]:
    """Records as sorted JSON texts, leaving out some fields: for comparing two runs."""
    return sorted(
        json.dumps({k: v for k, v in r.items() if k not in fields}, sort_keys=True) for r in records
    )


class ObjectsSource:
    """OneRoster REST objects given by a test, served the way RestSource serves a server's pages."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects

    def is_complete(self, collection: str) -> bool:
        return True

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]:
        yield from self.objects.get(collection, [])


@dataclass
class Pulled:
    """The standard records one source gives, stream by stream, and what it could not read."""

    tables: Collections
    schools: list[str] = field(default_factory=list)
    now: str = "2026-11-23T00:00:00Z"

    def __call__(self, stream: str, since: str | None = None) -> list[dict[str, Any]]:
        query = getattr(Roster(self.tables, self.schools, self.now), stream)(since)
        return [json.loads(text) for (text,) in self.tables.con.execute(query.sql, query.params).fetchall()]

    @property
    def problems(self) -> list[Problem]:
        return self.tables.problems


def pull_objects(tmp_path: Path, objects: dict[str, list[dict[str, Any]]], **options: Any) -> Pulled:
    """Records from REST objects, in this process."""
    return Pulled(Collections(ObjectsSource(objects), workdir=_workdir(tmp_path)), **options)


def pull_bundle(tmp_path: Path, bundle: Path, *, date_order: str = "auto", **options: Any) -> Pulled:
    """Records from a CSV bundle, in this process."""
    workdir = _workdir(tmp_path)
    tables = Collections(CsvSource(bundle, workdir), date_order=date_order, workdir=workdir)
    return Pulled(tables, **options)


def _workdir(tmp_path: Path) -> Path:
    folder = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    folder.mkdir(mode=0o700)
    return folder
