"""tap-clever against a plain loop fetching the same Clever pages: the tap's own overhead.

    .venv/bin/python bench/tap_clever_speed.py                      # large district (≈100,000 students)
    .venv/bin/python bench/tap_clever_speed.py --dir DIR            # a generated district
    .venv/bin/python bench/tap_clever_speed.py --size tiny --quick  # smoke run (the tests use it)

The tap runs a full sync twice, once writing RECORD messages (output counted and discarded) and once with
singer-sdk's ``batch_config`` writing BATCH files (records counted in the files, then deleted). It logs
every request it makes (singer-sdk's ``http_request_count`` metric names the collection and its filter);
the plain loop then walks exactly those collections with the same page size, with one `requests` session,
decoding each page with msgspec, which is the least any client must do. Each runs as its own process
against the same sandbox.
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
from _measure import BIN, Proc, generate, machine, pipeline, table
from roster_sandbox.testing import run_sandbox

REQUEST_METRIC = '"metric":"http_request_count"'
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
    parser.add_argument("--quick", action="store_true", help="smoke run: one pass of each")
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
            modes = {
                "RECORD messages": (work / "tap.json", None),
                "BATCH files": (work / "batch.json", batches),
            }
            (work / "tap.json").write_text(json.dumps(settings))
            (work / "batch.json").write_text(json.dumps(settings | {"batch_config": batch_config(batches)}))
            rows = []
            # Alternate the three, so none always runs on a cold server.
            for attempt in range(1 if args.quick else 2):
                taps = {mode: run_tap(config, files) for mode, (config, files) in modes.items()}
                walks = walks_of(taps["RECORD messages"][0].stderr)
                job = work / "plain.json"
                job.write_text(
                    json.dumps({"api_url": sandbox.clever_api_url, "token": sandbox.token, "walks": walks})
                )
                plain_cmd = [
                    sys.executable,
                    __file__,
                    "--plain",
                    str(job),
                    "--page-size",
                    str(args.page_size),
                ]
                plain = pipeline(
                    [("plain loop (requests + msgspec)", plain_cmd)], record_to=work / "plain.out"
                )
                if not plain.ok:
                    raise SystemExit(f"the plain loop failed:\n{plain.failure()}")
                objects = int((work / "plain.out").read_text())
                p = plain.procs[0]
                for mode, (t, records) in taps.items():
                    rows.append(
                        [
                            f"tap-clever, {mode}, pass {attempt + 1}",
                            round(t.seconds, 1),
                            f"{records:,} records",
                            round(records / t.seconds),
                            round(t.peak_mb),
                            f"{t.seconds / p.seconds:.2f}",
                        ]
                    )
                rows.append(
                    [
                        f"plain loop, pass {attempt + 1} ({len(walks)} collection walks)",
                        round(p.seconds, 1),
                        f"{objects:,} objects",
                        round(objects / p.seconds),
                        round(p.peak_mb),
                        "1.00",
                    ]
                )
    name = args.dir.name if args.dir else args.size
    table(
        f"tap-clever vs a plain fetch loop, {name} district, page size {args.page_size}",
        ("process", "wall s", "output", "per s", "peak RSS MB", "x plain loop"),
        rows,
    )


if __name__ == "__main__":
    main()
