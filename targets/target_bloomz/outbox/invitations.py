"""Invitations: who the applied plan newly added to a community or class, invited once per community.

Runs inside the apply transaction, after the plan is written, so the invitations commit with the run or
not at all. Who: people the plan added to a community or a class, not yet registered in Bloomz, whose
kind's switch is on (teachers = every staff role, parents, students), with an e-mail or a phone. A
registered person is added to the new classes with no invitation. Each invitation is keyed
``invitation:<community>:<person>:<channel>`` (outbox.invitation_key): queued once ever, whatever the
runs, retries or crashes. The message comes from the "Invite from" admin and lists the school and the
person's classes there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from target_bloomz.outbox import OutboxMessage, enqueue_many, invitation_messages
from target_bloomz.report.render import Invitation, render_invitation

DEFAULT_SIGNUP_URL = "https://bloomz.net/join"
NO_INVITER = "Your school"  # when "Invite from" is not set or names no one

# Members (the ``members`` CTE) of the kinds in ``$kinds`` who can be reached, with what an invitation lists.
_INVITEES = """
WITH members AS ({members})
SELECT co.key AS community_key, co.name AS school, p.id AS person_id, p.kind,
    coalesce(p.preferred_first_name, p.first_name) AS first_name, p.email, p.phone, p.registered,
    (SELECT coalesce(list(cl.name ORDER BY cl.name), []) FROM class_members m
     JOIN classes cl ON cl.id = m.class_id
     WHERE m.person_id = p.id AND cl.community_id = co.id AND cl.status = 'active') AS classes,
    (SELECT coalesce(list(coalesce(s.preferred_first_name, s.first_name) ORDER BY s.id), [])
     FROM student_contacts sc JOIN people s ON s.id = sc.student_id
     JOIN community_members sm ON sm.person_id = s.id AND sm.community_id = co.id
     WHERE sc.contact_id = p.id) AS students
FROM members a
JOIN people p ON p.id = a.person_id
JOIN communities co ON co.id = a.community_id
WHERE p.kind IN (SELECT unnest($kinds::VARCHAR[]))
  AND (p.email IS NOT NULL OR p.phone IS NOT NULL)
  AND {condition}
ORDER BY co.key, p.id
"""
# Newly added by the run's plan (p_* tables of plan/planner.py), never invited to that community.
_ADDED = _INVITEES.format(
    members="""SELECT community_id, person_id FROM p_community_members WHERE action = 'create'
    UNION
    SELECT cl.community_id, m.person_id FROM p_class_members m JOIN classes cl ON cl.id = m.class_id
    WHERE m.action = 'create'""",
    condition="""NOT EXISTS (SELECT 1 FROM outbox o
                  WHERE starts_with(o.dedupe_key, 'invitation:' || co.key || ':' || p.id || ':'))""",
)
# Every member of one community not yet registered (reinvite).
_NOT_REGISTERED = _INVITEES.format(
    members="""SELECT m.community_id, m.person_id FROM community_members m
    JOIN communities c ON c.id = m.community_id WHERE c.key = $community""",
    condition="NOT p.registered",
)

_INVITER = """
SELECT trim(coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '')) FROM people p
WHERE p.kind = 'staff' AND (p.email = lower(trim($who))
    OR p.id IN (SELECT person_id FROM person_sources WHERE source_id = $who))
ORDER BY p.id LIMIT 1
"""


@dataclass(frozen=True)
class InvitationCounts:
    """What one run queued: messages by channel, and registered people added without invitation."""

    email: int = 0
    sms: int = 0
    registered: int = 0


def invited_kinds(*, teachers: bool, parents: bool, students: bool) -> list[str]:
    """The people kinds whose invitation switch is on."""
    return [kind for kind, on in (("staff", teachers), ("parent", parents), ("student", students)) if on]


def inviter_name(con: duckdb.DuckDBPyConnection, invite_from: str | None) -> str | None:
    """The name of the "Invite from" admin (a staff member's e-mail or source id), None if not found."""
    if not invite_from:
        return None
    row = con.execute(_INVITER, {"who": invite_from}).fetchone()
    return row[0] if row and row[0] else None


def queue_invitations(
    con: duckdb.DuckDBPyConnection, run_id: int, options: Any, *, signup_url: str = DEFAULT_SIGNUP_URL
) -> InvitationCounts:
    """Queue the invitations of the run whose plan was just written (``options``: ImportOptions)."""
    kinds = invited_kinds(
        teachers=options.invite_teachers, parents=options.invite_parents, students=options.invite_students
    )
    if not kinds:
        return InvitationCounts()
    inviter = inviter_name(con, options.invite_from)
    if options.invite_from and inviter is None:
        con.execute(
            "INSERT INTO run_issues (run_id, severity, stream, record_key, message) "
            "VALUES (?, 'warning', 'options', 'invite_from', ?)",
            [
                run_id,
                f'"Invite from" names no staff member in the store: invitations come from "{NO_INVITER}"',
            ],
        )
    return _queue(con, _added(con, kinds), inviter or NO_INVITER, signup_url, run_id=run_id)


def queue_reinvitations(
    con: duckdb.DuckDBPyConnection,
    community_key: str,
    kinds: list[str],
    *,
    invite_from: str | None,
    signup_url: str = DEFAULT_SIGNUP_URL,
    today: date | None = None,
) -> InvitationCounts:
    """Queue invitations for every member of ``kinds`` not yet registered in one community (reinvite).

    Someone never invited gets the regular invitation key (a later sync will not invite them again);
    someone invited on an earlier day gets a reinvitation keyed by today, so repeating the command the
    same day (a retry) sends nothing twice.
    """
    day = today or datetime.now(UTC).date()
    # dedupe key -> the day it was queued, for invitations
    queued = dict(
        con.execute(
            "SELECT dedupe_key, CAST(created_at AS DATE) FROM outbox WHERE kind = 'invitation'"
        ).fetchall()
    )

    def key(message: OutboxMessage) -> OutboxMessage:
        first = queued.get(message.dedupe_key)
        if first is None or first == day:  # never invited, or already today: the key dedupes it
            return message
        return replace(message, dedupe_key=f"re{message.dedupe_key}:{day.isoformat()}")

    people = _people(con, _NOT_REGISTERED, {"kinds": kinds, "community": community_key})
    inviter = inviter_name(con, invite_from) or NO_INVITER
    return _queue(con, people, inviter, signup_url, run_id=None, key=key)


def _added(con: duckdb.DuckDBPyConnection, kinds: list[str]) -> list[dict[str, Any]]:
    return _people(con, _ADDED, {"kinds": kinds})


def _people(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _queue(
    con: duckdb.DuckDBPyConnection,
    people: list[dict[str, Any]],
    inviter: str,
    signup_url: str,
    *,
    run_id: int | None,
    key: Callable[[OutboxMessage], OutboxMessage] | None = None,
) -> InvitationCounts:
    messages: list[OutboxMessage] = []
    registered = 0
    for person in people:
        if person["registered"]:
            registered += 1  # added to the classes already; a registered person is never invited
            continue
        invitation = Invitation(
            recipient_name=person["first_name"] or "there",
            role=person["kind"],
            school=person["school"],
            invite_from=inviter,
            classes=person["classes"],
            link=signup_url,
            students=person["students"],
        )
        for message in invitation_messages(
            render_invitation(invitation),
            community_key=person["community_key"],
            person_id=person["person_id"],
            email=person["email"],
            phone=person["phone"],
            run_id=run_id,
        ):
            messages.append(message if key is None else key(message))
    # Only what is new counts (a reinvite repeated the same day queues nothing).
    existing = {
        row[0]
        for row in con.execute(
            "SELECT dedupe_key FROM outbox WHERE dedupe_key IN (SELECT unnest($keys::VARCHAR[]))",
            {"keys": [m.dedupe_key for m in messages]},
        ).fetchall()
    }
    messages = [m for m in messages if m.dedupe_key not in existing]
    enqueue_many(con, messages)
    return InvitationCounts(
        email=sum(m.channel == "email" for m in messages),
        sms=sum(m.channel == "sms" for m in messages),
        registered=registered,
    )
