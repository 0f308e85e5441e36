"""Mapping file texts the tests share."""

from __future__ import annotations

from pathlib import Path

# Safety limits wide open: the rule tests remove or change a big share of a tiny district on purpose (a held
# run is the subject of its own tests, which set a limit).
OPEN_LIMITS = """
safety_limits:
  removals:
    classes: {percent: 100}
    class_memberships: {percent: 100}
    people: {percent: 100}
  updates:
    classes: {percent: 100}
    class_memberships: {percent: 100}
    people: {percent: 100}
"""


def write_open_mapping(path: Path, extends: str = "clever") -> Path:
    """Write a mapping file at ``path`` extending a default (``clever``, ``oneroster``) with OPEN_LIMITS; its
    stem names the feed."""
    path.write_text(f"extends: {extends}\n" + OPEN_LIMITS)
    return path
