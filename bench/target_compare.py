"""target-bloomz against its peers and two floors, on one recorded stream file, in alternated runs.

    .venv/bin/python bench/target_compare.py --dir DISTRICT                 # records the district first
    .venv/bin/python bench/target_compare.py --stream FILE.singer --runs 5  # a stream file of RECORD messages
    .venv/bin/python bench/target_compare.py --size tiny --quick            # smoke run (the tests use it)

Contenders, each its own process reading the same file (own peak RSS):
- floor, msgspec decoding: decode every line, nothing else;
- floor, DuckDB keyed tables: DuckDB reads the file and inserts each stream's records into a table typed
  from the stream's schema with its key as PRIMARY KEY (what any DuckDB loader must at least do);
- target-bloomz: stage, map, plan and apply into a new store;
- target-duckdb 0.8.0 (PyPI): every stream into a table;
- dlt 1.31.0's DuckDB destination with `merge` on each stream's key (bench/dlt_load.py), with its default
  loader file format (insert_values) and with ``loader_file_format=jsonl``.
Peers run from their own virtualenvs under bench/ (``bench/.venv-target-duckdb``, ``bench/.venv-dlt``,
git-ignored), installed from PyPI on first use; --quick skips a peer whose virtualenv is not there yet.
Each round runs every contender once, the order rotated each round (A B C, B C A, C A B, ...), so none always
goes first; the tables give each one's median, and the ratio of every pair's medians. Every run loads into
a new database. Then, per stream: the records in the file, their distinct keys, and the rows each contender
kept after its first run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import msgspec
from _measure import (
    BIN,
    HERE,
    Proc,
    generate,
    machine,
    median,
    peer_venv,
    pipeline,
    record_stream,
    rotations,
    table,
)

from roster_streams import contract

SCHEMA = "roster"  # the schema (dataset) the peers load into
TARGET_DUCKDB = ["target-duckdb==0.8.0"]
DLT = ["dlt[duckdb]==1.31.0"]


@dataclass
class Contender:
    """One loader: how to start it for a run in ``folder``, and how to count what it kept there."""

    label: str
    command: Callable[[Path], list[str]]
    kept: Callable[[Path], dict[str, int]] | None = None
    runs: list[Proc] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


# --- the floors (run as child processes of this script) ---------------------------------------------------


def decode_floor() -> None:
    """Decode every stdin line with msgspec and nothing else; print the RECORD count."""
    decode = msgspec.json.Decoder().decode
    print(sum(1 for line in sys.stdin.buffer if decode(line).get("type") == "RECORD"))


def _duck_type(prop: dict[str, Any]) -> str:
    declared = prop.get("type")
    kinds = set(declared if isinstance(declared, list) else [declared]) - {"null", None}
    if "array" in kinds:
        return "VARCHAR[]" if prop.get("items", {}).get("type") == "string" else "JSON"
    if "object" in kinds:
        return "JSON"
    if "string" in kinds:
        return {"date-time": "TIMESTAMPTZ", "date": "DATE"}.get(prop.get("format", ""), "VARCHAR")
    return {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}.get(
        str(next(iter(kinds), "")), "JSON"
    )


def duckdb_floor(database: Path) -> None:
    """DuckDB reads stdin's RECORD messages once, then fills one keyed, typed table per stream."""
    con = duckdb.connect(str(database))
    con.execute(
        "CREATE TEMP TABLE messages AS SELECT stream, record FROM read_ndjson('/dev/stdin', "
        "columns = {type: 'VARCHAR', stream: 'VARCHAR', record: 'JSON'}) WHERE type = 'RECORD'"
    )
    for stream in contract.STREAMS:
        columns = {
            name: _duck_type(prop) for name, prop in contract.load_schema(stream)["properties"].items()
        }
        keys = ", ".join(f'"{k}"' for k in contract.key_properties(stream))
        body = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        con.execute(f'CREATE TABLE "{stream}" ({body}, PRIMARY KEY ({keys}))')
        structure = json.dumps(columns).replace("'", "''")
        con.execute(
            f"INSERT INTO \"{stream}\" SELECT unnest(json_transform(record, '{structure}')) "
            "FROM messages WHERE stream = ?",
            [stream],
        )
    (records,) = con.execute("SELECT count(*) FROM messages").fetchone() or (0,)
    con.close()
    print(records)


# --- what each kept --------------------------------------------------------------------------------------


def _table_rows(database: Path, schema: str, python: Path | None = None) -> dict[str, int]:
    """Rows per roster stream's table in a DuckDB file (read with ``python``'s duckdb when the file was
    written by an older one)."""
    script = f"""
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
tables = {{name for (name,) in con.execute(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'").fetchall()}}
streams = {list(contract.STREAMS)!r}
print(json.dumps({{s: con.execute(f'SELECT count(*) FROM {schema}."{{s}}"').fetchone()[0]
                  for s in streams if s in tables}}))
"""
    done = subprocess.run(
        [str(python or sys.executable), "-c", script, str(database)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: dict[str, int] = json.loads(done.stdout)
    return rows


def _bloomz_rows(database: Path) -> dict[str, int]:
    """Rows per stream in target-bloomz's source mirror (src_<stream>)."""
    with duckdb.connect(str(database), read_only=True) as con:
        found = {
            name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            s: con.execute(f'SELECT count(*) FROM "src_{s}"').fetchone()[0]  # type: ignore[index]
            for s in contract.STREAMS
            if f"src_{s}" in found
        }


# --- the contenders --------------------------------------------------------------------------------------


def contenders(peers: set[str]) -> list[Contender]:
    """Every contender; peers only among ``peers`` (their virtualenvs are made here when missing)."""
    me = [sys.executable, __file__]

    def bloomz(folder: Path) -> list[str]:
        config = folder / "bloomz.json"
        config.write_text(
            json.dumps({"database": str(folder / "db.duckdb"), "outbox_dir": str(folder / "outbox")})
        )
        return [str(BIN / "target-bloomz"), "--config", str(config)]

    found = [
        Contender("floor: msgspec decoding", lambda folder: [*me, "--floor", "msgspec"]),
        Contender(
            "floor: DuckDB keyed tables",
            lambda folder: [*me, "--floor", "duckdb", "--database", str(folder / "db.duckdb")],
            lambda folder: _table_rows(folder / "db.duckdb", "main"),
        ),
        Contender("target-bloomz", bloomz, lambda folder: _bloomz_rows(folder / "db.duckdb")),
    ]
    if "target-duckdb" in peers:
        bin_dir = peer_venv("target-duckdb", TARGET_DUCKDB)

        def target_duckdb(folder: Path) -> list[str]:
            config = folder / "duckdb.json"
            config.write_text(
                json.dumps({"path": str(folder / "db.duckdb"), "default_target_schema": SCHEMA})
            )
            return [str(bin_dir / "target-duckdb"), "--config", str(config)]

        found.append(
            Contender(
                "target-duckdb 0.8.0",
                target_duckdb,
                lambda folder: _table_rows(folder / "db.duckdb", SCHEMA, bin_dir / "python"),
            )
        )
    if "dlt" in peers:
        python = peer_venv("dlt", DLT) / "python"
        keys = json.dumps({s: contract.key_properties(s) for s in contract.STREAMS})

        def dlt(file_format: str) -> Callable[[Path], list[str]]:
            return lambda folder: [
                *(str(python), str(HERE / "dlt_load.py"), "--database", str(folder / "db.duckdb")),
                *("--keys", keys, "--format", file_format, "--work", str(folder / "dlt")),
            ]

        for file_format, label in (("default", "dlt merge (insert_values)"), ("jsonl", "dlt merge (jsonl)")):
            found.append(
                Contender(label, dlt(file_format), lambda folder: _table_rows(folder / "db.duckdb", SCHEMA))
            )
    return found


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


def check_records(stream: Path) -> None:
    """A file of BATCH messages names files that are gone once a target read them: refuse it, clearly."""
    with stream.open("rb") as lines:
        for line in lines:
            if b'"type":"BATCH"' in line:
                raise SystemExit(
                    f"{stream}: holds BATCH messages, not records; record one with --dir DISTRICT (RECORD "
                    "messages), or clever_sync_bench.py --keep DIR"
                )


def run_rounds(stream: Path, work: Path, found: list[Contender], rounds: int) -> list[list[object]]:
    """Every contender once per round, in rotated order; each run into a new folder, removed after it."""
    by_label = {c.label: c for c in found}
    chronology: list[list[object]] = []
    for number, order in enumerate(rotations([c.label for c in found], rounds), 1):
        for label in order:
            contender = by_label[label]
            folder = work / f"run-{number}-{len(contender.runs)}"
            folder.mkdir()
            run = pipeline([(label, contender.command(folder))], stdin=stream)
            proc = run.procs[0]
            contender.runs.append(proc)
            chronology.append(
                [number, label, f"{proc.seconds:.2f}", round(proc.peak_mb), proc.exit_code, f"{proc.cpu:.2f}"]
            )
            if not proc.ok:
                print(f"{label} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            elif contender.kept and not contender.rows:
                contender.rows = contender.kept(folder)
            shutil.rmtree(folder, ignore_errors=True)
    return chronology


def report(stream: Path, found: list[Contender], chronology: list[list[object]]) -> None:
    # Counted after the runs: a child's peak RSS starts from this process's size when it was started.
    records, keys = census(stream)
    total = sum(records.values())
    table(
        "runs, in the order they ran",
        ("round", "contender", "wall s", "peak RSS MB", "exit", "cpu s"),
        chronology,
    )
    medians = {c.label: median([p.seconds for p in c.runs if p.ok]) for c in found}
    rows = []
    for c in found:
        ok = [p for p in c.runs if p.ok]
        seconds = [p.seconds for p in ok]
        rows.append(
            [
                c.label,
                f"{len(ok)} of {len(c.runs)}",
                f"{medians[c.label]:.2f}" if ok else "failed",
                f"{min(seconds):.2f} to {max(seconds):.2f}" if ok else "",
                round(total / medians[c.label]) if ok else 0,
                round(median([p.peak_mb for p in ok])) if ok else 0,
                f"{median([p.cpu for p in ok]):.2f}" if ok else "",
            ]
        )
    table(
        f"one stream file, {total:,} records ({stream.stat().st_size / 1e6:,.0f} MB): medians",
        (
            "contender",
            "runs ok",
            "median wall s",
            "range s",
            "records/s",
            "median peak RSS MB",
            "median cpu s",
        ),
        rows,
    )
    done = [c.label for c in found if c.runs and any(p.ok for p in c.runs)]
    table(
        "ratio of median wall times (row / column)",
        ("", *done),
        [[row, *(f"{medians[row] / medians[col]:.2f}" for col in done)] for row in done],
    )
    counted = [c for c in found if c.kept]
    table(
        "rows kept per stream (first run of each)",
        ("stream", "records sent", "distinct keys", *(c.label for c in counted)),
        [
            [name, records[name], keys[name], *(c.rows.get(name, "n/a") for c in counted)]
            for name in sorted(records)
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream", type=Path, help="a recorded stream file of RECORD messages")
    parser.add_argument("--dir", type=Path, help="a generated district to record the stream from")
    parser.add_argument("--size", default="large", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--runs", type=int, default=3, help="rounds: each contender runs once per round")
    parser.add_argument(
        "--peers",
        default="target-duckdb,dlt",
        help="comma-separated peers to run: target-duckdb, dlt (empty for none)",
    )
    parser.add_argument("--quick", action="store_true", help="one round; peers only if already installed")
    parser.add_argument("--floor", choices=["msgspec", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor == "msgspec":
        decode_floor()
        return
    if args.floor == "duckdb":
        duckdb_floor(args.database)
        return
    peers = {p for p in args.peers.split(",") if p}
    if args.quick:
        peers = {p for p in peers if (HERE / f".venv-{p}").exists()}
    print(f"machine: {machine()}")
    found = contenders(peers)
    with tempfile.TemporaryDirectory(prefix="target-compare-") as tmp:
        work = Path(tmp)
        stream = args.stream
        if stream is None:
            district = args.dir
            if district is None:
                district = work / "district"
                generate(args.size, district)
            stream = record_stream(district, work / "clever.singer")
        check_records(stream)
        chronology = run_rounds(stream, work, found, 1 if args.quick else args.runs)
        report(stream, found, chronology)
    print(f"machine after: {machine()}")
    if not all(p.ok for c in found for p in c.runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
