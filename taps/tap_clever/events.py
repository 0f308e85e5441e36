"""Clever events turned into record changes for one stream.

Each event carries the object as it is now (or was, for ``*.deleted``) and, on ``*.updated``, the previous
values of the fields that changed. The stream's records are derived from the object before and after the
event: records present after are emitted (created or updated); records present only before are emitted
with ``_sdc_deleted_at``. That covers links too: a student dropped from a section's ``students`` list is a
deleted enrollment, a relationship dropped from a contact is a deleted student_contact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tap_clever.records import Record


def changes(
    event: dict[str, Any],
    derive: Callable[[dict[str, Any]], Iterable[Record]],
    key_properties: Sequence[str],
) -> Iterator[Record]:
    """The upserts, then the deletions, that one event makes to a stream.

    ``derive`` gives the records an object yields for this run; an upsert is sent only when it differs
    from what the object yielded before, a deletion only for a record it yielded before and no longer does.
    """
    action = str(event.get("type", "")).rpartition(".")[2]
    data = event.get("data") or {}
    current = data.get("object") or {}
    # Clever's spec puts previous_attributes inside data; some payloads put it beside data.
    previous = data.get("previous_attributes") or event.get("previous_attributes") or {}

    def keyed(records: Iterable[Record]) -> dict[tuple[Any, ...], Record]:
        return {tuple(record[key] for key in key_properties): record for record in records}

    if action == "created":
        was: dict[str, Any] = {}
    else:
        was = current if action == "deleted" else merge(current, previous)
    before = keyed(derive(was)) if was else {}
    now = {} if action == "deleted" else keyed(derive(current))
    for key, record in now.items():
        if before.get(key) != record:
            yield record
    for key, record in before.items():
        if key not in now:
            yield record | {"_sdc_deleted_at": event["created"]}


def merge(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The object as it was: the current object with the previous values laid over, nested dicts merged."""
    merged = dict(current)
    for key, value in previous.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
