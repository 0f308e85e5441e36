"""One import per school at a time, stale locks taken over, and a sync killed in the middle of apply.

The kill uses apply's test hook TARGET_BLOOMZ_TEST_PAUSE_IN_APPLY: the real target-bloomz process waits
inside its apply transaction, after every write, until the test SIGKILLs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from target_bloomz.apply import PAUSE_ENV
from target_bloomz.locks import lock_dir

from tests.resync.resync_helpers import issues, run_row
from tests.support.district import TARGET, district, query, singer_lines

_SNAPSHOT = """SELECT (SELECT count(*) FROM classes), (SELECT list(name ORDER BY id) FROM classes),
    (SELECT count(*) FROM class_members), (SELECT count(*) FROM people), (SELECT count(*) FROM journal)"""


def _paused_target(config_file: Path, messages: str) -> subprocess.Popen:
    """A target-bloomz run that stops inside its apply transaction; returns once it is there."""
    process = subprocess.Popen(
        [TARGET, "--config", str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, PAUSE_ENV: "600"},
    )
    assert process.stdin
    assert process.stderr
    process.stdin.write(messages)
    process.stdin.close()
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "apply: paused before COMMIT" in line:
            return process
    process.wait()
    raise AssertionError("the target ended before pausing in apply:\n" + "".join(seen[-30:]))


def _config(tmp_path: Path, database: Path, mapping: Path, **options) -> Path:
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.json"
    path.write_text(json.dumps({"database": str(database), "mapping": str(mapping), **options}))
    return path


def _run(config_file: Path, messages: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TARGET, "--config", str(config_file)], input=messages, capture_output=True, text=True, timeout=120
    )


def test_a_killed_sync_leaves_the_store_before_and_the_next_run_takes_over_and_completes(
    database, tmp_path, open_limits
):
    config = _config(tmp_path, database, open_limits, full_data=True)
    assert _run(config, singer_lines(district())).returncode == 0
    before = query(database, _SNAPSHOT)
    night = district()
    night["sections"][2]["name"] = "Math 7 Honors"
    night["enrollments"] = [e for e in night["enrollments"] if e["user_id"] != "stu1"]
    messages = singer_lines(night, state={"bookmarks": {"night": 2}})

    paused = _paused_target(config, messages)
    paused.send_signal(signal.SIGKILL)
    paused.wait()

    assert query(database, _SNAPSHOT) == before, "the store is as before the killed run, never between"
    assert list(lock_dir(database).glob("*.lock")), "the killed run left its locks behind"

    after = _run(config, messages)

    assert after.returncode == 0, after.stderr
    assert f"its process {paused.pid} is gone" in after.stderr
    assert [json.loads(line) for line in after.stdout.splitlines()] == [{"bookmarks": {"night": 2}}]
    assert query(database, "SELECT name FROM classes WHERE section_id = 'sec3'") == [("Math 7 Honors",)]
    assert run_row(database, 2)[0] == "failed"
    assert run_row(database, 3)[0] == "applied"
    assert any(
        f"took over the lock of clever:sch1 held by target-bloomz (pid {paused.pid}" in line
        for line in issues(database, 3)
    )
    assert not list(lock_dir(database).glob("*.lock")), "locks are released when the run ends"


def test_a_second_import_of_the_same_school_is_refused_while_one_runs(database, tmp_path, open_limits):
    config = _config(tmp_path, database, open_limits)
    assert _run(config, singer_lines(district())).returncode == 0

    first = _paused_target(config, singer_lines(district()))
    try:
        second = _run(config, singer_lines(district()))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    assert second.returncode != 0
    assert f"sync in progress for clever:sch1: held by target-bloomz (pid {first.pid} on " in second.stderr
    assert " since 20" in second.stderr
    assert second.stdout == "", "a refused run emits no STATE"


def test_admin_commands_during_a_sync_say_which_import_holds_the_store(database, tmp_path, open_limits, cli):
    config = _config(tmp_path, database, open_limits)
    assert _run(config, singer_lines(district())).returncode == 0

    running = _paused_target(config, singer_lines(district()))
    try:
        results = [cli("status"), cli("rename-class", "sec3", "Math 7 - Room 12"), cli("undo", "1")]
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()

    for result in results:
        assert result.exit_code != 0
        assert (
            f"sync in progress for clever:sch1: held by target-bloomz (pid {running.pid} on " in result.output
        )
        assert "Could not set lock" not in result.output
    assert cli("rename-class", "sec3", "Math 7 - Room 12").exit_code == 0, "free again once the sync ended"
