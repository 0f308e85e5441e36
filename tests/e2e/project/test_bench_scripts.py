"""A smoke run of every bench script on the tiny district: it must exit 0 and print its table.

Nothing here checks a speed (figures belong in bench/README.md); this only keeps the scripts working.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project import REPO_ROOT

BENCH = REPO_ROOT / "bench"


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


def table(output: str, title: str) -> list[list[str]]:
    """The rows (lists of cells) of the Markdown table under ``### <title>...``."""
    section = output.split(f"### {title}", 1)
    assert len(section) == 2, f"no table titled {title!r} in:\n{output}"
    rows = []
    lines = section[1].splitlines()[1:]
    while lines and not lines[0].startswith("|"):
        lines.pop(0)
    for line in lines[2:]:  # past the header and its separator
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def table_rows(output: str, title: str) -> dict[str, list[str]]:
    """The same rows keyed by their first cell (and the process, for the rows of a run with two)."""
    return {
        cells[0] + (" / " + cells[1] if cells[0] in {"first sync (full)", "no-change night"} else ""): cells
        for cells in table(output, title)
    }


def number(cell: str) -> float:
    return float(re.sub(r"[^\d.-]", "", cell) or "nan")  # a step can be a few ms below 0 (target_profile)


def test_clever_sync_bench_runs_first_sync_night_and_meltano(tmp_path: Path) -> None:
    output = run_script("clever_sync_bench.py", "--size", "tiny", "--quick", "--keep", str(tmp_path))
    rows = table_rows(output, "tap-clever | target-bloomz, tiny district")
    first_tap = rows["first sync (full) / tap-clever"]
    assert number(first_tap[3]) > 500  # the tiny district is ~620 records
    assert first_tap[6] == "0"
    assert number(rows["first sync (full) / target-bloomz"][5]) > 0  # a peak RSS was read
    assert number(rows["no-change night / tap-clever"][3]) == 0  # nothing changed: no records
    assert rows["first sync, meltano run"][6] == "0"
    # The taps write BATCH files the target deletes: what --keep keeps is the records themselves.
    kept = (tmp_path / "clever-tiny.singer").read_text().splitlines()
    messages = [json.loads(line) for line in kept]
    types = [message["type"] for message in messages]
    # the roster records the table counts; the contract stream pull frames them (started, finished)
    roster = [m for m in messages if m["type"] == "RECORD" and m["stream"] != "pull"]
    assert len(roster) == number(first_tap[3])
    assert types.count("RECORD") == len(roster) + 2
    assert "BATCH" not in types


def test_target_compare_alternates_the_contenders_and_counts_what_each_kept() -> None:
    output = run_script("target_compare.py", "--size", "tiny", "--runs", "2", "--peers", "")
    floor, duck, bloomz = "floor: msgspec decoding", "floor: DuckDB keyed tables", "target-bloomz"
    order = [(cells[0], cells[1]) for cells in table(output, "runs, in the order they ran")]
    assert order == [("1", floor), ("1", duck), ("1", bloomz), ("2", duck), ("2", bloomz), ("2", floor)]
    medians = table_rows(output, "one stream file")
    assert {floor, duck, bloomz} == set(medians)
    assert all(cells[1] == "2 of 2" and number(cells[2]) > 0 for cells in medians.values())
    ratios = table_rows(output, "ratio of median wall times")
    assert len(ratios) == 3
    assert all(len(cells) == 4 for cells in ratios.values())
    for column, other in enumerate((floor, duck, bloomz), 1):
        expected = number(medians[bloomz][2]) / number(medians[other][2])
        assert number(ratios[bloomz][column]) == pytest.approx(expected, rel=0.05)
    kept = table_rows(output, "rows kept per stream")
    for stream in ("students", "enrollments", "contacts"):
        sent, keys, floor_rows, bloomz_rows = kept[stream][1:5]
        assert number(sent) > 0
        assert number(floor_rows) == number(bloomz_rows) == number(keys)  # every distinct record kept


def test_tap_clever_speed_rotates_tap_and_plain_loop() -> None:
    output = run_script("tap_clever_speed.py", "--size", "tiny", "--rounds", "2")
    runs = table(output, "tap-clever vs a plain fetch loop")
    records, batches, plain = "tap-clever, RECORD messages", "tap-clever, BATCH files", "plain loop"
    order = [cells[1].split(" (")[0] for cells in runs]
    assert order == [records, batches, plain, batches, plain, records]
    for cells in runs:
        assert number(cells[3]) > (500 if cells[1].startswith("tap") else 300)  # records, or Clever objects
    medians = table_rows(output, "medians")
    assert medians[plain + " (requests + msgspec)"][5] == "1.00"
    assert all(cells[1] == "2" for cells in medians.values())


def test_many_schools_night_runs_one_job_per_school_for_each_night() -> None:
    output = run_script("many_schools_night.py", "--size", "tiny")
    passes = table(output, "one job per school, one after the other (pipes)")
    assert [cells[0] for cells in passes] == ["first sync", "no-change night", "night, 1% changed"]
    for cells in passes:
        assert cells[1] == "2"  # the tiny district's two schools, one job each
        assert number(cells[2]) >= number(cells[3]) > 0  # the pass's total, a job's median
        assert number(cells[8]) > 0
        assert number(cells[9]) > 0
        assert cells[10] == "applied 2"
    assert re.search(r"fixed cost per job \(median no-change job\): [\d.]+ s", output)


def test_target_profile_times_start_up_steps_and_sql() -> None:
    output = run_script("target_profile.py", "--size", "tiny", "--runs", "1")
    imports = table_rows(output, "import target_bloomz.target")
    assert {"duckdb", "singer_sdk", "target_bloomz"} <= set(imports)
    for title in ("tiny: first sync, new store", "tiny: no-change night", "empty input, new store"):
        found = table_rows(output, f"{title}: median of 1 runs")
        assert number(found["WALL (process start to exit)"][1]) > 0
        parts = [number(c[1]) for name, c in found.items() if not name.startswith(("WALL", "  of"))]
        assert abs(sum(parts) - number(found["WALL (process start to exit)"][1])) <= 0.02 * sum(parts) + 5
        lines = table(output, f"{title}: the ")
        assert lines
        assert all(re.fullmatch(r"\w+\.py:\d+", cells[0]) for cells in lines)


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
