"""The Meltano project as committed, copied for a test, and the way tests run `meltano` in it.

Tests copy the committed project (``git archive HEAD``), never the working copy's files: a developer's
`meltano config set` (which rewrites meltano.yml and writes secrets to .env) changes nothing a test runs.
In the copy the plugins run from the test environment, that is this checkout's code, with their
``pip_url`` taken out so Meltano does not install them again per test;
tests/e2e/project/test_readme_walkthrough.py covers `meltano install` from pip_url itself.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# How meltano.yml installs this project's plugins (`meltano install`): from the project folder itself.
PIP_URL_LINE = "    pip_url: -e ${MELTANO_PROJECT_ROOT}\n"
MELTANO_FILES = ("meltano.yml", "districts")


def committed_files(dest: Path, *paths: str) -> Path:
    """Extract ``paths`` (default: every file) as committed at HEAD into ``dest``; returns ``dest``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD", *paths], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def pristine_project(dest: Path) -> Path:
    """HEAD's meltano.yml and districts/ in ``dest``, the plugins running from the test environment."""
    committed_files(dest, *MELTANO_FILES)
    meltano_yml = dest / "meltano.yml"
    text = meltano_yml.read_text()
    assert PIP_URL_LINE in text, (
        "meltano.yml no longer installs the plugins from the project: update PIP_URL_LINE"
    )
    meltano_yml.write_text(text.replace(PIP_URL_LINE, ""))
    return dest


def meltano_env(**variables: str) -> dict[str, str]:
    """The environment tests run meltano with: this checkout's executables first on PATH."""
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        **variables,
    )


def meltano(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``meltano ARGS`` in ``project``; the caller checks the exit code and output."""
    return subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project,
        env=env or meltano_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
