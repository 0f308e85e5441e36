"""The real target-bloomz executable as the re-sync tests run it: a config file, a whole run, or a run that
waits inside its apply transaction (apply's test hook TARGET_BLOOMZ_TEST_PAUSE_IN_APPLY) until the test
kills it, stops it, or resumes it with SIGUSR1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from target_bloomz.apply.transaction import PAUSE_ENV

from tests.support.district import TARGET


def config_file(tmp_path: Path, database: Path, mapping: Path, **options: object) -> Path:
    """A target config file for the store and mapping (and import options)."""
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.json"
    path.write_text(json.dumps({"database": str(database), "mapping": str(mapping), **options}))
    return path


def run(config: Path, messages: str, **env: str) -> subprocess.CompletedProcess:
    """A whole run of target-bloomz on ``messages``."""
    return subprocess.run(
        [TARGET, "--config", str(config)],
        input=messages,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


def start(config: Path, messages: str, **env: str) -> subprocess.Popen:
    """target-bloomz started on ``messages`` (its input closed), not waited for."""
    process = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stdin
    process.stdin.write(messages)
    process.stdin.close()
    return process


def paused(config: Path, messages: str, **env: str) -> subprocess.Popen:
    """target-bloomz inside its apply transaction, waiting (up to 10 minutes, or until SIGUSR1)."""
    process = start(config, messages, **{PAUSE_ENV: "600", **env})
    wait_until_paused(process)
    return process


def wait_until_paused(process: subprocess.Popen) -> None:
    assert process.stderr
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "apply: paused before COMMIT" in line:
            return
    process.wait()
    raise AssertionError("the target ended before pausing in apply:\n" + "".join(seen[-30:]))


def finish(process: subprocess.Popen) -> str:
    """Wait for a started target; the rest of its stderr."""
    assert process.stderr
    stderr = process.stderr.read()
    process.wait(timeout=180)
    return stderr
