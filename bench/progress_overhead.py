"""What target-bloomz's progress reporting costs where it runs per record: the reader's fast path.

    .venv/bin/python bench/progress_overhead.py --records 1000000

Reads the same RECORD messages with the real RosterReader into spools, with and without a Progress
watching it as target-bloomz does (its thread redrawing a terminal's bar every 0.5 s, the most often it
reports), alternating, several rounds, best and median of each. BATCH files cost one addition per file,
nothing per record. Prints a table; asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from _measure import machine, table
from target_bloomz.input.reader import RosterReader
from target_bloomz.progress import Progress


def messages(count: int) -> bytes:
    """``count`` RECORD messages of the students stream, one a line, as a tap sends them."""
    encode = msgspec.json.Encoder().encode
    lines = [
        encode(
            {
                "type": "RECORD",
                "stream": "students",
                "record": {"id": f"stu{n}", "school_ids": ["sch1"], "first_name": "A", "last_name": f"L{n}"},
                "version": 1,
            }
        )
        for n in range(count)
    ]
    return b"\n".join(lines) + b"\n"


def read(data: bytes, spool: Path, progress: Progress | None) -> float:
    reader = RosterReader()
    with spool.open("wb") as handle:
        reader.spool_records(lambda stream: handle)
        if progress is not None:
            progress.watch(reader.spooled_so_far)
        started = time.process_time()  # CPU time: on a shared machine, wall time measures the neighbours
        reader.process_lines(io.BytesIO(data), {})
        elapsed = time.process_time() - started
        if progress is not None:
            progress.stop()
        return elapsed


def rounds(runs: int, measure: Callable[[bool], float]) -> tuple[list[float], list[float]]:
    """Alternate without/with, so load on the machine falls on both alike."""
    without, with_ = [], []
    for _ in range(runs):
        without.append(measure(False))
        with_.append(measure(True))
    return without, with_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = messages(args.records)
    with tempfile.TemporaryDirectory(prefix="progress-bench-") as folder:
        sink = io.StringIO()

        def reading(with_progress: bool) -> float:
            progress = Progress(sink, terminal=True) if with_progress else None
            return read(data, Path(folder) / "spool.ndjson", progress)

        without, with_ = rounds(args.rounds, reading)
    print(machine())
    table(
        "Progress reporting overhead",
        ["what", "without (best / median CPU s)", "with (best / median CPU s)", "cost (median)"],
        [_row(f"reader, {args.records:,} RECORD messages", without, with_)],
    )


def _row(what: str, without: list[float], with_: list[float]) -> list[str]:
    cost = statistics.median(with_) / statistics.median(without) - 1
    return [
        what,
        f"{min(without):.3f} / {statistics.median(without):.3f}",
        f"{min(with_):.3f} / {statistics.median(with_):.3f}",
        f"{cost:+.1%}",
    ]


if __name__ == "__main__":
    main()
