"""One import per school at a time, stale locks taken over, and a sync killed in the middle of apply.

The kill uses apply's test hook TARGET_BLOOMZ_TEST_PAUSE_IN_APPLY: the real target-bloomz process waits
inside its apply transaction, after every write, until the test SIGKILLs it.
"""

from __future__ import annotations

import json
import signal

from target_bloomz.store.locks import lock_dir

from tests.support.district import district, query, singer_lines
from tests.support.processes import config_file, paused, run
from tests.support.store_queries import issues, run_row

_SNAPSHOT = """SELECT (SELECT count(*) FROM classes), (SELECT list(name ORDER BY id) FROM classes),
    (SELECT count(*) FROM class_members), (SELECT count(*) FROM people), (SELECT count(*) FROM journal)"""


def test_a_killed_sync_leaves_the_store_before_and_the_next_run_takes_over_and_completes(
    database, tmp_path, open_limits
):
    config = config_file(tmp_path, database, open_limits, full_data=True)
    assert run(config, singer_lines(district())).returncode == 0
    before = query(database, _SNAPSHOT)
    night = district()
    night["sections"][2]["name"] = "Math 7 Honors"
    night["enrollments"] = [e for e in night["enrollments"] if e["user_id"] != "stu1"]
    messages = singer_lines(night, state={"bookmarks": {"night": 2}})

    killed = paused(config, messages)
    killed.send_signal(signal.SIGKILL)
    killed.wait()

    assert query(database, _SNAPSHOT) == before, "the store is as before the killed run, never between"
    assert list(lock_dir(database).glob("*.lock")), "the killed run left its locks behind"

    after = run(config, messages)

    assert after.returncode == 0, after.stderr
    assert f"its process {killed.pid} is gone" in after.stderr
    assert [json.loads(line) for line in after.stdout.splitlines()] == [{"bookmarks": {"night": 2}}]
    assert query(database, "SELECT name FROM classes WHERE section_id = 'sec3'") == [("Math 7 Honors",)]
    assert run_row(database, 2)[0] == "failed"
    assert run_row(database, 3)[0] == "applied"
    assert any(
        f"took over the lock of clever:sch1 held by target-bloomz (pid {killed.pid}" in line
        for line in issues(database, 3)
    )
    assert not list(lock_dir(database).glob("*.lock")), "locks are released when the run ends"


def test_a_second_import_of_the_same_school_is_refused_while_one_runs(database, tmp_path, open_limits):
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0

    first = paused(config, singer_lines(district()))
    try:
        second = run(config, singer_lines(district()))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    assert second.returncode != 0
    assert f"sync in progress for clever:sch1: held by target-bloomz (pid {first.pid} on " in second.stderr
    assert " since 20" in second.stderr
    assert second.stdout == "", "a refused run emits no STATE"


def test_admin_commands_during_a_sync_say_which_import_holds_the_store(database, tmp_path, open_limits, cli):
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0

    running = paused(config, singer_lines(district()))
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
