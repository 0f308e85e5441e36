"""The standard roster streams: one JSON Schema per stream, shared by every tap and by target-bloomz.

The schemas live in ``schemas/roster/`` (shipped inside this package as ``roster_streams.schemas``).
Each carries its Singer key properties in the ``x-key-properties`` keyword.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

STREAMS: tuple[str, ...] = (
    "schools",
    "terms",
    "sections",
    "students",
    "staff",
    "contacts",
    "student_contacts",
    "enrollments",
)
# The contract stream framing each pull: where it came from, whether it finished (roster_streams/pull.py).
# Not a roster stream: no records of it reach the store.
PULL = "pull"


@cache
def _raw_schema(stream: str) -> dict[str, Any]:
    if stream not in STREAMS and stream != PULL:
        raise KeyError(f"unknown roster stream {stream!r}; the standard streams are {', '.join(STREAMS)}")
    text = (resources.files("roster_streams.schemas") / "roster" / f"{stream}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_schema(stream: str) -> dict[str, Any]:
    """Return a copy of the JSON Schema of a standard stream (callers may change their copy)."""
    return copy.deepcopy(_raw_schema(stream))


def key_properties(stream: str) -> list[str]:
    """Return the Singer key properties of a standard stream."""
    return list(_raw_schema(stream)["x-key-properties"])


def validator(stream: str) -> Draft202012Validator:
    """A validator for one stream's records (for tests and tools, not for the target's hot path)."""
    return Draft202012Validator(_raw_schema(stream), format_checker=Draft202012Validator.FORMAT_CHECKER)
