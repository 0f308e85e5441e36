"""tap-clever against a plain loop fetching the same Clever pages: the tap's own overhead.

    .venv/bin/python bench/tap_clever_speed.py                      # large district (≈100,000 students)
    .venv/bin/python bench/tap_clever_speed.py --dir DIR            # a generated district
    .venv/bin/python bench/tap_clever_speed.py --size tiny --quick  # smoke run (the tests use it)

The tap (a full sync, output counted and discarded) logs every request it makes (singer-sdk's
``http_request_count`` metric names the collection and its filter); the plain loop then walks exactly those
collections with the same page size, with one `requests` session, decoding each page with msgspec, which is
the least any client must do. Both run as their own process against the same sandbox.
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
from _measure import BIN, generate, machine, pipeline, table
from roster_sandbox.testing import run_sandbox

REQUEST_METRIC = '"metric":"http_request_count"'


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
        with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
            config = work / "tap.json"
            config.write_text(
                json.dumps(
                    {
                        "api_url": sandbox.clever_api_url,
                        "district_token": sandbox.token,
                        "page_size": args.page_size,
                    }
                )
            )
            rows = []
            for attempt in range(
                1 if args.quick else 2
            ):  # alternate, so neither always runs on a cold server
                tap = pipeline([("tap-clever", [str(BIN / "tap-clever"), "--config", str(config)])])
                if not tap.ok:
                    raise SystemExit(f"tap-clever failed:\n{tap.failure()}")
                walks = walks_of(tap.procs[0].stderr)
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
                t, p = tap.procs[0], plain.procs[0]
                rows.append(
                    [
                        f"tap-clever, pass {attempt + 1}",
                        round(t.seconds, 1),
                        f"{tap.records:,} records",
                        round(tap.records / t.seconds),
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
