"""Mapping file texts the tests share."""

from __future__ import annotations

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
