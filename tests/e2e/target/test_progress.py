"""Long work shows progress: the import's phases, the records received and their rate; a redrawn bar on a
terminal, a line when a phase starts and every 10 s while records arrive in a log."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

from target_bloomz.progress import Progress

from tests.support.batches import batch_lines, batch_root
from tests.support.district import district, run_target, singer_lines
from tests.support.mappings import OPEN_LIMITS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_per_phase_and_the_records_as_they_arrive() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, terminal=False, clock=clock)
    spooled = [0]
    progress.spooled = lambda: spooled[0]
    clock.now, spooled[0] = 10.0, 40_000
    progress.show()  # what the ticking thread does every 10 s
    progress.add_batch(3 * 2**20)  # and a BATCH file of 3 MiB
    with progress.phase("stage"):
        clock.now = 30.0
        progress.staged_records(130_000)
    with progress.phase("map"):
        pass

    assert out.getvalue().splitlines() == [
        "progress: receive (1/5): 40,000 records (4,000/s) in 10.0 s",
        "progress: stage (2/5): 40,000 records and 1 BATCH files of 3.0 MiB in 10.0 s",
        "progress: map (3/5): 130,000 records in 30.0 s",  # counted exactly once staged
    ]


def test_a_terminal_gets_one_bar_redrawn_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, terminal=True, clock=clock)
    progress.spooled = lambda: 5_000
    clock.now = 1.0
    progress.show()
    with progress.phase("plan"):
        pass

    text = out.getvalue()
    assert "\n" not in text  # redrawn in place, never scrolling
    assert "\r\x1b[K[>...................] receive (1/5): 5,000 records (5,000/s) in 1.0 s" in text
    assert "\r\x1b[K[############>.......] plan (4/5): 5,000 records in 1.0 s" in text
    assert text.endswith("\r\x1b[K")  # the bar is cleared when the phase ends, for the log line after it


def test_while_watching_a_line_goes_out_every_interval_until_stopped() -> None:
    out = io.StringIO()
    progress = Progress(out, terminal=False, interval=0.05)
    counts = iter(range(1_000, 1_000_000, 1_000))
    progress.watch(lambda: next(counts))
    time.sleep(0.5)
    progress.stop()
    lines = out.getvalue().splitlines()
    stopped = len(lines)
    time.sleep(0.2)

    assert len(lines) >= 4, lines
    assert all(line.startswith("progress: receive (1/5): ") for line in lines)
    assert lines[1].startswith("progress: receive (1/5): 2,000 records")  # the reader's count, read anew
    assert len(out.getvalue().splitlines()) == stopped


def test_an_import_reports_its_phases_in_order(
    database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]
) -> None:
    config = {"database": str(database), "mapping": str(mapping_file(OPEN_LIMITS))}
    result = run_target(config, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    phases = re.findall(r"^progress: (\w+) \(\d/5\)", result.stderr, re.MULTILINE)
    assert list(dict.fromkeys(phases)) == ["receive", "stage", "map", "plan", "apply"]  # a slow one repeats
    records = sum(len(rows) for rows in district().values())
    assert f"progress: stage (2/5): {records} records in" in result.stderr
    assert f"progress: map (3/5): {records} records in" in result.stderr


def test_batch_files_are_counted_as_they_come_and_their_records_once_staged(
    database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]
) -> None:
    config = {"database": str(database), "mapping": str(mapping_file(OPEN_LIMITS)), **batch_root(tmp_path)}
    result = run_target(config, batch_lines(district(), tmp_path / "batches"), tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    files = 2 * len(district())  # batch_lines sends each stream in two files
    assert re.search(rf"^progress: stage \(2/5\): {files} BATCH files of [\d.]+ MiB in ", result.stderr, re.M)
    records = sum(len(rows) for rows in district().values())
    assert f"progress: map (3/5): {records} records in" in result.stderr
