"""Time the source mirror (target_bloomz/stage/mirror.py): a complete pull, then a 2% delta, on a store.

    .venv/bin/python bench/mirror_bench.py --students 100000

Stages the synthetic district of target_bloomz_bench.py (about 8 records per student) into a real store
file, then times merge and commit (in one transaction, as apply does) for a complete pull and for a delta
that changes 2% of the students and deletes 1% of the enrollments. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import duckdb
from target_bloomz import store
from target_bloomz.apply import mirror_commit
from target_bloomz.stage import mirror, staging
from target_bloomz_bench import records

from roster_streams import contract


def write_spool(spool: Path, rows: Iterator[tuple[str, dict]]) -> int:
    """The NDJSON spool files target-bloomz's sinks would write; return the number of records."""
    spool.mkdir(parents=True, exist_ok=True)
    handles: dict[str, TextIO] = {}
    count = 0
    for stream, record in rows:
        if stream not in handles:
            handles[stream] = (spool / f"{stream}.ndjson").open("w")
        handles[stream].write(json.dumps(record) + "\n")
        count += 1
    for handle in handles.values():
        handle.close()
    return count


def delta(students: int) -> Iterator[tuple[str, dict]]:
    """2% of the students change grade; 1% of the students lose an enrollment (deleted records)."""
    for stream, record in records(students):
        if stream == "students" and int(record["id"][3:]) % 50 == 0:
            yield stream, {**record, "grade": "6"}
        elif stream == "enrollments" and int(record["user_id"][3:]) % 100 == 1:
            yield stream, {**record, "_sdc_deleted_at": "2026-11-23T03:00:00Z"}


def timed(label: str, con: duckdb.DuckDBPyConnection, spool: Path, complete: set[str], run_id: int) -> None:
    started = time.perf_counter()
    staging.stage(con, spool)
    staged = time.perf_counter()
    mirror.merge(con, "bench:feed", complete)
    merged = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    mirror_commit.commit(con, run_id)
    con.execute("COMMIT")
    done = time.perf_counter()
    seconds = f"stage {staged - started:.1f} s, merge {merged - staged:.1f} s, commit {done - merged:.1f} s"
    print(f"{label}: {seconds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full_spool, delta_spool = Path(tmp) / "full", Path(tmp) / "delta"
        total = write_spool(full_spool, records(args.students))
        changed = write_spool(delta_spool, delta(args.students))
        con = store.connect(Path(tmp) / "bloomz.duckdb")
        con.execute("SET memory_limit = '2GB'")
        print(f"{args.students} students: {total:,} records; the delta has {changed:,}")
        timed("complete pull", con, full_spool, set(contract.STREAMS), 1)
        timed("2% delta     ", con, delta_spool, set(), 2)
        con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
