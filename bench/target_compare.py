"""target-bloomz against the published target-duckdb 0.8.0 and against decoding alone, on one stream file.

    .venv/bin/python bench/target_compare.py                          # records the large district first
    .venv/bin/python bench/target_compare.py --stream FILE.singer     # clever_sync_bench.py --keep wrote it
    .venv/bin/python bench/target_compare.py --size tiny --quick      # smoke run (the tests use it)

Every contender reads the same file on stdin in its own process (own peak RSS):
- the decoding floor: msgspec and json decode every line, nothing else;
- target-bloomz: stage, map, plan and apply into a new store;
- target-duckdb 0.8.0 from PyPI, in its own virtualenv (bench/.venv-target-duckdb, created on first use: it
  pins old libraries), loading every stream into a table; --quick skips it unless that virtualenv exists.
Then it counts, per stream, the records in the file, their distinct keys, and the rows each target kept.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
import msgspec
from _measure import BIN, Run, generate, machine, pipeline, table
from roster_sandbox.testing import run_sandbox

from bloomz_sync import contract

HERE = Path(__file__).resolve().parent
DUCKDB_VENV = HERE / ".venv-target-duckdb"
TARGET_DUCKDB = "target-duckdb==0.8.0"
SCHEMA = "roster"


def decode_floor(kind: str) -> None:
    """Decode every stdin line and nothing else; print the RECORD count (run as a child process)."""
    decode = msgspec.json.Decoder().decode if kind == "msgspec" else json.loads
    records = 0
    for line in sys.stdin.buffer:
        if decode(line).get("type") == "RECORD":
            records += 1
    print(records)


def record_stream(size: str, work: Path, page_size: int) -> Path:
    """A generated district served by the sandbox, read by tap-clever into a stream file."""
    district = work / "district"
    generate(size, district)
    stream = work / f"clever-{size}.singer"
    config = work / "tap.json"
    with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
        config.write_text(
            json.dumps(
                {"api_url": sandbox.clever_api_url, "district_token": sandbox.token, "page_size": page_size}
            )
        )
        run = pipeline([("tap-clever", [str(BIN / "tap-clever"), "--config", str(config)])], record_to=stream)
    if not run.ok:
        raise SystemExit(f"recording the stream failed:\n{run.failure()}")
    return stream


def census(stream: Path) -> tuple[Counter[str], Counter[str]]:
    """Records per stream in the file, and distinct keys per stream (what an upserting target keeps)."""
    decoder = msgspec.json.Decoder()
    records: Counter[str] = Counter()
    keys: dict[str, set[tuple[object, ...]]] = {}
    with stream.open("rb") as lines:
        for line in lines:
            message = decoder.decode(line)
            if message.get("type") != "RECORD":
                continue
            name = message["stream"]
            records[name] += 1
            key_names = contract.key_properties(name) if name in contract.STREAMS else ["id"]
            keys.setdefault(name, set()).add(tuple(message["record"].get(k) for k in key_names))
    return records, Counter({name: len(found) for name, found in keys.items()})


def ensure_target_duckdb() -> Path:
    """bench/.venv-target-duckdb with target-duckdb 0.8.0 from PyPI (git-ignored; created once)."""
    executable = DUCKDB_VENV / "bin" / "target-duckdb"
    if not executable.exists():
        print(f"installing {TARGET_DUCKDB} into {DUCKDB_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(DUCKDB_VENV)], check=True)
        pip = [str(DUCKDB_VENV / "bin" / "pip"), "install", "--quiet", TARGET_DUCKDB]
        subprocess.run(pip, check=True)
    return executable


def duckdb_rows(database: Path, python: Path) -> dict[str, int]:
    """Rows per table target-duckdb kept (read with its own duckdb, which wrote the file)."""
    script = f"""
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
query = "SELECT table_name FROM information_schema.tables WHERE table_schema = '{SCHEMA}'"
tables = [name for (name,) in con.execute(query).fetchall()]
count = 'SELECT count(*) FROM {SCHEMA}."{{}}"'
print(json.dumps({{name: con.execute(count.format(name)).fetchone()[0] for name in tables}}))
"""
    done = subprocess.run(
        [str(python), "-c", script, str(database)], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def bloomz_rows(database: Path) -> dict[str, int]:
    """Rows per stream in target-bloomz's source mirror (src_<stream>) of the store it wrote."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        found = {
            name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        counts = {}
        for stream in contract.STREAMS:
            if f"src_{stream}" in found:
                (counts[stream],) = con.execute(f'SELECT count(*) FROM "src_{stream}"').fetchall()[0]
        return counts
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream", type=Path, help="a recorded Singer stream file to load")
    parser.add_argument("--size", default="large", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--page-size", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="skip target-duckdb unless already installed")
    parser.add_argument("--floor", choices=["msgspec", "json"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        decode_floor(args.floor)
        return
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="target-compare-") as tmp:
        work = Path(tmp)
        stream = args.stream or record_stream(args.size, work, args.page_size)
        runs: list[tuple[str, Run]] = []
        for kind in ("msgspec", "json"):
            floor = pipeline(
                [(f"decode only ({kind})", [sys.executable, __file__, "--floor", kind])], stdin=stream
            )
            runs.append((floor.procs[0].label, floor))
        config = work / "bloomz.json"
        config.write_text(
            json.dumps({"database": str(work / "bloomz.duckdb"), "outbox_dir": str(work / "outbox")})
        )
        bloomz = pipeline(
            [("target-bloomz", [str(BIN / "target-bloomz"), "--config", str(config)])], stdin=stream
        )
        runs.append(("target-bloomz (stage, map, plan, apply)", bloomz))
        duckdb_kept: dict[str, int] = {}
        if not args.quick or (DUCKDB_VENV / "bin" / "target-duckdb").exists():
            executable = ensure_target_duckdb()
            duck_config = work / "duckdb.json"
            duck_config.write_text(
                json.dumps({"path": str(work / "duck.duckdb"), "default_target_schema": SCHEMA})
            )
            duck = pipeline(
                [("target-duckdb 0.8.0", [str(executable), "--config", str(duck_config)])], stdin=stream
            )
            runs.append(("target-duckdb 0.8.0 (load tables)", duck))
            if duck.ok:
                duckdb_kept = duckdb_rows(work / "duck.duckdb", DUCKDB_VENV / "bin" / "python")
        # Counted after the runs: a child's peak RSS starts from this process's size when it was started.
        records, keys = census(stream)
        total = sum(records.values())
        rows = []
        for label, run in runs:
            proc = run.procs[0]
            rate = total / proc.seconds if proc.ok else 0.0
            rows.append(
                [label, round(proc.seconds, 1), total, round(rate), round(proc.peak_mb), proc.exit_code]
            )
            if not proc.ok:
                print(f"{label} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        table(
            f"one stream file, {total:,} records ({stream.stat().st_size / 1e6:,.0f} MB)",
            ("process", "wall s", "records", "records/s", "peak RSS MB", "exit"),
            rows,
        )
        if len(runs) == 4 and runs[2][1].ok and runs[3][1].ok:
            ratio = runs[3][1].procs[0].seconds and runs[3][1].procs[0].seconds / runs[2][1].procs[0].seconds
            print(f"\ntarget-bloomz records/s = {ratio:.1f} x target-duckdb's")
        kept = bloomz_rows(work / "bloomz.duckdb") if bloomz.ok else {}
        census_rows = [
            [name, records[name], keys[name], kept.get(name, "n/a"), duckdb_kept.get(name, "n/a")]
            for name in sorted(records)
        ]
        table(
            "rows kept per stream",
            ("stream", "records sent", "distinct keys", "target-bloomz (src_ mirror)", "target-duckdb table"),
            census_rows,
        )
        if not all(run.ok for _, run in runs[:3]):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
