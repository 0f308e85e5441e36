"""Long work shows progress: the import's phases, the records received and their rate; a redrawn bar on a
terminal, a line when a phase starts and every 10 s while records arrive in a log."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from target_bloomz.progress import Progress

from tests.resync.resync_helpers import NO_LIMITS
from tests.support.district import district, run_target, singer_lines
from tests.target_bloomz.test_batch_input import batch_lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_interval_while_records_arrive_and_one_per_phase() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, terminal=False, interval=10.0, clock=clock)
    for second in range(1, 26):  # 4,000 records a second for 25 s, reported every second
        clock.now = float(second)
        progress.spooled_so_far(4_000 * second)
    progress.add_batch(3 * 2**20)  # and a BATCH file of 3 MiB
    with progress.phase("stage"):
        clock.now = 30.0
        progress.staged_records(130_000)
    with progress.phase("map"):
        pass

    assert out.getvalue().splitlines() == [
        "progress: receive (1/5): 40,000 records (4,000/s) in 10.0 s",
        "progress: receive (1/5): 80,000 records (4,000/s) in 20.0 s",
        "progress: stage (2/5): 100,000 records and 1 BATCH files of 3.0 MiB in 25.0 s",
        "progress: map (3/5): 130,000 records in 30.0 s",  # counted exactly once staged
    ]


def test_a_terminal_gets_one_bar_redrawn_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, terminal=True, clock=clock)
    clock.now = 1.0
    progress.spooled_so_far(5_000)
    with progress.phase("plan"):
        pass

    text = out.getvalue()
    assert "\n" not in text  # redrawn in place, never scrolling
    assert "\r\x1b[K[>...................] receive (1/5): 5,000 records (5,000/s) in 1.0 s" in text
    assert "\r\x1b[K[############>.......] plan (4/5): 5,000 records in 1.0 s" in text
    assert text.endswith("\r\x1b[K")  # the bar is cleared when the phase ends, for the log line after it


def test_an_import_reports_its_phases_in_order(
    database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]
) -> None:
    config = {"database": str(database), "mapping": str(mapping_file(NO_LIMITS))}
    result = run_target(config, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    phases = re.findall(r"^progress: (\w+) \((\d)/5\)", result.stderr, re.MULTILINE)
    assert [name for name, _ in phases] == ["receive", "stage", "map", "plan", "apply"]
    records = sum(len(rows) for rows in district().values())
    assert f"progress: stage (2/5): {records} records in" in result.stderr
    assert f"progress: map (3/5): {records} records in" in result.stderr


def test_batch_files_are_counted_as_they_come_and_their_records_once_staged(
    database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]
) -> None:
    config = {"database": str(database), "mapping": str(mapping_file(NO_LIMITS))}
    result = run_target(config, batch_lines(district(), tmp_path / "files"), tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    files = 2 * len(district())  # batch_lines sends each stream in two files
    assert re.search(rf"^progress: stage \(2/5\): {files} BATCH files of [\d.]+ MiB in ", result.stderr, re.M)
    records = sum(len(rows) for rows in district().values())
    assert f"progress: map (3/5): {records} records in" in result.stderr
