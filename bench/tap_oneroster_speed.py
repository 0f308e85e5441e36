"""How fast tap-oneroster reads a district over REST and as a CSV bundle; prints figures.

    .venv/bin/python bench/tap_oneroster_speed.py                  # small district (≈3,000 students)
    .venv/bin/python bench/tap_oneroster_speed.py --size large     # ≈100,000 students
    .venv/bin/python bench/tap_oneroster_speed.py --page-size 1000
    .venv/bin/python bench/tap_oneroster_speed.py --size large --sources csv   # the CSV bundle only

Each run is the real `tap-oneroster` executable writing Singer messages to a pipe that this script counts,
so the figures include serialisation; the peak memory is the tap process's own max RSS. Each source runs
twice: writing RECORD messages, then with singer-sdk's ``batch_config`` writing BATCH files (their records
counted after the tap exited, then deleted, as a target would). The CPU time is the tap's own (user and
system, its threads included): on a busy machine it says more than the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from roster_sandbox.testing import run_sandbox

BIN = Path(sys.executable).parent


def run_tap(config: dict[str, Any], work: Path, label: str, *, batches: bool = False) -> None:
    files = work / "batches"
    if batches:
        config = config | {
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": files.as_uri()},
                "batch_size": 100_000,
            }
        }
        label += ", BATCH files"
    config_file = work / "tap.json"
    config_file.write_text(json.dumps(config))
    started = time.perf_counter()
    tap = subprocess.Popen(
        [str(BIN / "tap-oneroster"), "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    records = sum(
        1 for line in tap.stdout if line.startswith(b'{"type":"RECORD"') and b'"stream":"pull"' not in line
    )
    _, status, usage = os.wait4(tap.pid, 0)  # this child's own rusage
    elapsed = time.perf_counter() - started
    if batches and files.exists():
        for path in files.iterdir():
            with path.open("rb") as file:
                records += sum(1 for _ in file)
            path.unlink()
    code = os.waitstatus_to_exitcode(status)
    outcome = "ok" if code == 0 else f"FAILED (exit {code})"
    print(
        f"{label}: {records} records in {elapsed:.1f} s ({records / elapsed:,.0f}/s), "
        f"CPU {usage.ru_utime + usage.ru_stime:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB, {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--sources", default="rest,csv", help="rest, csv, or both (default)")
    args = parser.parse_args()
    sources = set(args.sources.split(","))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        district = work / "district"
        make = [str(BIN / "roster-sandbox"), "generate", args.size, "--seed", "1", "--out", str(district)]
        subprocess.run(make, check=True, capture_output=True)
        with run_sandbox(district, rate_limit=0) as sandbox:
            for version in ("1.1", "1.2") if "rest" in sources else ():
                config = {
                    "base_url": sandbox.oneroster_base_url(version),
                    "api_path": "",
                    "version": version,
                    "client_id": sandbox.client_id,
                    "client_secret": sandbox.client_secret,
                    "token_url": sandbox.oneroster_token_url,
                    "page_size": args.page_size,
                }
                for batches in (False, True):
                    run_tap(config, work, f"REST {version} (page size {args.page_size})", batches=batches)
        if "csv" not in sources:
            return
        bundle = work / "bundle.zip"
        export = [
            str(BIN / "roster-sandbox"),
            "export-csv",
            str(district),
            "--version",
            "1.1",
            "--out",
            str(bundle),
        ]
        subprocess.run(export, check=True, capture_output=True)
        for batches in (False, True):
            run_tap({"csv_path": str(bundle)}, work, "CSV 1.1 zip", batches=batches)


if __name__ == "__main__":
    main()
