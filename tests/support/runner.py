"""Run the real executables in this process, with their exit code and output, for hundreds of cases.

Each executable's own click command runs as its console script would (``main`` in standalone mode, standard
input as bytes), with pytest's ``capfd`` capturing what it writes. An exception that escapes the command is
what the console script would print as a traceback: it is kept as ``escaped`` and counts as one. What a run
changes in this process (singer-sdk's log handlers and signal handlers, tap-clever's switched-off garbage
collector) is put back afterwards.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import duckdb
import pytest

from bloomz_sync.cli import main as bloomz_sync_cli


@dataclass
class Run:
    """What one run of an executable did."""

    exit_code: int | None
    stdout: str
    stderr: str
    escaped: str | None = None  # the traceback of an exception that left the command
    data_on_stdout: bool = False  # a tap's standard output is the roster itself

    @property
    def output(self) -> str:
        return self.stdout + self.stderr + (self.escaped or "")

    @property
    def printed(self) -> str:
        """What a person reads: the log and messages, and standard output unless it carries the data."""
        return ("" if self.data_on_stdout else self.stdout) + self.stderr + (self.escaped or "")

    def messages(self) -> list[dict[str, Any]]:
        """The Singer messages on standard output."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


def run(
    command: Callable[[], click.Command],
    args: list[str],
    capfd: pytest.CaptureFixture[str],
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``command()`` (evaluated here, so singer-sdk's log handler writes to the captured stderr)."""
    capfd.readouterr()
    handlers = list(logging.getLogger().handlers)
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        exit_code: int | None = 0
        escaped = None
        try:
            command().main(args=args, prog_name="executable", standalone_mode=True)
        except SystemExit as done:
            exit_code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except Exception:
            exit_code, escaped = None, traceback.format_exc()
        finally:
            sys.stdin = saved_stdin
            for handler in logging.getLogger().handlers:
                if handler not in handlers:
                    logging.getLogger().removeHandler(handler)
            for sig, previous in signals.items():
                signal.signal(sig, previous)
            gc.enable()
    out, err = capfd.readouterr()
    return Run(exit_code, out, err, escaped)


def target(
    config: dict[str, Any], messages: str | bytes, capfd: Any, folder: Path, env: dict[str, str] | None = None
) -> Run:
    """target-bloomz with ``config`` reading ``messages`` on its standard input."""
    from target_bloomz.target import TargetBloomz

    config_file = folder / f"target-{len(list(folder.glob('target-*.json')))}.json"
    config_file.write_text(json.dumps(config))
    data = messages.encode() if isinstance(messages, str) else messages
    return run(lambda: TargetBloomz.cli, ["--config", str(config_file)], capfd, stdin=data, env=env)


def tap(plugin: str, config: dict[str, Any], capfd: Any, folder: Path) -> Run:
    """tap-clever or tap-oneroster with ``config``."""
    from tap_clever.tap import TapClever
    from tap_oneroster.tap import TapOneRoster

    command: Any = {"tap-clever": TapClever, "tap-oneroster": TapOneRoster}[plugin]
    config_file = folder / f"{plugin}-{len(list(folder.glob(f'{plugin}-*.json')))}.json"
    config_file.write_text(json.dumps(config))
    done = run(lambda: command.cli, ["--config", str(config_file)], capfd)
    done.data_on_stdout = True
    return done


def bloomz_sync(args: list[str], capfd: Any, env: dict[str, str] | None = None) -> Run:
    """The bloomz-sync admin CLI."""
    return run(lambda: bloomz_sync_cli, args, capfd, env=env)


def store_state(database: Path) -> dict[str, Any]:
    """Everything a user sees in a store: every table's rows, in order (the export and the runs)."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = [
            name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables}


def last_run_status(database: Path) -> str | None:
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


def pipeline(
    tap: str,
    tap_config: dict[str, Any],
    target_config: dict[str, Any],
    folder: Path,
    env: dict[str, str] | None = None,
) -> str:
    """``tap | target-bloomz`` as separate processes, as Meltano runs them; both must succeed. Their logs."""
    bin_dir = Path(sys.executable).parent
    (folder / "tap.json").write_text(json.dumps(tap_config))
    (folder / "target.json").write_text(json.dumps(target_config))
    tapped = subprocess.run(
        [bin_dir / tap, "--config", folder / "tap.json"], capture_output=True, text=True, env=env, check=False
    )
    assert tapped.returncode == 0, tapped.stderr[-3000:]
    loaded = subprocess.run(
        [bin_dir / "target-bloomz", "--config", folder / "target.json"],
        input=tapped.stdout,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    return tapped.stderr + loaded.stderr
