"""Whole nights through the sandbox: roster-sandbox serves a district, tap-clever pipes into target-bloomz,
`roster-sandbox advance` makes the next night, and the store is checked the way an admin would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.district import TARGET, query
from tests.support.mappings import write_open_mapping

BIN = Path(sys.executable).parent


@dataclass
class Night:
    tap_returncode: int
    returncode: int
    stdout: str
    stderr: str


def _sandbox_cli(*args: str) -> None:
    subprocess.run([str(BIN / "roster-sandbox"), *args], check=True, capture_output=True, timeout=120)


def _night(
    sandbox: Sandbox,
    tmp_path: Path,
    database: Path,
    mapping: Path | None,
    tap: dict[str, Any] | None = None,
    **options: Any,
) -> Night:
    """One night: tap-clever | target-bloomz, as `meltano run tap-clever target-bloomz` pipes them."""
    tap_config = tmp_path / "tap.json"
    tap_config.write_text(
        json.dumps({"district_token": sandbox.token, "api_url": sandbox.clever_api_url, **(tap or {})})
    )
    target_config = tmp_path / "target.json"
    config = {"database": str(database), **options} | ({"mapping": str(mapping)} if mapping else {})
    target_config.write_text(json.dumps(config))
    tap_process = subprocess.Popen(
        [str(BIN / "tap-clever"), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = subprocess.run(
        [TARGET, "--config", str(target_config)],
        stdin=tap_process.stdout,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tap_process.wait(timeout=60)
    return Night(tap_process.returncode, target.returncode, target.stdout, target.stderr)


def _objects(path: Path) -> list[dict[str, Any]]:
    """The objects of a sandbox data file (a Clever list envelope or a plain list)."""
    loaded = json.loads(path.read_text())
    items = loaded["data"] if isinstance(loaded, dict) else loaded
    return [item.get("data", item) for item in items]


def _ids(path: Path) -> set[str]:
    return {obj["id"] for obj in _objects(path)}


def _students(district_dir: Path) -> set[str]:
    return {u["id"] for u in _objects(district_dir / "users.json") if "student" in u.get("roles", {})}


def _changes(database: Path, run_id: int) -> dict[str, int]:
    return dict(
        query(
            database,
            "SELECT entity || ' ' || action, count(*) FROM plan_rows WHERE run_id = ? AND action <> 'skip' "
            "GROUP BY ALL",
            [run_id],
        )
    )


@pytest.fixture
def district_dir(tmp_path: Path) -> Path:
    path = tmp_path / "district"
    _sandbox_cli("generate", "tiny", "--seed", "11", "--out", str(path))
    return path


@pytest.fixture
def open_limits_file(tmp_path: Path) -> Path:
    return write_open_mapping(tmp_path / "district-open.yml")


def test_nights_add_without_full_data_and_full_data_brings_the_store_to_the_source(
    district_dir, tmp_path, database, open_limits_file
):
    with run_sandbox(district_dir, rate_limit=0) as sandbox:
        first = _night(sandbox, tmp_path, database, open_limits_file)
        assert (first.tap_returncode, first.returncode) == (0, 0), first.stderr[-3000:]
        before = _students(district_dir)
        _sandbox_cli("advance", str(district_dir), "--change", "10", "--seed", "2")
        withdrawn = before - _students(district_dir)
        assert withdrawn, "the sandbox's next night withdraws students"

        second = _night(sandbox, tmp_path, database, open_limits_file)
        assert second.returncode == 0, second.stderr[-3000:]
        assert not any(k.endswith(" remove") or k.endswith(" archive") for k in _changes(database, 2))
        assert (
            query(
                database,
                "SELECT count(*) FROM class_members m JOIN person_sources s ON s.person_id = m.person_id "
                "WHERE s.source_id IN (SELECT unnest(?))",
                [sorted(withdrawn)],
            )[0][0]
            > 0
        ), "without Full Data the withdrawn students stay in their classes"

        third = _night(sandbox, tmp_path, database, open_limits_file, full_data=True)
        assert third.returncode == 0, third.stderr[-3000:]
        assert _changes(database, 3).get("class_member remove", 0) > 0
        assert query(
            database,
            "SELECT count(*) FROM class_members m JOIN person_sources s ON s.person_id = m.person_id "
            "WHERE s.source_id IN (SELECT unnest(?))",
            [sorted(withdrawn)],
        ) == [(0,)]

        fourth = _night(sandbox, tmp_path, database, open_limits_file, full_data=True)
        assert _changes(database, 4) == {}, "after Full Data the store matches the source: nothing left to do"
        assert fourth.stdout.strip(), "an applied night emits its STATE"


def test_rollover_with_full_data_and_archive_is_held_approved_and_undone(
    district_dir, tmp_path, database, cli
):
    with run_sandbox(district_dir, rate_limit=0) as sandbox:
        assert _night(sandbox, tmp_path, database, None).returncode == 0  # the packaged Clever defaults
        old_classes = query(database, "SELECT id, name, status FROM classes ORDER BY id")

        # The new school year: the SIS is rolled over, every section is new.
        shutil.rmtree(district_dir)
        _sandbox_cli("generate", "tiny", "--seed", "12", "--out", str(district_dir))
        rollover = _night(sandbox, tmp_path, database, None, full_data=True, archive=True)

        assert rollover.returncode == 3, rollover.stderr[-3000:]  # held
        assert rollover.stdout == "", "a held run does not advance Meltano's state"
        status, reason = query(database, "SELECT status, status_reason FROM runs WHERE id = 2")[0]
        assert status == "held"
        assert "classes removals" in reason
        assert "over the limit of 10%" in reason
        assert query(database, "SELECT id, name, status FROM classes ORDER BY id") == old_classes

        approved = cli("approve", "2")
        assert approved.exit_code == 0, approved.output
        # Every old class whose section the new year lacks is archived (the generator may reuse an id).
        new_sections = _ids(district_dir / "sections.json")
        gone = query(
            database,
            "SELECT id FROM classes WHERE id IN (SELECT unnest(?)) AND section_id NOT IN (SELECT unnest(?))",
            [[c[0] for c in old_classes], sorted(new_sections)],
        )
        assert len(gone) >= len(old_classes) - 2
        assert query(
            database,
            "SELECT DISTINCT status FROM classes WHERE id IN (SELECT unnest(?))",
            [[g[0] for g in gone]],
        ) == [("archived",)]
        assert query(database, "SELECT count(*) FROM classes WHERE status = 'active'")[0][0] > 0

        revived = gone[0][0]
        assert cli("revive-class", str(revived)).exit_code == 0

        undone = cli("undo", "2")
        assert undone.exit_code == 0, undone.output
        assert f'classes {{"id":{revived}}}: changed in Bloomz after the run' in undone.output
        assert query(database, "SELECT id, name, status FROM classes ORDER BY id") == old_classes


def test_a_failed_pull_removes_and_archives_nothing(district_dir, tmp_path, database, open_limits_file):
    with run_sandbox(district_dir, rate_limit=0) as sandbox:
        assert _night(sandbox, tmp_path, database, open_limits_file).returncode == 0
        classes = query(database, "SELECT id, name, status FROM classes ORDER BY id")
        members = query(database, "SELECT count(*) FROM class_members")
        _sandbox_cli("advance", str(district_dir), "--change", "10", "--seed", "3")
        # The first page of users comes through, then the users endpoint fails: a full pull cut short.
        sandbox.set_faults(
            {"kind": "status", "status": 400, "path": "/v3.0/users", "after": 1, "count": None}
        )

        failed = _night(
            sandbox, tmp_path, database, open_limits_file, {"page_size": 5}, full_data=True, archive=True
        )

        assert failed.tap_returncode != 0, "the tap failed on the users endpoint"
        cut_short = [
            message
            for (message,) in query(database, "SELECT message FROM run_issues WHERE run_id = 2")
            if message.startswith("did not close complete")
        ]
        assert cut_short, failed.stderr[-3000:]
        assert set(cut_short) == {"did not close complete; removals judged from the mirror as of run 1"}
        assert (
            query(database, "SELECT pulled_complete FROM runs WHERE id = 2")[0][0]
            != query(database, "SELECT complete_streams FROM runs WHERE id = 2")[0][0]
        ), "what the run pulled complete is kept apart from what the mirror holds complete"
        assert not any(k.endswith(" remove") or k.endswith(" archive") for k in _changes(database, 2))
        assert query(database, "SELECT id, name, status FROM classes ORDER BY id") == classes
        assert query(database, "SELECT count(*) FROM class_members") >= members
