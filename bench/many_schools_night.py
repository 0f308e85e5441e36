"""A night of many small schools, one job each, one after the other: what a run's fixed cost adds up to.

    .venv/bin/python bench/many_schools_night.py                   # 100 schools of 300 students
    .venv/bin/python bench/many_schools_night.py --via meltano     # each job through `meltano run`
    .venv/bin/python bench/many_schools_night.py --size tiny       # smoke run (the tests use it)

Bloomz runs one job per school (meltano.yml's per-school jobs): tap-clever with ``schools`` set to that school
and incremental on, piped into target-bloomz with the school's own ``feed``, one shared store. The script
generates the district (seed 1) and serves it with roster-sandbox, then runs three passes over every
school, in order: the first sync (the setup: each school imported by hand, as meltano.yml says), a night
with no change, and, after `roster-sandbox advance --change 1`, a night with 1% of students changed. Nights
run with ``scheduled: true``, from the STATE the school's previous run emitted.

``--via pipes`` (the default) runs ``tap-clever | target-bloomz`` directly, with the settings meltano.yml
gives them (BATCH files, page size 10000): it measures our two processes and nothing else. ``--via meltano``
runs ``meltano run --state-id-suffix <school> tap-clever target-bloomz`` in a copy of the project instead
(its own system database keeps each school's state): what a Meltano deployment pays per job on top.

Prints, per pass: total wall time, per-job wall time (median, 90th percentile, max) and its split between
tap and target, the fixed cost per job (a no-change job's wall time: it moves nothing, so all of it is
fixed), the largest peak RSS of any tap and any target, and how each run ended (the store's run statuses).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from _measure import BIN, Proc, machine, median, pipeline, process_tree, table, working_district
from roster_sandbox import dumpfile
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.project import pristine_project

PAGE_SIZE = 10000  # meltano.yml's


@dataclass
class Pass:
    """One pass over every school: each job's processes, and the wall time of the whole pass."""

    label: str
    seconds: float = 0.0
    jobs: list[list[Proc]] = field(default_factory=list)


class Jobs:
    """Runs one school's job at a time, piped or through `meltano run`, keeping each school's STATE."""

    def __init__(self, work: Path, sandbox: Sandbox, via: str) -> None:
        self.work, self.sandbox, self.via = work, sandbox, via
        self.database = work / "bloomz.duckdb"
        self.states: dict[str, dict[str, Any]] = {}
        if via == "meltano":
            self.project = pristine_project(work / "meltano")

    def run(self, number: int, school: str, *, night: bool) -> list[Proc]:
        if self.via == "meltano":
            return [self._meltano(number, school, night=night)]
        return self._pipes(number, school, night=night)

    def _pipes(self, number: int, school: str, *, night: bool) -> list[Proc]:
        folder = self.work / "jobs" / f"school-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        batches = {"root": (folder / "batches").as_uri()}
        tap_config = {
            "api_url": self.sandbox.clever_api_url,
            "district_token": self.sandbox.token,
            "schools": [school],
            "incremental": True,
            "page_size": PAGE_SIZE,
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": batches,
                "batch_size": 100000,
            },
        }
        target_config = {
            "database": str(self.database),
            "feed": f"clever:school-{number}",
            "scheduled": night,
            "outbox_dir": str(self.work / "outbox"),
            # the target reads (and deletes) BATCH files from the tap's batch folder only
            "batch_config": {"storage": batches},
        }
        (folder / "tap.json").write_text(json.dumps(tap_config))
        (folder / "target.json").write_text(json.dumps(target_config))
        tap = [str(BIN / "tap-clever"), "--config", str(folder / "tap.json")]
        if school in self.states:
            (folder / "state.json").write_text(json.dumps(self.states[school]))
            tap += ["--state", str(folder / "state.json")]
        out = folder / "target.out"
        run = pipeline(
            [
                ("tap-clever", tap),
                ("target-bloomz", [str(BIN / "target-bloomz"), "--config", str(folder / "target.json")]),
            ],
            out=out,
        )
        if not run.ok:
            raise SystemExit(f"school {number} ({school}) failed:\n{run.failure()}")
        states = [line for line in out.read_text().splitlines() if line.startswith("{")]
        if states:  # a held night emits none: the next one starts from the same bookmark
            self.states[school] = json.loads(states[-1])
        return run.procs

    def _meltano(self, number: int, school: str, *, night: bool) -> Proc:
        env = dict(
            os.environ,
            PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_DATABASE_URI=f"sqlite:///{self.project / 'meltano.db'}",
            TAP_CLEVER_API_URL=self.sandbox.clever_api_url,
            TAP_CLEVER_DISTRICT_TOKEN=self.sandbox.token,
            TAP_CLEVER_SCHOOLS=json.dumps([school]),
            TAP_CLEVER_INCREMENTAL="true",
            TARGET_BLOOMZ_DATABASE=str(self.database),
            TARGET_BLOOMZ_FEED=f"clever:school-{number}",
            TARGET_BLOOMZ_SCHEDULED="true" if night else "false",
            TARGET_BLOOMZ_OUTBOX_DIR=str(self.work / "outbox"),
        )
        command = [
            str(BIN / "meltano"),
            "run",
            "--state-id-suffix",
            f"school-{number}",
            "tap-clever",
            "target-bloomz",
        ]
        proc = process_tree("meltano run (largest process)", command, env=env, cwd=self.project)
        if not proc.ok:
            raise SystemExit(f"school {number} ({school}): meltano run failed:\n{proc.stderr[-3000:]}")
        return proc


def statuses(database: Path, since: int) -> str:
    """How the runs after run ``since`` ended, e.g. ``applied 99, held 1``."""
    with duckdb.connect(str(database), read_only=True) as con:
        found = con.execute(
            "SELECT status, count(*) FROM runs WHERE id > ? GROUP BY status ORDER BY status", [since]
        ).fetchall()
    return ", ".join(f"{status} {n}" for status, n in found)


def last_run(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def summary(passes: list[Pass], outcomes: dict[str, str], via: str) -> None:
    rows = []
    for done in passes:
        walls = [max(p.seconds for p in job) for job in done.jobs]  # a job lasts until its last process ends
        first = [job[0] for job in done.jobs]  # the tap, or meltano run's tree
        last = [job[-1] for job in done.jobs]  # the target
        rows.append(
            [
                done.label,
                len(done.jobs),
                f"{done.seconds:.1f}",
                f"{median(walls):.2f}",
                f"{percentile(walls, 0.9):.2f}",
                f"{max(walls):.2f}",
                f"{median([p.seconds for p in first]):.2f}" if via == "pipes" else "",
                f"{median([p.seconds for p in last]):.2f}" if via == "pipes" else "",
                round(max(p.peak_mb for p in first)),
                round(max(p.peak_mb for p in last)) if via == "pipes" else "",
                outcomes[done.label],
                f"{median([p.cpu for p in last]):.2f}",
            ]
        )
    table(
        f"one job per school, one after the other ({via})",
        (
            "pass",
            "jobs",
            "total wall s",
            "per job: median s",
            "p90 s",
            "max s",
            "tap median s",
            "target median s",
            "tap peak MB (max)" if via == "pipes" else "meltano run, largest process MB (max)",
            "target peak MB (max)",
            "runs",
            "target cpu median s" if via == "pipes" else "meltano run tree cpu median s",
        ),
        rows,
    )
    quiet = next(p for p in passes if p.label == "no-change night")
    fixed = median([max(p.seconds for p in job) for job in quiet.jobs])
    print(
        f"\nfixed cost per job (median no-change job): {fixed:.2f} s; "
        f"for 1,000 schools a night: {fixed * 1000 / 60:.1f} minutes of it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="many", help="the district to generate (default many: 100 schools)")
    parser.add_argument("--dir", type=Path, help="a generated district to copy instead of generating one")
    parser.add_argument("--schools", type=int, help="only the first N schools")
    parser.add_argument("--via", choices=["pipes", "meltano"], default="pipes")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="many-schools-") as tmp:
        work = Path(tmp)
        district, _ = working_district(work, args.dir, args.size)
        schools = [s["id"] for s in dumpfile.read_objects(district / "schools.json")][: args.schools]
        passes: list[Pass] = []
        outcomes: dict[str, str] = {}
        with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
            jobs = Jobs(work, sandbox, args.via)
            for label, night in (
                ("first sync", False),
                ("no-change night", True),
                ("night, 1% changed", True),
            ):
                if label == "night, 1% changed":
                    advance = [
                        str(BIN / "roster-sandbox"),
                        "advance",
                        str(district),
                        "--change",
                        "1",
                        "--seed",
                        "2",
                    ]
                    subprocess.run(advance, check=True, capture_output=True)
                since = last_run(jobs.database) if jobs.database.exists() else 0
                done = Pass(label)
                started = time.perf_counter()
                for number, school in enumerate(schools, 1):
                    done.jobs.append(jobs.run(number, school, night=night))
                done.seconds = time.perf_counter() - started
                outcomes[label] = statuses(jobs.database, since)
                passes.append(done)
                print(f"{label}: {len(schools)} jobs in {done.seconds:.1f} s ({outcomes[label]})", flush=True)
    summary(passes, outcomes, args.via)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
