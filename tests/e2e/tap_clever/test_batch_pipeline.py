"""tap-clever writing BATCH files, piped into target-bloomz: the store ends as with RECORD messages.

Two stores follow the same district night by night, one fed RECORD messages and one BATCH files; after
the first sync and after an incremental night, ``bloomz-sync export`` of both must be equal (but for the
family codes, random in any store).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.clever_tap import TapRun, batch_config, run_tap, sandbox_config
from tests.support.district import run_target
from tests.support.dumps import copy_dump
from tests.support.project import meltano, meltano_env, pristine_project

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.e2e


@pytest.fixture
def district(demo_district_dir: Path, tmp_path: Path) -> Path:
    return copy_dump(demo_district_dir, tmp_path / "district")


@pytest.fixture
def sandbox(district: Path) -> Iterator[Sandbox]:
    with run_sandbox(district, rate_limit=0) as sandbox:
        yield sandbox


def export(database: Path) -> dict[str, Any]:
    """The store's export, without family codes (drawn at random for each new parent, in any store)."""
    done = subprocess.run(
        [BIN / "bloomz-sync", "--database", str(database), "export", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    exported: dict[str, Any] = json.loads(done.stdout)
    for person in exported["people"]:
        person.pop("family_code", None)
    return exported


def sync(
    config: dict[str, Any], state: dict[str, Any] | None, database: Path, folder: Path
) -> tuple[TapRun, dict[str, Any]]:
    """One night: the tap's messages into target-bloomz; returns them and the target's last STATE."""
    run = run_tap(folder, config, state)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = "".join(json.dumps(message) + "\n" for message in run.messages)
    # target-bloomz reads BATCH files only from its own batch folder: the tap's.
    batches = (
        {"batch_config": {"storage": config["batch_config"]["storage"]}} if "batch_config" in config else {}
    )
    result = run_target({"database": str(database), **batches}, lines, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return run, result.states[-1]


def test_batch_files_land_the_same_store_as_record_messages(
    district: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    records = sandbox_config(sandbox, incremental=True)
    batches = records | {"batch_config": batch_config(files)}
    by_records, by_batches = tmp_path / "records.duckdb", tmp_path / "batches.duckdb"

    _, records_state = sync(records, None, by_records, tmp_path / "r0")
    first, batches_state = sync(batches, None, by_batches, tmp_path / "b0")
    assert "BATCH" in {m["type"] for m in first.messages}
    first_export = export(by_records)
    assert export(by_batches) == first_export
    assert first_export["people"]
    assert not any(files.iterdir())  # the target deleted each file once read

    done = subprocess.run(
        [BIN / "roster-sandbox", "advance", str(district), "--change", "5", "--seed", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sync(records, records_state, by_records, tmp_path / "r1")
    night, _ = sync(batches, batches_state, by_batches, tmp_path / "b1")
    assert "BATCH" in {m["type"] for m in night.messages}
    assert export(by_records) != first_export  # the night changed the store
    assert export(by_batches) == export(by_records)


def test_meltano_run_sends_batch_files_by_default(demo_sandbox: Sandbox, tmp_path: Path) -> None:
    """meltano.yml's batch_config: `meltano run tap-clever target-bloomz` moves the records in files."""
    pristine_project(tmp_path)
    done = meltano(
        tmp_path,
        "--log-format=json",  # the taps log structured METRIC lines: Meltano's JSON keeps their tags
        "run",
        "tap-clever",
        "target-bloomz",
        env=meltano_env(TAP_CLEVER_API_URL=demo_sandbox.clever_api_url),
    )

    assert done.returncode == 0, done.stderr[-3000:]
    metrics = [
        json.loads(line).get("metric_info") for line in done.stderr.splitlines() if line.startswith("{")
    ]
    batches = [m for m in metrics if m and m["metric"] == "batch_count" and m["tags"]["stream"] == "students"]
    assert [m["value"] for m in batches] == [1]
    assert not any((tmp_path / ".meltano" / "batches").iterdir())
    people = export(tmp_path / "data" / "bloomz.duckdb")["people"]
    assert sum(person["kind"] == "student" for person in people) == 1004
