"""Clever-like ids and timestamps: 24 hex digits that start with the creation time, so newer sorts later."""

from __future__ import annotations

from datetime import UTC, datetime

KINDS = {
    "district": 1,
    "school": 2,
    "term": 3,
    "course": 4,
    "section": 5,
    "user": 6,
    "contact": 7,
    "event": 14,
}


def timestamp(seconds: int) -> str:
    """Clever's timestamp format, e.g. 2025-07-31T22:13:20.000Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def seconds_of(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


class IdMaker:
    """Ids for records created at one moment: time, kind, then a counter, all ascending."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.counter = 0

    def next(self, kind: str) -> str:
        self.counter += 1
        return f"{self.seconds:08x}{KINDS[kind]:02x}{self.counter:014x}"
