"""A district end to end: `tap-clever | target-bloomz` first sync, the next nights, and `meltano run`.

    .venv/bin/python bench/clever_sync_bench.py                        # large district (≈100,000 students)
    .venv/bin/python bench/clever_sync_bench.py --size huge --no-meltano
    .venv/bin/python bench/clever_sync_bench.py --size tiny --quick     # smoke run (the tests use it)

Runs, in order, against a roster-sandbox serving a generated district (seed 1):
1. first sync: tap-clever (incremental on, so it bookmarks events) piped into target-bloomz; ``--keep DIR``
   keeps a stream file of the district's records for bench/target_compare.py (with ``--messages record``
   the first sync's own stream; with BATCH messages, whose files the target deletes, the tap runs once
   more writing RECORD messages, outside the timings);
2. the next night with 1% of students changed (`roster-sandbox advance --change 1`), from the STATE of 1;
3. a night with no change at all;
4. unless --no-meltano: the first sync again through `meltano run tap-clever target-bloomz` (new store).
Prints one Markdown table: wall time, records/s and peak RSS of each process. ``--messages batch`` (the
default, as meltano.yml configures the taps) has the tap write BATCH files; ``record`` sends RECORD messages.
Records are counted from what the target received (its run's ``record_counts`` in the store).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from _measure import (
    BIN,
    PROC_HEADERS,
    Proc,
    Run,
    machine,
    pipeline,
    proc_rows,
    process_tree,
    record_from,
    table,
    working_district,
)
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.project import pristine_project


def sync(
    work: Path, sandbox: Sandbox, label: str, *, state: dict[str, Any] | None, args: argparse.Namespace
) -> tuple[Run, dict[str, Any] | None]:
    """One `tap-clever | target-bloomz` run; returns it and the STATE the target emitted after its commit."""
    tap_config = work / "tap.json"
    tap_config.write_text(
        json.dumps(
            {
                "api_url": sandbox.clever_api_url,
                "district_token": sandbox.token,
                "incremental": True,
                "page_size": args.page_size,
                **({"batch_config": _batch_config(work)} if args.messages == "batch" else {}),
            }
        )
    )
    target_config = work / "target.json"
    target_config.write_text(
        json.dumps(
            {
                "database": str(work / "bloomz.duckdb"),
                "outbox_dir": str(work / "outbox"),
                **({"memory_limit": args.memory_limit} if args.memory_limit else {}),
                # the target reads (and deletes) BATCH files from the taps' batch folder only
                **(
                    {"batch_config": {"storage": _batch_config(work)["storage"]}}
                    if args.messages == "batch"
                    else {}
                ),
            }
        )
    )
    tap = [str(BIN / "tap-clever"), "--config", str(tap_config)]
    if state is not None:
        state_file = work / "state.json"
        state_file.write_text(json.dumps(state))
        tap += ["--state", str(state_file)]
    target = [str(BIN / "target-bloomz"), "--config", str(target_config)]
    target_out = work / "target.out"
    run = pipeline(
        [("tap-clever", tap), ("target-bloomz", target)],
        record_to=work / f"{label}.singer",
        out=target_out,
    )
    if not run.ok:
        raise SystemExit(f"{label} failed:\n{run.failure()}")
    run.records = _records_received(work / "bloomz.duckdb")
    # A Singer target writes each committed state's value as one JSON line; the last one is the bookmark.
    states = [line for line in target_out.read_text().splitlines() if line.startswith("{")]
    return run, json.loads(states[-1]) if states else None


def _batch_config(work: Path) -> dict[str, Any]:
    """The tap's BATCH settings, as meltano.yml has them, with the files under the bench's work folder."""
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": (work / "batches").as_uri()},
        "batch_size": 100000,
    }


def _records_received(database: Path) -> int:
    """Records the target received in its last run (BATCH files never cross the pipe, so count them here)."""
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute("SELECT record_counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return sum(json.loads(row[0]).values()) if row else 0


def phases(run: Run) -> str:
    """The target's own phase timings (its log lines ``phase stage: 1.23 s``)."""
    target = run.procs[-1].stderr
    found = [line.split("phase ", 1)[1] for line in target.splitlines() if "phase " in line]
    return "; ".join(found)


def meltano_first_sync(work: Path, sandbox: Sandbox, args: argparse.Namespace) -> Proc:
    """`meltano run tap-clever target-bloomz` in a copy of the project, with its own store and state."""
    project = pristine_project(work / "meltano")
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DATABASE_URI=f"sqlite:///{project / 'meltano.db'}",
        TAP_CLEVER_API_URL=sandbox.clever_api_url,
        TAP_CLEVER_DISTRICT_TOKEN=sandbox.token,
        TAP_CLEVER_PAGE_SIZE=str(args.page_size),
        TARGET_BLOOMZ_DATABASE=str(project / "bloomz.duckdb"),
        TARGET_BLOOMZ_OUTBOX_DIR=str(project / "outbox"),
    )
    if args.memory_limit:
        env["TARGET_BLOOMZ_MEMORY_LIMIT"] = args.memory_limit
    proc = process_tree(
        "meltano run (largest process)",
        [str(BIN / "meltano"), "run", "tap-clever", "target-bloomz"],
        env=env,
        cwd=project,
    )
    if not proc.ok:
        raise SystemExit(f"meltano run failed:\n{proc.stderr[-3000:]}")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--dir", type=Path, help="a generated district to copy instead of generating one")
    parser.add_argument("--page-size", type=int, default=10000)
    parser.add_argument("--no-meltano", action="store_true", help="skip the `meltano run` measurement")
    parser.add_argument("--quick", action="store_true", help="first sync and one night only (smoke run)")
    parser.add_argument("--memory-limit", help="target-bloomz's memory_limit setting (default: its own)")
    parser.add_argument("--keep", type=Path, help="copy the recorded first-sync stream file here")
    parser.add_argument(
        "--messages",
        choices=["batch", "record"],
        default="batch",
        help="how the tap hands records over in the piped runs (meltano.yml's default: batch)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; tap-clever writes {args.messages.upper()} messages")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="clever-sync-bench-") as tmp:
        work = Path(tmp)
        district, made = working_district(work, args.dir, args.size)
        if made:
            rows.append(
                [
                    f"generate {args.size}",
                    made.label,
                    round(made.seconds, 1),
                    "",
                    "",
                    round(made.peak_mb),
                    made.exit_code,
                    f"{made.cpu:.1f}",
                ]
            )
        with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
            first, state = sync(work, sandbox, "first", state=None, args=args)
            rows += proc_rows(first, "first sync (full)")
            print(f"first sync target phases: {phases(first)}", flush=True)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                kept = args.keep / f"clever-{args.dir.name if args.dir else args.size}.singer"
                if args.messages == "record":
                    shutil.copy(work / "first.singer", kept)
                else:  # the recorded stream names BATCH files the target has deleted: record the records
                    record_from(sandbox.clever_api_url, sandbox.token, kept, args.page_size)
                print(f"kept the district's records in {kept}", flush=True)
            nights = (
                [("no-change night", None)]
                if args.quick
                else [("night, 1% changed", 1.0), ("no-change night", None)]
            )
            for label, change in nights:
                if change is not None:
                    advance = [
                        str(BIN / "roster-sandbox"),
                        "advance",
                        str(district),
                        "--change",
                        str(change),
                        "--seed",
                        "2",
                    ]
                    subprocess.run(advance, check=True, capture_output=True)
                night, next_state = sync(
                    work,
                    sandbox,
                    label.split(",")[0].replace(" ", "-"),
                    state=state,
                    args=args,
                )
                state = next_state or state
                rows += proc_rows(night, label)
                print(f"{label} target phases: {phases(night)}", flush=True)
            if not args.no_meltano:
                proc = meltano_first_sync(work, sandbox, args)
                rows.append(
                    [
                        "first sync, meltano run",
                        proc.label,
                        round(proc.seconds, 1),
                        first.records,
                        round(first.records / proc.seconds),
                        round(proc.peak_mb),
                        proc.exit_code,
                        f"{proc.cpu:.1f}",
                    ]
                )
    name = args.dir.name if args.dir else args.size
    table(f"tap-clever | target-bloomz, {name} district", PROC_HEADERS, rows)


if __name__ == "__main__":
    main()
