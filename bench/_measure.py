"""What every bench script shares: run processes (alone or piped), time them, read each one's peak memory.

Peak memory is each process's own max RSS from ``os.wait4``; for ``meltano run`` (a process tree) it is the
largest process of the tree (``RUSAGE_CHILDREN`` of a wrapper that waits for it). Figures depend on what
else the machine runs: ``machine()`` says what it was, and each table should say how busy it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# The scripts run as `python bench/<script>.py`: the project root on the path gives them tests.support
# (the committed Meltano project, with its plugins run from this environment).
sys.path.insert(1, str(REPO_ROOT))
RECORD_MARK = b'"type":"RECORD"'  # both json and msgspec writers emit it without spaces
PULL_MARK = b'"type":"RECORD","stream":"pull"'  # the pull's own started/finished records: not roster records
CHUNK = 1 << 20


@dataclass
class Proc:
    """One finished process: how long it ran, its own peak RSS, its exit code, its stderr, and the CPU time
    it used (user + system: on a busy machine it moves far less than the wall time)."""

    label: str
    seconds: float
    peak_mb: float
    exit_code: int
    stderr: str = ""
    cpu: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class Run:
    """A measured run: wall time of the whole, records that passed, and each process."""

    seconds: float
    records: int
    procs: list[Proc] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.procs)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def failure(self) -> str:
        """Which process failed and the end of what it said, for a clear bench error."""
        bad = [p for p in self.procs if not p.ok]
        return "\n".join(f"{p.label} exited {p.exit_code}:\n{p.stderr[-3000:]}" for p in bad)


def pull_message(event: str, **fields: object) -> str:
    """A record of the pull stream that frames every pull (roster_streams/pull.py), as a tap writes it."""
    record = {"pull_id": "bench", "event": event, "at": "2026-11-23T02:00:00Z", **fields}
    return json.dumps({"type": "RECORD", "stream": "pull", "record": record}) + "\n"


def machine() -> str:
    """nproc, memory and CPU model, for the README's figures."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {memory_kb / 1024**2:.1f} GiB RAM, {model}; load average {load}"


class _Waiter(threading.Thread):
    """Waits for one child with os.wait4, so its rusage (peak RSS) is its own."""

    def __init__(self, label: str, popen: subprocess.Popen[bytes], started: float, stderr: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.label, self.popen, self.started, self.stderr_file = label, popen, started, stderr
        self.result: Proc | None = None

    def run(self) -> None:
        _, status, usage = os.wait4(self.popen.pid, 0)
        seconds = time.perf_counter() - self.started
        self.popen.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
        self.stderr_file.seek(0)
        stderr = self.stderr_file.read().decode(errors="replace")
        self.stderr_file.close()
        cpu = usage.ru_utime + usage.ru_stime
        self.result = Proc(self.label, seconds, usage.ru_maxrss / 1024, self.popen.returncode, stderr, cpu)


def _spawn(
    label: str, args: Sequence[str], started: float, env: dict[str, str] | None, **kw: object
) -> _Waiter:
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (the waiter thread reads and closes it)
    popen = subprocess.Popen(list(args), stderr=errors, env=env, **kw)  # type: ignore[call-overload]
    waiter = _Waiter(label, popen, started, errors)
    waiter.start()
    return waiter


def pipeline(
    steps: Sequence[tuple[str, Sequence[str]]],
    *,
    stdin: Path | None = None,
    record_to: Path | None = None,
    out: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run one step, or two piped (``tap | target``); count the Singer RECORD lines the first step writes.

    The first step's output passes through this process in 1 MB chunks (counted, and copied to
    ``record_to`` when given) on its way to the next step; the last step's output goes to ``out`` (or
    nowhere).
    """
    started = time.perf_counter()
    source = stdin.open("rb") if stdin else subprocess.DEVNULL
    waiters: list[_Waiter] = []
    first_label, first_args = steps[0]
    first = _spawn(first_label, first_args, started, env, stdin=source, stdout=subprocess.PIPE, cwd=cwd)
    waiters.append(first)
    rest = None
    if len(steps) > 1:
        label, args = steps[1]
        sink = out.open("wb") if out else subprocess.DEVNULL
        rest = _spawn(label, args, started, env, stdin=subprocess.PIPE, stdout=sink, cwd=cwd)
        waiters.append(rest)
        if out:
            sink.close()  # type: ignore[union-attr]
    records = _relay(first.popen.stdout, rest.popen.stdin if rest else None, record_to)
    for waiter in waiters:
        waiter.join()
    if stdin:
        source.close()  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    return Run(seconds, records, [w.result for w in waiters if w.result])


def _records(data: bytes) -> int:
    """Roster RECORD messages in ``data``."""
    return data.count(RECORD_MARK) - data.count(PULL_MARK)


def _relay(out: IO[bytes] | None, into: IO[bytes] | None, record_to: Path | None) -> int:
    assert out is not None
    copy = record_to.open("wb") if record_to else None
    records = 0
    tail = b""
    try:
        while chunk := out.read1(CHUNK):  # type: ignore[attr-defined]
            # A mark may straddle two chunks: count on the joined edge too.
            joined = tail + chunk
            records += _records(joined) - _records(tail)
            tail = joined[-len(PULL_MARK) + 1 :]
            if copy:
                copy.write(chunk)
            if into:
                try:
                    into.write(chunk)
                except BrokenPipeError:
                    into = None  # the consumer died: its exit code and stderr tell why
    finally:
        if copy:
            copy.close()
        if into:
            with contextlib.suppress(BrokenPipeError):
                into.close()
    return records


def process_tree(label: str, args: Sequence[str], *, env: dict[str, str] | None, cwd: Path) -> Proc:
    """Run a command that starts children (``meltano run``); peak RSS is the tree's largest process.

    A small Python wrapper runs it and reports its RUSAGE_CHILDREN max RSS (the largest waited-for
    descendant, since each parent waits for its own children).
    """
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.call(sys.argv[1:])\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
        "print(usage.ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    cpu = float(lines[-2]) if len(lines) > 1 and lines[-2].replace(".", "", 1).isdigit() else 0.0
    return Proc(label, seconds, peak_kb / 1024, done.returncode, done.stderr[-20000:], cpu)


def generate(size: str, out: Path) -> Proc:
    """``roster-sandbox generate SIZE --seed 1`` into ``out``, measured."""
    run = pipeline(
        [
            (
                f"generate {size}",
                [str(BIN / "roster-sandbox"), "generate", size, "--seed", "1", "--out", str(out)],
            )
        ]
    )
    if not run.ok:
        sys.exit(run.failure())
    return run.procs[0]


def record_stream(district: Path, stream: Path, page_size: int = 10000) -> Path:
    """tap-clever's full sync of a district (served by a sandbox of its own) as RECORD messages, into
    ``stream``."""
    from roster_sandbox.testing import run_sandbox  # imported here: not every script serves a district

    with run_sandbox(district, rate_limit=0, startup_timeout=900) as sandbox:
        return record_from(sandbox.clever_api_url, sandbox.token, stream, page_size)


def record_from(
    api_url: str, token: str, stream: Path, page_size: int = 10000, *, incremental: bool = False
) -> Path:
    """tap-clever's full sync from a running sandbox, as RECORD messages, into ``stream`` (``incremental``:
    it also bookmarks the events, for the nights after)."""
    config = stream.with_suffix(".tap.json")
    settings = {
        "api_url": api_url,
        "district_token": token,
        "page_size": page_size,
        "incremental": incremental,
    }
    config.write_text(json.dumps(settings))
    run = pipeline([("tap-clever", [str(BIN / "tap-clever"), "--config", str(config)])], record_to=stream)
    config.unlink()
    if not run.ok:
        raise SystemExit(f"recording the stream failed:\n{run.failure()}")
    return stream


def peer_venv(name: str, requirements: Sequence[str]) -> Path:
    """``bench/.venv-<name>`` with ``requirements`` from PyPI, created on first use; returns its bin folder.

    Peers get their own virtualenv (git-ignored), never the project's .venv: they pin other libraries.
    """
    venv = HERE / f".venv-{name}"
    marker = venv / "requirements.txt"
    if not marker.exists() or marker.read_text() != "\n".join(requirements):
        print(f"installing {' '.join(requirements)} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", *requirements]
        subprocess.run(pip, check=True)
        marker.write_text("\n".join(requirements))
    return venv / "bin"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rotations(labels: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of each round: round r starts at the r-th label (A B C, B C A, C A B, ...), so each one
    runs in every position and none always runs first, on a cold cache, or right after the heaviest."""
    return [[labels[(r + i) % len(labels)] for i in range(len(labels))] for r in range(rounds)]


def working_district(work: Path, source: Path | None, size: str) -> tuple[Path, Proc | None]:
    """``work/district``: a copy of ``source`` (nights change it with `advance`: never the caller's copy),
    else ``generate SIZE``, measured."""
    district = work / "district"
    if source:
        shutil.copytree(source, district)
        return district, None
    return district, generate(size, district)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes straight into bench/README.md), printed and returned."""
    cells = [[_cell(v) for v in row] for row in rows]
    lines = [f"\n### {title}\n", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def proc_rows(run: Run, what: str) -> list[list[object]]:
    """One table row per process of a run: what, process, wall s, records, records/s, peak MB, exit."""
    return [
        [
            what,
            p.label,
            round(p.seconds, 1),
            run.records,
            round(run.records / p.seconds) if p.seconds else 0,
            round(p.peak_mb),
            p.exit_code,
            f"{p.cpu:.1f}",
        ]
        for p in run.procs
    ]


PROC_HEADERS = ("run", "process", "wall s", "records", "records/s", "peak RSS MB", "exit", "cpu s")
