"""Imports run downward only (pyproject's [tool.importlinter]): the admin CLI on top, then the import's
steps along the data flow, then the stream contract; nothing imports the CLI, the taps import no target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.project import REPO_ROOT


def test_every_import_keeps_to_the_layers() -> None:
    done = subprocess.run(
        [Path(sys.executable).with_name("lint-imports"), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
