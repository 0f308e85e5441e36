"""Personal data on disk is the owner's alone, spools left by a killed import are swept, and every refusal is
one line without a traceback, in each of the five executables.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.cli import main as sandbox_cli
from roster_sandbox.testing import Sandbox
from target_bloomz.store import locks

from tests.support import runner
from tests.support.district import district, singer_lines
from tests.support.hostile import assert_clean, assert_store

BIN = Path(sys.executable).parent
MESSAGES = singer_lines(district())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask of a shell: without the executables' own rule, files would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_022")
def test_an_import_writes_every_file_owner_only(tmp_path: Path, capfd: Any) -> None:
    database = tmp_path / "data" / "bloomz.duckdb"
    outbox = tmp_path / "outbox"
    config = {
        "database": str(database),
        "outbox_dir": str(outbox),
        "invite_parents": True,
        "invite_teachers": True,
    }

    run = runner.target(config, MESSAGES, capfd, tmp_path)

    assert_clean(run, exit_code=0)
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700  # the folder the import made for it
    assert mode(locks.lock_dir(database)) == 0o700
    emails = list(outbox.glob("*.eml"))
    assert emails, "the invitations were written as .eml files"
    assert {mode(path) for path in emails} == {0o600}
    assert mode(outbox) == 0o700
    assert mode(outbox / "sms.jsonl") == 0o600


@pytest.mark.usefixtures("umask_022")
def test_a_held_run_and_a_lock_are_owner_only(tmp_path: Path, capfd: Any) -> None:
    database = tmp_path / "bloomz.duckdb"
    runner.target({"database": str(database)}, MESSAGES, capfd, tmp_path)
    limits = tmp_path / "limits.yml"
    limits.write_text("extends: clever\nsafety_limits:\n  removals:\n    class_memberships: {count: 0}\n")
    records = district()
    records["enrollments"] = [e for e in records["enrollments"] if e["user_id"] != "stu1"]

    held = runner.target(
        {"database": str(database), "mapping": str(limits), "full_data": True},
        singer_lines(records),
        capfd,
        tmp_path,
    )

    assert_clean(held, exit_code=3, names=["Run 2 HELD for approval, nothing applied"])  # 3: held
    copies = list(database.with_name(database.name + ".held").iterdir())  # the run's input, its state id
    assert len(copies) == 2
    assert [mode(path) for path in copies] == [0o600, 0o600]
    assert mode(copies[0].parent) == 0o700
    with locks.hold(database, ["clever:sch1"], "a test"):
        assert mode(locks.lock_dir(database) / "clever%3Asch1.lock") == 0o600


def test_a_store_an_older_version_left_world_readable_is_made_owner_only(
    store: Path, tmp_path: Path, capfd: Any
) -> None:
    store.chmod(0o644)
    held = store.with_name(store.name + ".held")
    held.mkdir(mode=0o755)
    held.chmod(0o755)

    run = runner.bloomz_sync(["--database", str(store), "rename-class", "sec1", "Homeroom 1A"], capfd)

    assert_clean(run, exit_code=0)
    assert mode(store) == 0o600
    run = runner.target({"database": str(store)}, MESSAGES, capfd, tmp_path)
    assert_clean(run, exit_code=0)
    assert mode(store) == 0o600


def _spools(tmp: Path) -> list[Path]:
    root = tmp / f"bloomz-sync-{os.getuid()}"
    return sorted(root.iterdir()) if root.exists() else []


def test_a_killed_targets_spool_is_swept_by_the_next_command_and_the_next_import(tmp_path: Path) -> None:
    spool_tmp = tmp_path / "tmp"
    spool_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(spool_tmp)}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database": str(tmp_path / "bloomz.duckdb")}))

    def killed_import() -> Path:
        target = subprocess.Popen(
            [BIN / "target-bloomz", "--config", config],
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert target.stdin is not None
        target.stdin.write(MESSAGES[: len(MESSAGES) // 2].encode())  # half the input: records spooled
        target.stdin.flush()
        deadline = time.monotonic() + 120
        while not any(spool.glob("*.ndjson") for spool in _spools(spool_tmp)):
            assert time.monotonic() < deadline, "the target never spooled a record"
            time.sleep(0.1)
        target.send_signal(signal.SIGKILL)
        target.wait()
        [left] = _spools(spool_tmp)
        assert mode(left) == 0o700
        assert mode(left.parent) == 0o700
        return left

    left = killed_import()
    swept = subprocess.run(
        [BIN / "bloomz-sync", "--database", str(tmp_path / "none.duckdb"), "mapping", "validate", "x.yml"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert swept.returncode == 1
    assert not left.exists(), "bloomz-sync swept the killed import's spool"

    left = killed_import()
    done = subprocess.run(
        [BIN / "target-bloomz", "--config", config],
        input=MESSAGES,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not left.exists(), "the next import swept the killed one's spool"
    assert _spools(spool_tmp) == [], "and its own is gone when it ends"


def test_a_spool_folder_that_is_not_the_users_own_is_refused(tmp_path: Path, capfd: Any) -> None:
    spool_tmp = tmp_path / "tmp"
    (spool_tmp / "elsewhere").mkdir(parents=True)
    (spool_tmp / f"bloomz-sync-{os.getuid()}").symlink_to(spool_tmp / "elsewhere")  # a trap set by someone

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(spool_tmp))
        import tempfile

        patch.setattr(tempfile, "tempdir", None)  # the temp dir is looked up again under the new TMPDIR
        run = runner.target({"database": str(tmp_path / "bloomz.duckdb")}, MESSAGES, capfd, tmp_path)

    assert_clean(run, exit_code=1, names=["is not a folder of this user", "set TMPDIR"])
    assert list((spool_tmp / "elsewhere").iterdir()) == []


# -- refusals: one line, no traceback ------------------------------------------------------------------------


def test_sync_in_progress_is_one_line(store: Path, tmp_path: Path, capfd: Any) -> None:
    before = runner.store_state(store)
    with locks.hold(store, ["clever:sch1"], "the nightly import"):
        run = runner.target({"database": str(store)}, MESSAGES, capfd, tmp_path)

    assert_clean(
        run, exit_code=1, names=["sync in progress for clever:sch1: held by the nightly import since"]
    )
    assert runner.last_run_status(store) == "refused"  # recorded for the admins; nothing applied
    after = runner.store_state(store)
    for table in ("communities", "classes", "people", "class_members"):
        assert after[table] == before[table]


def test_archive_without_full_data_is_one_line(store: Path, tmp_path: Path, capfd: Any) -> None:
    before = runner.store_state(store)

    run = runner.target({"database": str(store), "archive": True}, MESSAGES, capfd, tmp_path)

    assert_clean(run, exit_code=1, names=["archive: Archive is only valid together with Full Data"])
    assert_store(store, before, applied=False)


def test_an_smtp_password_in_clear_is_refused_before_data_moves(
    store: Path, tmp_path: Path, capfd: Any
) -> None:
    before = runner.store_state(store)
    smtp = {"smtp_host": "smtp.example.org", "smtp_username": "bloomz", "smtp_password": "hunter2-secret"}

    run = runner.target({"database": str(store), **smtp}, MESSAGES, capfd, tmp_path)

    assert_clean(
        run, exit_code=1, names=["smtp_password is set for smtp.example.org without TLS", "smtp_starttls"]
    )
    assert "hunter2-secret" not in run.printed
    assert_store(store, before, applied=False)


def test_a_store_that_is_not_a_store_is_one_line(tmp_path: Path, capfd: Any) -> None:
    garbage = tmp_path / "bloomz.duckdb"
    garbage.write_bytes(b"not a duckdb file" * 100)

    imported = runner.target({"database": str(garbage)}, MESSAGES, capfd, tmp_path)
    status = runner.bloomz_sync(["--database", str(garbage), "status"], capfd)

    assert_clean(imported, exit_code=1, names=[str(garbage)])
    assert_clean(status, exit_code=1, names=[str(garbage)])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--clever-data", "{tmp}", "--fault", "meteor"], "unknown fault kind 'meteor'"),
        (["serve", "--clever-data", "{tmp}", "--fault", "status:count=lots"], "is not a number"),
        (["advance", "{tmp}"], "{tmp}"),
        (["export-csv", "{tmp}", "--version", "1.1", "--out", "{tmp}/out"], "{tmp}"),
    ],
    ids=["unknown-fault", "fault-option", "advance-empty-folder", "export-empty-folder"],
)
def test_roster_sandbox_refuses_bad_input_in_one_line(
    args: list[str], says: str, tmp_path: Path, capfd: Any
) -> None:
    run = runner.run(lambda: sandbox_cli, [a.replace("{tmp}", str(tmp_path)) for a in args], capfd)

    assert_clean(run, exit_code=1, names=[says.replace("{tmp}", str(tmp_path))])


def test_expected_failures_show_their_traceback_at_debug_level(tmp_path: Path, capfd: Any) -> None:
    bad = tmp_path / "district.yml"
    bad.write_text("extends: clever\nstudents:\n  id_field: sis\n")

    quiet = runner.target({"mapping": str(bad)}, "", capfd, tmp_path)
    debug = runner.target({"mapping": str(bad)}, "", capfd, tmp_path, env={"TARGET_BLOOMZ_LOGLEVEL": "DEBUG"})

    assert_clean(quiet, exit_code=1, names=["district.yml:3: students.id_field"])
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr
    assert "district.yml:3: students.id_field" in debug.stderr


# -- mapping validate against the source ---------------------------------------------------------------------


@pytest.fixture
def tap_command(demo_sandbox: Sandbox, tmp_path: Path) -> str:
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps({"api_url": demo_sandbox.clever_api_url, "district_token": demo_sandbox.token})
    )
    return f"{BIN / 'tap-clever'} --config {config}"


def test_validate_with_the_source_finds_an_extra_field_no_section_has(
    tap_command: str, tmp_path: Path, capfd: Any
) -> None:
    path = tmp_path / "district.yml"
    path.write_text(
        "extends: clever\nsections:\n  rules:\n    - {name: labs, action: include, when: {name: 'Lab *'}}\n"
        "  class_name: '{{ section.extra.room_no }}'\n"
    )

    run = runner.bloomz_sync(["mapping", "validate", str(path), "--tap", tap_command], capfd)

    assert_clean(run, exit_code=1)
    assert (
        f"{path}:5: sections.class_name: template uses an undefined value: 'dict object' has no attribute "
        "'room_no' (for 378 of the source's 378 sections)"
    ) in run.stderr
    assert f"warning: {path}:4: sections.rules[0]: rule 'labs' matches none of the 378 sections" in run.stderr


def test_validate_with_the_source_finds_a_school_it_does_not_have(
    tap_command: str, tmp_path: Path, capfd: Any
) -> None:
    path = tmp_path / "district.yml"
    path.write_text("extends: clever\ncommunities:\n  schools: [5a25ff950a5f621109000004, no-such-school]\n")

    run = runner.bloomz_sync(["mapping", "validate", str(path), "--tap", tap_command], capfd)

    assert_clean(
        run, exit_code=1, names=[f"{path}:3: communities.schools: the source has no school 'no-such-school'"]
    )


def test_validate_says_when_the_source_cannot_be_read(tmp_path: Path, capfd: Any) -> None:
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps({"api_url": "http://clever.example", "district_token": "x"})
    )  # refused at once
    path = tmp_path / "district.yml"
    path.write_text("extends: clever\n")

    run = runner.bloomz_sync(
        ["mapping", "validate", str(path), "--tap", f"{BIN / 'tap-clever'} --config {config}"], capfd
    )

    assert_clean(run, exit_code=0, names=["warning: source not checked: the tap command failed (exit 1)"])
