"""A smoke run of every bench script on the tiny district: it must exit 0 and print its table.

Nothing here checks a speed (figures belong in bench/README.md); this only keeps the scripts working.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def table_rows(output: str, title: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under ``### <title>...``, keyed by their first cell."""
    section = output.split(f"### {title}", 1)
    assert len(section) == 2, f"no table titled {title!r} in:\n{output}"
    rows = {}
    for line in section[1].splitlines()[3:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[
            cells[0] + (" / " + cells[1] if cells[0] in {"first sync (full)", "no-change night"} else "")
        ] = cells
    return rows


def number(cell: str) -> float:
    return float(re.sub(r"[^\d.]", "", cell) or "nan")


def test_clever_sync_bench_runs_first_sync_night_and_meltano() -> None:
    output = run_script("clever_sync_bench.py", "--size", "tiny", "--quick")
    rows = table_rows(output, "tap-clever | target-bloomz, tiny district")
    first_tap = rows["first sync (full) / tap-clever"]
    assert number(first_tap[3]) > 500  # the tiny district is ~620 records
    assert first_tap[6] == "0"
    assert number(rows["first sync (full) / target-bloomz"][5]) > 0  # a peak RSS was read
    assert number(rows["no-change night / tap-clever"][3]) == 0  # nothing changed: no records
    assert rows["first sync, meltano run"][6] == "0"


def test_target_compare_counts_what_each_target_kept() -> None:
    output = run_script("target_compare.py", "--size", "tiny", "--quick")
    speed = table_rows(output, "one stream file")
    assert {"decode only (msgspec)", "decode only (json)", "target-bloomz (stage, map, plan, apply)"} <= set(
        speed
    )
    kept = table_rows(output, "rows kept per stream")
    for stream in ("students", "enrollments", "contacts"):
        sent, keys, bloomz = kept[stream][1:4]
        assert number(sent) > 0
        assert number(bloomz) == number(keys)  # target-bloomz keeps every distinct record


def test_tap_clever_speed_compares_with_the_plain_loop() -> None:
    output = run_script("tap_clever_speed.py", "--size", "tiny", "--quick")
    rows = table_rows(output, "tap-clever vs a plain fetch loop")
    tap = next(cells for name, cells in rows.items() if name.startswith("tap-clever"))
    plain = next(cells for name, cells in rows.items() if name.startswith("plain loop"))
    assert number(tap[2]) > 500
    assert number(plain[2]) > 300  # Clever objects: users, sections ... (fewer than records)


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("tap_oneroster_speed.py", ("--size", "tiny"), "CSV 1.1 zip:"),
        ("sandbox_speed.py", ("--size", "tiny"), "oneroster 1.2 enrollments, limit 1000:"),
        ("target_bloomz_bench.py", ("--students", "200"), "peak memory of target-bloomz"),
    ],
)
def test_other_bench_scripts_run_on_a_tiny_input(script: str, args: tuple[str, ...], expect: str) -> None:
    output = run_script(script, *args)
    assert expect in output
    assert "FAILED" not in output
