"""How fast the sandbox generates and serves a district; prints figures for bench/README.md.

    .venv/bin/python bench/sandbox_speed.py                 # large district (≈100,000 students)
    .venv/bin/python bench/sandbox_speed.py --size huge     # also measures the 500,000-student generation

Generation runs as a subprocess so its peak memory (max RSS) is its own. Serving is measured with one client
on one connection that reads every page's bytes without decoding them, so the figure is the server's pace;
a second pass decodes the JSON as a tap would.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import requests
from roster_sandbox.testing import Sandbox, run_sandbox


def generate(size: str, out: Path) -> None:
    started = time.perf_counter()
    args = [sys.executable, "-m", "roster_sandbox", "generate", size, "--seed", "1", "--out", str(out)]
    summary = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size_mb = sum(f.stat().st_size for f in out.glob("*.json")) / 1e6
    # The generator is this script's first child, so the children's max RSS is its peak.
    print(f"generate {size}: {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MB, {size_mb:.0f} MB on disk")
    print(f"  {summary}")


def clever_walk(
    session: requests.Session, sandbox: Sandbox, uri: str, decode: bool
) -> tuple[int, int, float]:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    pages = records = 0
    started = time.perf_counter()
    next_uri: str | None = uri
    while next_uri:
        response = session.get(sandbox.clever_api_url + next_uri, headers=headers, timeout=120)
        response.raise_for_status()
        body = response.json() if decode else None
        if body is None:
            # Without decoding, count records and find the next link from the raw bytes.
            raw = response.content
            records += raw.count(b'},"uri":"/v3.0/')
            marker = raw.rfind(b'"rel":"next","uri":"')
            next_uri = raw[marker + 20 : raw.index(b'"', marker + 20)].decode() if marker >= 0 else None
        else:
            records += len(body["data"])
            next_uri = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    return pages, records, time.perf_counter() - started


def oneroster_headers(session: requests.Session, sandbox: Sandbox) -> dict[str, str]:
    token = session.post(
        sandbox.oneroster_token_url,
        auth=(sandbox.client_id, sandbox.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def oneroster_walk(
    session: requests.Session, sandbox: Sandbox, collection: str, limit: int, headers: dict[str, str]
) -> tuple[int, int, float]:
    """Offset paging to a short page; msgspec decodes each page just to count it."""
    url = f"{sandbox.oneroster_base_url('1.2')}/{collection}"
    pages = records = 0
    started = time.perf_counter()
    while True:
        response = session.get(url, headers=headers, params={"limit": limit, "offset": records}, timeout=300)
        response.raise_for_status()
        got = len(msgspec.json.decode(response.content)[collection])
        pages += 1
        records += got
        if got < limit:
            return pages, records, time.perf_counter() - started


def report(label: str, pages: int, records: int, seconds: float) -> None:
    rates = f"{pages / seconds:.1f} pages/s, {records / seconds:,.0f} records/s"
    print(f"{label}: {pages} pages, {records} records in {seconds:.2f} s = {rates}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large", choices=["tiny", "small", "large", "huge"])
    parser.add_argument("--dir", type=Path, help="reuse a generated district instead of generating one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        directory = args.dir or Path(tmp) / args.size
        if args.dir is None:
            generate(args.size, directory)
        started = time.perf_counter()
        with run_sandbox(directory, rate_limit=0, startup_timeout=600) as sandbox:
            print(f"serve: up in {time.perf_counter() - started:.1f} s")
            session = requests.Session()
            report(
                "clever users, limit 10000, bytes only",
                *clever_walk(session, sandbox, "/v3.0/users?limit=10000", False),
            )
            report(
                "clever users, limit 10000, json decoded",
                *clever_walk(session, sandbox, "/v3.0/users?limit=10000", True),
            )
            report(
                "clever sections, limit 10000, bytes only",
                *clever_walk(session, sandbox, "/v3.0/sections?limit=10000", False),
            )
            report(
                "clever students, limit 1000, bytes only",
                *clever_walk(session, sandbox, "/v3.0/users?role=student&limit=1000", False),
            )
            headers = oneroster_headers(session, sandbox)
            for collection in ("users", "enrollments"):
                first = time.perf_counter()
                url = f"{sandbox.oneroster_base_url('1.2')}/{collection}?limit=1"
                session.get(url, headers=headers, timeout=600).raise_for_status()
                took = time.perf_counter() - first
                print(f"oneroster 1.2 {collection}: first request (translation) {took:.1f} s")
                walk = oneroster_walk(session, sandbox, collection, 1000, headers)
                report(f"oneroster 1.2 {collection}, limit 1000", *walk)


if __name__ == "__main__":
    main()
