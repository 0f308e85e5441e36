"""Clever dump directories for tests: copies of one, and districts roster-sandbox generates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def copy_dump(source: Path, into: Path) -> Path:
    """Copy the dump's JSON files into ``into`` (made if needed) and return it; the copies are writable."""
    into.mkdir(parents=True, exist_ok=True)
    for dump in source.glob("*.json"):
        shutil.copyfile(dump, into / dump.name)  # copyfile, not copy: the originals may be read-only
    return into


def generate(folder: Path, size: str = "tiny", seed: int = 1) -> Path:
    """A district ``roster-sandbox generate`` makes in ``folder`` (tiny: about 50 students in 2 schools)."""
    sandbox = Path(sys.executable).parent / "roster-sandbox"
    command = [str(sandbox), "generate", size, "--seed", str(seed), "--out", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return folder
