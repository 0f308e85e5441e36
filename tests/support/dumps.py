"""Copies of a Clever dump directory, for tests that move a district forward night by night."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_dump(source: Path, into: Path) -> Path:
    """Copy the dump's JSON files into ``into`` (made if needed) and return it; the copies are writable."""
    into.mkdir(parents=True, exist_ok=True)
    for dump in source.glob("*.json"):
        shutil.copyfile(dump, into / dump.name)  # copyfile, not copy: the originals may be read-only
    return into
