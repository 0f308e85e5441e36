"""Where a target-bloomz run spends its time: start-up (imports, settings, mapping), each step, each SQL line.

    .venv/bin/python bench/target_profile.py --size tiny                 # tiny first sync and no-change night
    .venv/bin/python bench/target_profile.py --stream FILE.singer --runs 1   # a stream into a new store

Start-up: ``python -X importtime -c "import target_bloomz.target"`` (``--runs`` times; median per package,
summing each module's own import time under its top-level package), and an empty run: target-bloomz
given a pull that started and finished with no records (it stages nothing, then opens, plans and applies
against an empty store).

Runs: target-bloomz in a child process (bench/_target_timer.py) with a stopwatch on its steps (as target.py
calls them) and on each line of its code that executes SQL; the target's modules are wrapped from outside.
With ``--size`` the script generates the district, records tap-clever's full sync (RECORD messages), imports
it once into a store, records the next night's stream (incremental, nothing changed), and times: the first
sync into a new store, and the no-change night on a copy of that store, ``--runs`` times each, alternated;
medians. With ``--stream``: that file into a new store.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _measure import BIN, HERE, generate, machine, median, pipeline, pull_message, record_from, table
from roster_sandbox.testing import run_sandbox

from roster_streams import contract

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


# A pull with no records, framed as a tap frames every pull (roster_streams/pull.py).
EMPTY_INPUT = (
    json.dumps({"type": "SCHEMA", "stream": contract.PULL, "schema": contract.load_schema(contract.PULL)})
    + "\n"
    + pull_message("started", source="clever", tenant="profile", mode="full", tap="target_profile")
    + pull_message("finished", streams={}, unreadable=[], failed={}, not_provided=[])
)


def import_times(runs: int) -> None:
    """Median import time per top-level package of ``import target_bloomz.target`` (own times summed)."""
    per_package: dict[str, list[float]] = defaultdict(list)
    totals = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import target_bloomz.target"],
            capture_output=True,
            text=True,
            check=True,
        )
        sums: dict[str, float] = defaultdict(float)
        for line in done.stderr.splitlines():
            found = IMPORT_LINE.match(line)
            if found:
                sums[found.group(4).split(".")[0]] += int(found.group(1)) / 1000
        for package, ms in sums.items():
            per_package[package].append(ms)
        totals.append(sum(sums.values()))
    ranked = sorted(per_package.items(), key=lambda item: -median(item[1] + [0.0] * (runs - len(item[1]))))
    table(
        f"import target_bloomz.target: {median(totals):.0f} ms (median of {runs}), by top-level package",
        ("package", "median ms (own import time of its modules)"),
        [[name, f"{median(ms + [0.0] * (runs - len(ms))):.0f}"] for name, ms in ranked[:18]],
    )


def timed_run(work: Path, stream: Path, store: Path | None, label: str) -> dict[str, Any]:
    """One target run under the stopwatch; returns the child's figures plus its wall time and peak RSS."""
    folder = work / f"timed-{time.monotonic_ns()}"
    folder.mkdir()
    database = folder / "bloomz.duckdb"
    if store is not None:
        shutil.copy(store, database)
    config = folder / "target.json"
    config.write_text(json.dumps({"database": str(database), "outbox_dir": str(folder / "outbox")}))
    timings = folder / "timings.json"
    env = dict(os.environ, BENCH_SPAWNED=repr(time.time()), BENCH_TIMINGS=str(timings))
    run = pipeline(
        [(label, [sys.executable, str(HERE / "_target_timer.py"), "--config", str(config)])],
        stdin=stream,
        env=env,
    )
    if not run.ok:
        raise SystemExit(f"{label} failed:\n{run.failure()}")
    found: dict[str, Any] = json.loads(timings.read_text())
    found["wall"], found["peak_mb"], found["cpu"] = (
        run.procs[0].seconds,
        run.procs[0].peak_mb,
        run.procs[0].cpu,
    )
    shutil.rmtree(folder)
    return found


def steps(found: dict[str, Any], cpu: bool = False) -> dict[str, float]:
    """A run's time line in seconds, from the parent's spawn to the child's exit; the steps add up to it.

    ``cpu``: the same steps in CPU seconds of the whole process (before the interpreter's first line, and
    after the command returned, from the process's total). The wall exit is the parent's total less the
    child's time line, so it also takes the few ms between the spawn mark and the parent's clock start: with
    target-bloomz's quick exit it can show a few ms below 0."""
    marks = found["marks_cpu"] if cpu else found["marks"]
    spans = found["spans_cpu"] if cpu else found["spans"]
    total = found["cpu"] if cpu else found["wall"]
    imported = spans["import target_bloomz.target (and all it imports)"]
    init = spans["TargetBloomz() (settings, mapping, spools)"]
    inside = {k: v for k, v in spans.items() if not k.startswith(("import", "TargetBloomz()", "  of"))}
    return {
        "python start (interpreter, site)": marks["started"] if cpu else marks["started"] - found["spawned"],
        "import target_bloomz.target (and all it imports)": imported,
        "(this stopwatch: wrapping the steps)": marks["ready"] - marks["started"] - imported,
        "singer-sdk CLI: parse settings file, log version": marks["reading starts"] - marks["ready"] - init,
        "TargetBloomz() (settings, mapping, spools)": init,
        "  of which: load the mapping file": spans["  of which: load the mapping file"],
        "reading input (to end of pipe)": marks["end of input"] - marks["reading starts"],
        **inside,
        "rest of the import (locks, run records, closing)": marks["import done"]
        - marks["end of input"]
        - sum(inside.values()),
        "singer-sdk after the import": marks["returned"] - marks["import done"],
        "exit (interpreter teardown)": total
        - (marks["returned"] if cpu else marks["returned"] - found["spawned"]),
        "WALL (process start to exit)" if not cpu else "CPU (process start to exit)": total,
    }


def report(title: str, runs: list[dict[str, Any]], statements: int) -> None:
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    for found in runs:
        for name, seconds in steps(found).items():
            walls[name].append(seconds)
        for name, seconds in steps(found, cpu=True).items():
            cpus[name if not name.startswith("CPU") else "WALL (process start to exit)"].append(seconds)
    table(
        f"{title}: median of {len(runs)} runs, peak RSS {median([r['peak_mb'] for r in runs]):.0f} MB",
        ("step", "median wall ms", "median CPU ms"),
        [
            [name, f"{median(values) * 1000:,.0f}", f"{median(cpus[name]) * 1000:,.0f}"]
            for name, values in walls.items()
        ],
    )
    per_line: dict[str, list[float]] = defaultdict(list)
    per_line_cpu: dict[str, list[float]] = defaultdict(list)
    text: dict[str, tuple[int, str]] = {}
    for found in runs:
        for where, (seconds, calls, sql, cpu) in found["statements"].items():
            per_line[where].append(seconds)
            per_line_cpu[where].append(cpu)
            text[where] = (calls, sql)
    ranked = sorted(per_line.items(), key=lambda item: -median(item[1]))[:statements]
    table(
        f"{title}: the {len(ranked)} slowest lines that execute SQL (median of the runs)",
        ("where", "calls", "median wall ms", "median CPU ms", "SQL (start)"),
        [
            [
                where,
                text[where][0],
                f"{median(ms) * 1000:,.0f}",
                f"{median(per_line_cpu[where]) * 1000:,.0f}",
                text[where][1].replace("|", "/"),
            ]
            for where, ms in ranked
        ],
    )


def record_first_and_night(size: str, work: Path) -> tuple[Path, Path, Path]:
    """A district's first-sync stream, the store it makes, and the stream of a night with no change."""
    district = work / "district"
    generate(size, district)
    first, night = work / "first.singer", work / "night.singer"
    store = work / "store.duckdb"
    with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
        record_from(sandbox.clever_api_url, sandbox.token, first, incremental=True)
        target = work / "target.json"
        target.write_text(json.dumps({"database": str(store), "outbox_dir": str(work / "outbox")}))
        out = work / "state.out"
        imported = pipeline(
            [("target-bloomz", [str(BIN / "target-bloomz"), "--config", str(target)])],
            stdin=first,
            record_to=out,
        )
        if not imported.ok:
            raise SystemExit(imported.failure())
        state = [line for line in out.read_text().splitlines() if line.startswith("{")][-1]
        (work / "state.json").write_text(state)
        tap = work / "tap.json"
        tap.write_text(
            json.dumps(
                {"api_url": sandbox.clever_api_url, "district_token": sandbox.token, "incremental": True}
            )
        )
        recorded = pipeline(
            [
                (
                    "tap-clever",
                    [str(BIN / "tap-clever"), "--config", str(tap), "--state", str(work / "state.json")],
                )
            ],
            record_to=night,
        )
        if not recorded.ok:
            raise SystemExit(recorded.failure())
    return first, store, night


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="tiny", choices=["tiny", "small", "large", "huge", "many"])
    parser.add_argument("--stream", type=Path, help="time this stream file into a new store instead")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--statements", type=int, default=15, help="how many SQL lines to list")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    import_times(args.runs)
    with tempfile.TemporaryDirectory(prefix="target-profile-") as tmp:
        work = Path(tmp)
        empty = work / "empty.singer"
        empty.write_text(EMPTY_INPUT)
        plan: list[tuple[str, Path, Path | None]]
        if args.stream:
            plan = [("stream into a new store", args.stream, None), ("empty input, new store", empty, None)]
        else:
            first, store, night = record_first_and_night(args.size, work)
            plan = [
                (f"{args.size}: first sync, new store", first, None),
                (f"{args.size}: no-change night", night, store),
                ("empty input, new store", empty, None),
            ]
        results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in plan}
        for _ in range(args.runs):  # alternated: each kind once per round
            for label, stream, base in plan:
                results[label].append(timed_run(work, stream, base, label))
        for label, _, _ in plan:
            report(label, results[label], args.statements)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
