"""Work that outlives a request: imports (``meltano run`` in the background) and source snapshots.

An import is exactly the shell's ``meltano run <school extractor> <school loader>``, with the run's options
as the loader's environment variables (``TARGET_BLOOMZ_<LOADER>_FULL_DATA=true``; Meltano gives a plugin's
own variables precedence over its meltano.yml config). Its log goes to an owner-only file; the page reads
the progress from it (the tap's streams and records, the target's phases) while "Sync in progress" shows.
One task per key at a time: a second import of a school is refused while the first runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = {"stage": "Staging", "map": "Mapping", "plan": "Planning", "apply": "Applying"}
_STREAM = re.compile(r"Beginning sync of '(?P<stream>\w+)'")
_RECORDS = re.compile(r'METRIC: (?P<metric>\{"type":"counter","metric":"record_count".*\})')
_PHASE = re.compile(r"target-bloomz\s+phase (?P<phase>\w+):")
_RUN = re.compile(r"Run (?P<run>\d+)")


class Busy(RuntimeError):
    """A task with the same key is running."""


@dataclass
class Task:
    key: str
    kind: str  # import | preview | snapshot
    title: str
    log: Path
    started: float = field(default_factory=time.time)
    finished: float | None = None
    returncode: int | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    command: str = ""  # the shell command it runs, for the admin to read

    @property
    def running(self) -> bool:
        return self.finished is None

    def progress(self) -> dict[str, Any]:
        """Phase and records so far, from the log (the tap's METRIC lines, the target's phase lines)."""
        records: dict[str, int] = {}
        phase, run = "Starting", None
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            if match := _STREAM.search(line):
                phase = f"Reading {match['stream']} from the source"
            elif match := _RECORDS.search(line):
                metric = json.loads(match["metric"])
                stream = metric["tags"].get("stream", "?")
                records[stream] = records.get(stream, 0) + int(metric["value"])
            elif match := _PHASE.search(line):
                done = list(PHASES).index(match["phase"]) if match["phase"] in PHASES else -1
                phase = f"{PHASES[match['phase']]} done" + (
                    f"; {list(PHASES.values())[done + 1]}" if 0 <= done < len(PHASES) - 1 else ""
                )
            if "target-bloomz" in line and (match := _RUN.search(line)):
                run = int(match["run"])
        if not self.running:
            phase = "Finished" if self.returncode == 0 else "Stopped"
        return {
            "running": self.running,
            "phase": phase,
            "records": sum(records.values()),
            "streams": records,
            "run": run,
            "seconds": int((self.finished or time.time()) - self.started),
            "returncode": self.returncode,
        }

    def last_lines(self, count: int = 12) -> list[str]:
        """The end of the log without Meltano's timestamps: why a run stopped."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        useful = [re.sub(r"^\S+Z \[\w+\s*\] ", "", line) for line in lines if "METRIC" not in line]
        return useful[-count:]


class Tasks:
    """The console's running and finished tasks, by key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Task | None:
        return self._tasks.get(key)

    def _new(self, key: str, kind: str, title: str) -> Task:
        with self._lock:
            current = self._tasks.get(key)
            if current is not None and current.running:
                raise Busy(f"{current.title} is already running (started {_ago(current.started)}).")
            self.folder.mkdir(mode=0o700, exist_ok=True)
            log = self.folder / f"{re.sub(r'[^A-Za-z0-9]+', '_', key)}.log"
            log.unlink(missing_ok=True)
            log.touch(mode=0o600)
            task = self._tasks[key] = Task(key=key, kind=kind, title=title, log=log)
            return task

    def run_process(
        self,
        key: str,
        kind: str,
        title: str,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        command: str,
        on_done: Callable[[Task], None] | None = None,
    ) -> Task:
        """Start ``args`` in the background; its output goes to the task's log."""
        task = self._new(key, kind, title)
        task.command = command
        log = task.log.open("ab")
        process = subprocess.Popen(args, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=log)

        def wait() -> None:
            task.returncode = process.wait()
            log.close()
            task.finished = time.time()
            if on_done is not None:
                on_done(task)

        threading.Thread(target=wait, name=f"task {key}", daemon=True).start()
        return task

    def run_thread(self, key: str, kind: str, title: str, work: Callable[[Task], None]) -> Task:
        """Run ``work(task)`` in a thread; an exception becomes the task's error."""
        task = self._new(key, kind, title)

        def run() -> None:
            try:
                work(task)
                task.returncode = 0
            except Exception as err:
                task.error, task.returncode = str(err) or type(err).__name__, 1
            task.finished = time.time()

        threading.Thread(target=run, name=f"task {key}", daemon=True).start()
        return task


def _ago(started: float) -> str:
    seconds = int(time.time() - started)
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
