"""tap-clever against a plain loop fetching the same Clever pages: the tap's own overhead.

    .venv/bin/python bench/tap_clever_speed.py                      # large district (≈100,000 students)
    .venv/bin/python bench/tap_clever_speed.py --dir DIR            # a generated district
    .venv/bin/python bench/tap_clever_speed.py --size tiny --quick  # smoke run (the tests use it)

Three variants, each its own process against the same sandbox, once per round (``--rounds``, default 3),
the order rotated each round (R B P, B P R, P R B) so none always runs first: the tap's full sync writing
RECORD messages (output counted and discarded); the same with singer-sdk's ``batch_config`` writing BATCH
files (records counted in the files, then deleted); and a plain loop. The tap logs every request it makes
(singer-sdk's ``http_request_count`` metric names the collection and its filter); the plain loop walks
exactly those collections with the same page size, with one `requests` session, decoding each page with
msgspec, which is the least any client must do. Prints each run in order, then medians.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import requests
from _measure import BIN, Proc, generate, machine, median, pipeline, rotations, table
from roster_sandbox.testing import run_sandbox

REQUEST_METRIC = '"metric":"http_request_count"'
RECORDS, BATCHES, PLAIN = (
    "tap-clever, RECORD messages",
    "tap-clever, BATCH files",
    "plain loop (requests + msgspec)",
)
VARIANTS = [RECORDS, BATCHES, PLAIN]
BATCH_SIZE = 100_000  # records per BATCH file


def plain_loop(api_url: str, token: str, page_size: int, walks: list[dict[str, Any]]) -> None:
    """Walk each collection by its next links; print how many objects came back (run as a child)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    decode = msgspec.json.Decoder().decode
    objects = 0
    for walk in walks:
        url: str | None = f"{api_url}/v3.0/{walk['resource']}"
        params: dict[str, Any] | None = {"limit": page_size, **walk["params"]}
        while url:
            response = session.get(url, params=params, timeout=300)
            response.raise_for_status()
            body = decode(response.content)
            objects += len(body["data"])
            url = next((api_url + link["uri"] for link in body["links"] if link["rel"] == "next"), None)
            params = None  # the next link carries limit and starting_after
    print(objects)


def walks_of(tap_log: str) -> list[dict[str, Any]]:
    """The collections and filters the tap requested, in order, once per stream that asked."""
    found: list[dict[str, Any]] = []
    for line in tap_log.splitlines():
        if REQUEST_METRIC in line:
            context = json.loads(line.split("METRIC: ", 1)[1])["tags"]["context"]
            found.append({"resource": context["resource"], "params": context.get("params") or {}})
    return found


def batch_config(root: Path) -> dict[str, Any]:
    """singer-sdk's batch_config as meltano.yml sets it: uncompressed JSONL files under ``root``."""
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": root.as_uri()},
        "batch_size": BATCH_SIZE,
    }


def run_tap(config: Path, batches: Path | None) -> tuple[Proc, int]:
    """One full sync: the tap process and the records it wrote (RECORD lines, or its BATCH files' lines).

    BATCH files are counted after the tap exited (outside its wall time), then deleted, as a target would.
    """
    tap = pipeline([("tap-clever", [str(BIN / "tap-clever"), "--config", str(config)])])
    if not tap.ok:
        raise SystemExit(f"tap-clever failed:\n{tap.failure()}")
    records = tap.records
    if batches is not None:
        records = 0
        for path in batches.iterdir():
            with path.open("rb") as file:
                records += sum(1 for _ in file)
            path.unlink()
    return tap.procs[0], records


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--dir", type=Path, help="a generated district instead of generating one")
    parser.add_argument("--page-size", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3, help="each variant runs once per round")
    parser.add_argument("--quick", action="store_true", help="smoke run: one round")
    parser.add_argument("--plain", help=argparse.SUPPRESS)  # the child: JSON of api_url, token, walks
    args = parser.parse_args()
    if args.plain:
        job = json.loads(Path(args.plain).read_text())
        plain_loop(job["api_url"], job["token"], args.page_size, job["walks"])
        return
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="tap-clever-speed-") as tmp:
        work = Path(tmp)
        district = args.dir
        if district is None:
            district = work / "district"
            generate(args.size, district)
        batches = work / "batches"
        with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
            settings = {
                "api_url": sandbox.clever_api_url,
                "district_token": sandbox.token,
                "page_size": args.page_size,
            }
            (work / "tap.json").write_text(json.dumps(settings))
            (work / "batch.json").write_text(json.dumps(settings | {"batch_config": batch_config(batches)}))
            job = work / "plain.json"
            plain_cmd = [sys.executable, __file__, "--plain", str(job), "--page-size", str(args.page_size)]

            def run(variant: str) -> tuple[Proc, str]:
                if variant == PLAIN:
                    plain = pipeline([(PLAIN, plain_cmd)], record_to=work / "plain.out")
                    if not plain.ok:
                        raise SystemExit(f"the plain loop failed:\n{plain.failure()}")
                    return plain.procs[0], f"{int((work / 'plain.out').read_text()):,} objects"
                proc, records = run_tap(
                    *((work / "tap.json", None) if variant == RECORDS else (work / "batch.json", batches))
                )
                if not job.exists():  # the plain loop walks what the tap asked for
                    walks = walks_of(proc.stderr)
                    job.write_text(
                        json.dumps(
                            {"api_url": sandbox.clever_api_url, "token": sandbox.token, "walks": walks}
                        )
                    )
                return proc, f"{records:,} records"

            # The first round starts with a tap (the plain loop needs its list of requests); then each
            # round starts one further along, so no variant always runs first.
            chronology: list[list[object]] = []
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            peaks: dict[str, list[float]] = {v: [] for v in VARIANTS}
            cpus: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for number, order in enumerate(rotations(VARIANTS, 1 if args.quick else args.rounds), 1):
                for variant in order:
                    proc, output = run(variant)
                    times[variant].append(proc.seconds)
                    peaks[variant].append(proc.peak_mb)
                    cpus[variant].append(proc.cpu)
                    chronology.append(
                        [
                            number,
                            variant,
                            f"{proc.seconds:.2f}",
                            output,
                            round(proc.peak_mb),
                            f"{proc.cpu:.2f}",
                        ]
                    )
    name = args.dir.name if args.dir else args.size
    table(
        f"tap-clever vs a plain fetch loop, {name} district, page size {args.page_size}: runs in order",
        ("round", "variant", "wall s", "output", "peak RSS MB", "cpu s"),
        chronology,
    )
    plain_median = median(times[PLAIN])
    table(
        "medians",
        ("variant", "runs", "median wall s", "range s", "median peak RSS MB", "x plain loop", "median cpu s"),
        [
            [
                variant,
                len(times[variant]),
                round(median(times[variant]), 2),
                f"{min(times[variant]):.2f} to {max(times[variant]):.2f}",
                round(median(peaks[variant])),
                f"{median(times[variant]) / plain_median:.2f}",
                f"{median(cpus[variant]):.2f}",
            ]
            for variant in VARIANTS
        ],
    )


if __name__ == "__main__":
    main()
