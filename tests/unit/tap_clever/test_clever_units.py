"""The pure pieces: events into record changes, the request budget."""

from __future__ import annotations

from typing import Any

from tap_clever import events, records
from tap_clever.ratelimit import RateLimiter

SECTION = {
    "id": "sec1",
    "school": "sch1",
    "name": "Math - Lee - 1",
    "teacher": "t1",
    "teachers": ["t1", "t2"],
    "students": ["s1", "s2"],
    "last_modified": "2026-01-02T00:00:00.000Z",
}
KEYS = ["section_id", "user_id"]
CONTACT_KEYS = ["student_id", "contact_id"]


def _changes(event: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(section, user, deleted) for each change the event makes to enrollments."""
    return [
        (r["section_id"], r["user_id"], "_sdc_deleted_at" in r)
        for r in events.changes(event, records.enrollments, KEYS)
    ]


def test_updated_section_drops_the_removed_student() -> None:
    now = SECTION | {"students": ["s2", "s3"]}
    event = {
        "id": "e1",
        "type": "sections.updated",
        "created": "2026-01-03T00:00:00.000Z",
        "data": {"object": now, "previous_attributes": {"students": ["s1", "s2"]}},
    }
    # Only what changed: the new student in, the old one out; unchanged members are not re-sent.
    assert _changes(event) == [("sec1", "s3", False), ("sec1", "s1", True)]
    changes = events.changes(event, records.enrollments, KEYS)
    deleted = next(r for r in changes if "_sdc_deleted_at" in r)
    assert deleted["_sdc_deleted_at"] == "2026-01-03T00:00:00.000Z"


def test_previous_attributes_beside_data_are_read_too() -> None:
    event = {
        "id": "e1",
        "type": "sections.updated",
        "created": "2026-01-03T00:00:00.000Z",
        "data": {"object": SECTION | {"teachers": ["t1"]}},
        "previous_attributes": {"teachers": ["t1", "t2"]},
    }
    assert ("sec1", "t2", True) in _changes(event)


def test_deleted_section_deletes_every_enrollment() -> None:
    event = {
        "id": "e2",
        "type": "sections.deleted",
        "created": "2026-01-03T00:00:00Z",
        "data": {"object": SECTION},
    }
    assert _changes(event) == [("sec1", u, True) for u in ("t1", "t2", "s1", "s2")]


def test_nested_previous_attributes_rebuild_the_old_contact() -> None:
    contact = {
        "id": "c1",
        "last_modified": "2026-01-02T00:00:00Z",
        "roles": {
            "contact": {"student_relationships": [{"student": "s2", "relationship": "Parent", "type": ""}]}
        },
    }
    previous = {
        "roles": {"contact": {"student_relationships": [{"student": "s1", "relationship": "Parent"}]}}
    }
    event = {
        "id": "e3",
        "type": "users.updated",
        "created": "2026-01-03T00:00:00Z",
        "data": {"object": contact, "previous_attributes": previous},
    }
    changes = [
        (r["student_id"], "_sdc_deleted_at" in r)
        for r in events.changes(event, records.student_contacts, CONTACT_KEYS)
    ]
    assert changes == [("s2", False), ("s1", True)]


def test_rate_limiter_waits_once_the_window_is_full() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(3, 60.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == []
    clock[0] = 10.0
    limiter.acquire()  # the fourth request in the same minute waits for the first to leave the window
    assert slept == [50.0]
    assert clock[0] == 60.0
