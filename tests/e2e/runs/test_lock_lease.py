"""Locks are leases the running import renews: a live import keeps its schools however long it works, a hung
one (SIGSTOP) is taken over once its lease expired, and two imports started at the same instant never both
proceed nor both give up. Every case through the real target-bloomz executable.

The lease is shortened for these tests with BLOOMZ_LOCK_LEASE_SECONDS; apply's test hook
TARGET_BLOOMZ_TEST_PAUSE_IN_APPLY keeps an import inside its transaction for as long as a test needs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from target_bloomz.apply.transaction import PAUSE_ENV
from target_bloomz.store import locks
from target_bloomz.store.locks import lock_dir

from tests.support.district import district, query, singer_lines
from tests.support.processes import config_file, finish, paused, run, start
from tests.support.store_queries import issues, run_row

LEASE_ENV = "BLOOMZ_LOCK_LEASE_SECONDS"  # docs/resync.md


class _Watched:
    """A started target whose stderr a thread collects, noting when it pauses in apply."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self.paused = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr
        for line in self.process.stderr:
            self.lines.append(line)
            if "apply: paused before COMMIT" in line:
                self.paused.set()


def _first_to_end(watched: list[_Watched]) -> _Watched:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for one in watched:
            if one.process.poll() is not None:
                one.reader.join()
                return one
        time.sleep(0.05)
    for one in watched:
        one.process.kill()
    raise AssertionError("both imports proceeded: neither was refused")


def _night() -> str:
    night = district()
    night["sections"][2]["name"] = "Math 7 Honors"
    return singer_lines(night, state={"bookmarks": {"night": 2}})


def test_a_running_import_renews_its_lease_so_a_second_one_is_refused_however_long_it_works(
    database, tmp_path, open_limits
):
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0
    first = paused(config, _night(), **{LEASE_ENV: "2"})
    try:
        time.sleep(5)  # two and a half leases: only renewal keeps the lock

        second = run(config, _night(), **{LEASE_ENV: "2"})
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    assert second.returncode == 1, second.stderr
    assert f"sync in progress for clever:sch1: held by target-bloomz (pid {first.pid} on " in second.stderr
    assert "took over" not in second.stderr
    assert "Traceback" not in second.stderr


def test_a_hung_import_is_taken_over_once_its_lease_expired(database, tmp_path, open_limits):
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0
    hung = paused(config, _night(), **{LEASE_ENV: "2"})
    hung.send_signal(signal.SIGSTOP)  # it makes no progress and renews nothing, and keeps the store open
    try:
        time.sleep(2.5)

        started = time.monotonic()
        after = run(config, _night(), **{LEASE_ENV: "2"})
        took = time.monotonic() - started
    finally:
        hung.send_signal(signal.SIGKILL)
        hung.wait()

    assert after.returncode == 0, after.stderr[-3000:]
    assert hung.returncode == -signal.SIGKILL, "the hung import was ended"
    message = f"took over the lock of clever:sch1 held by target-bloomz (pid {hung.pid} on "
    assert message in after.stderr
    assert "its lease expired at" in after.stderr
    assert f"(its process {hung.pid} on this host was hung: ended it)" in after.stderr
    assert took < 60, f"taken over promptly, not after hours ({took:.0f} s)"
    assert query(database, "SELECT name FROM classes WHERE section_id = 'sec3'") == [("Math 7 Honors",)]
    assert [run_row(database, n)[0] for n in (1, 2, 3)] == ["applied", "failed", "applied"]
    assert any(message in line for line in issues(database, 3))
    assert [json.loads(line) for line in after.stdout.splitlines()] == [{"bookmarks": {"night": 2}}]
    assert not list(lock_dir(database).glob("*.lock")), "locks are released when the run ends"


def test_an_import_whose_lock_was_taken_over_while_it_hung_applies_nothing(database, tmp_path, open_limits):
    """Another host took the lock over while this import was stopped: when it resumes it must not commit."""
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0
    before = query(database, "SELECT name FROM classes ORDER BY id")
    resumed = paused(config, _night(), **{LEASE_ENV: "1"})
    resumed.send_signal(signal.SIGSTOP)
    path = next(lock_dir(database).glob("*.lock"))
    lock = json.loads(path.read_text())
    path.write_text(json.dumps({**lock, "holder": "target-bloomz (pid 7 on sis-worker-2)", "token": "other"}))
    resumed.send_signal(signal.SIGCONT)
    time.sleep(1)  # a third of a lease: it tries to renew, and finds the lock is not its own any more
    resumed.send_signal(signal.SIGUSR1)  # done pausing: on to COMMIT
    stderr = finish(resumed)

    assert resumed.returncode == 1, stderr[-3000:]
    assert "the lock of clever:sch1 was taken over by another import" in stderr
    assert "nothing of this import was applied" in stderr
    assert "Traceback" not in stderr
    assert query(database, "SELECT name FROM classes ORDER BY id") == before
    assert run_row(database, 2)[0] == "failed"
    assert path.exists(), "the other host's lock is left alone"


def test_two_imports_of_one_school_started_at_the_same_instant_one_proceeds(database, tmp_path, open_limits):
    config = config_file(tmp_path, database, open_limits)
    assert run(config, singer_lines(district())).returncode == 0
    for trial in range(4):
        messages = singer_lines(district(), state={"bookmarks": {"trial": trial}})
        # the one that proceeds waits in apply until the other has ended
        pair = [_Watched(start(config, messages, **{PAUSE_ENV: "600"})) for _ in range(2)]
        loser = _first_to_end(pair)
        winner = pair[1 - pair.index(loser)]
        if not winner.paused.wait(180):
            pytest.fail(
                f"trial {trial}: neither proceeded:\n" + "".join(loser.lines[-20:] + winner.lines[-20:])
            )
        winner.process.send_signal(signal.SIGUSR1)
        winner.process.wait(timeout=180)
        winner.reader.join()

        assert (winner.process.returncode, loser.process.returncode) == (0, 1), "".join(winner.lines[-30:])
        refused = "".join(loser.lines)
        assert (
            f"sync in progress for clever:sch1: held by target-bloomz (pid {winner.process.pid} on "
            in refused
        )
        assert f"pid {loser.process.pid} " not in refused, (
            "the refused import names the other one, not itself"
        )
    statuses = query(database, "SELECT status FROM runs WHERE id > 1 ORDER BY id")
    assert sorted(statuses) == [("applied",)] * 4 + [("refused",)] * 4, statuses


def _take_at_once(database: Path, barrier: Any, results: Any) -> None:
    """One of many processes: take the school's lock the moment all are ready; say whether it got it."""
    barrier.wait()
    try:
        with locks.hold(database, ["clever:sch1"], f"process {os.getpid()}"):
            results.put(("in", os.getpid()))
            time.sleep(0.5)  # hold it while the others try
    except locks.SyncInProgress as err:
        results.put(("refused", str(err)))


def test_many_processes_taking_one_lock_at_the_same_instant_exactly_one_gets_it(tmp_path):
    """The lock files' guard at the very moment of taking: the target tests above start two imports at once,
    but their locks are taken after each read its input, rarely at the same microsecond; here eight
    processes are released together right before taking the lock."""
    database = tmp_path / "bloomz.duckdb"
    context = multiprocessing.get_context("fork")
    for trial in range(20):  # without the guard, two or more got it in about 3 trials of 10
        barrier, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=_take_at_once, args=(database, barrier, results)) for _ in range(8)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)

        winners = [pid for what, pid in outcomes if what == "in"]
        assert len(winners) == 1, f"trial {trial}: {outcomes}"
        refusals = [message for what, message in outcomes if what == "refused"]
        assert all(f"held by process {winners[0]} since" in message for message in refusals), refusals
        assert not list(lock_dir(database).glob("*.lock")), "the winner released its lock"
