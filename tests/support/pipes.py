"""Helpers of the pull tests: a tap piped into target-bloomz as Meltano runs them, and what the admins see."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from roster_sandbox.testing import Sandbox

from bloomz_sync.cli import main
from tests.support.nightly import BIN, normalised


@dataclass
class Piped:
    """One tap | target-bloomz run."""

    tap_returncode: int
    returncode: int
    states: list[dict[str, Any]]
    stderr: str
    tap_stderr: str


def sandbox_cli(*args: str) -> None:
    """``roster-sandbox ARGS`` (generate, export-csv, ...); it must succeed."""
    done = subprocess.run([str(BIN / "roster-sandbox"), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def clever_config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    return {"api_url": sandbox.clever_api_url, "district_token": sandbox.token, **extra}


def oneroster_config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    """tap-oneroster on the sandbox's OneRoster 1.1 API, giving up fast (two tries, short waits)."""
    return {
        "base_url": sandbox.url,
        "token_url": sandbox.oneroster_token_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "max_tries": 2,
        "backoff_factor": 0.01,
        **extra,
    }


def pipe(
    tap: str,
    tap_config: dict[str, Any],
    target_config: dict[str, Any],
    folder: Path,
    *,
    state: dict[str, Any] | None = None,
    kill_when: Callable[[], bool] | None = None,
) -> Piped:
    """Run ``tap | target-bloomz`` (the tap's stdout straight into the target, as Meltano does); with
    ``kill_when``, SIGKILL the tap as soon as it returns true."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("tap-config-*")))
    (folder / f"tap-config-{n}.json").write_text(json.dumps(tap_config))
    (folder / f"target-config-{n}.json").write_text(json.dumps(target_config))
    command = [str(BIN / tap), "--config", str(folder / f"tap-config-{n}.json")]
    if state is not None:
        (folder / f"state-{n}.json").write_text(json.dumps(state))
        command += ["--state", str(folder / f"state-{n}.json")]
    with (folder / f"tap-{n}.log").open("w+") as tap_log:
        tap_process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=tap_log, cwd=folder)
        target = subprocess.Popen(
            [str(BIN / "target-bloomz"), "--config", str(folder / f"target-config-{n}.json")],
            stdin=tap_process.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=folder,
        )
        assert tap_process.stdout is not None
        tap_process.stdout.close()  # the target holds the pipe: it sees the end when the tap dies
        if kill_when is not None:
            deadline = time.monotonic() + 120
            while not kill_when():
                assert tap_process.poll() is None, "the tap ended before the test could kill it"
                assert time.monotonic() < deadline, "the tap never reached the point to kill it at"
                time.sleep(0.05)
            tap_process.kill()
        out, err = target.communicate(timeout=300)
        tap_returncode = tap_process.wait(timeout=60)
        tap_log.seek(0)
        tap_stderr = tap_log.read()
    states = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return Piped(tap_returncode, target.returncode, states, err.decode(), tap_stderr)


def exported(database: Path) -> dict[str, Any]:
    """``bloomz-sync export`` of a store (in process), its surrogate ids named by source identity."""
    result = CliRunner().invoke(main, ["--database", str(database), "export"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return normalised(json.loads(result.output))


def status_emails(outbox: Path) -> list[tuple[str, str]]:
    """(subject, text) of each Bulk Import Status e-mail written to the outbox folder (no SMTP server)."""
    mails = []
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if "Bulk Import Status" in str(message["Subject"]):
            body = message.get_body(preferencelist=("plain",))
            mails.append((str(message["Subject"]), body.get_content() if body else ""))
    return mails


def fired(sandbox: Sandbox) -> int:
    """How often the sandbox's faults fired so far."""
    return sum(rule.get("fired", 0) for rule in sandbox.faults().get("rules", []))
