"""Putting messages into the outbox, at most once per dedupe key.

The dedupe key says what "the same message" means, so that no one gets it twice whatever the number
of runs, retries or crashes: the store keeps ``outbox.dedupe_key`` unique and :func:`enqueue` skips a
key already there (pending, sent or failed alike). Build keys with the functions below.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from target_bloomz.report.render import Email, InvitationMessages


@dataclass(frozen=True)
class OutboxMessage:
    """One message to one recipient by one channel; the columns of an ``outbox`` row."""

    kind: str  # "invitation", "import_status", ...
    channel: str  # "email" | "sms"
    recipient: str  # e-mail address, or E.164 phone number
    dedupe_key: str
    body_text: str
    subject: str | None = None
    body_html: str | None = None
    run_id: int | None = None
    person_id: int | None = None


def invitation_key(community_key: str, person_id: int, channel: str) -> str:
    """One invitation per person, community and channel, ever (a later run adding classes sends none)."""
    return f"invitation:{community_key}:{person_id}:{channel}"


def status_key(
    run_id: int, person_id: int, community_key: str | None = None, status: str | None = None
) -> str:
    """One Bulk Import Status e-mail per run, admin and (when given) community and run status.

    With the status in the key, a held run's e-mail and the one after its approval are both sent.
    """
    return ":".join(str(part) for part in ("import_status", run_id, person_id, community_key, status) if part)


def enqueue(conn: duckdb.DuckDBPyConnection, message: OutboxMessage) -> bool:
    """Queue ``message`` unless its dedupe key was ever queued; True if it was queued now.

    Safe inside the run's apply transaction: the row and the run commit or roll back together.
    """
    inserted = conn.execute(
        """
        INSERT INTO outbox (id, run_id, kind, channel, recipient, person_id, subject, body_text, body_html,
                            dedupe_key)
        SELECT (SELECT coalesce(max(id), 0) + 1 FROM outbox), ?, ?, ?, ?, ?, ?, ?, ?, ?
        WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE dedupe_key = ?)
        RETURNING id
        """,
        [
            message.run_id,
            message.kind,
            message.channel,
            message.recipient,
            message.person_id,
            message.subject,
            message.body_text,
            message.body_html,
            message.dedupe_key,
            message.dedupe_key,
        ],
    ).fetchall()
    return bool(inserted)


_COLUMNS = (
    "run_id",
    "kind",
    "channel",
    "recipient",
    "person_id",
    "subject",
    "body_text",
    "body_html",
    "dedupe_key",
)
_TYPES = ("BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR")


def enqueue_many(conn: duckdb.DuckDBPyConnection, messages: list[OutboxMessage]) -> int:
    """Queue many messages in one statement, skipping keys ever queued; return how many were queued."""
    if not messages:
        return 0
    values = {name: [getattr(m, name) for m in messages] for name in _COLUMNS}
    unnested = ", ".join(f"unnest(${n}::{t}[]) AS {n}" for n, t in zip(_COLUMNS, _TYPES, strict=True))
    row = conn.execute(
        f"""
        INSERT INTO outbox (id, {", ".join(_COLUMNS)})
        SELECT (SELECT coalesce(max(id), 0) FROM outbox) + row_number() OVER (), *
        FROM (SELECT DISTINCT ON (dedupe_key) * FROM (SELECT {unnested})) m
        WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = m.dedupe_key)
        RETURNING id
        """,
        values,
    ).fetchall()
    return len(row)


def invitation_messages(
    invitation: InvitationMessages,
    *,
    community_key: str,
    person_id: int,
    email: str | None,
    phone: str | None,
    run_id: int | None = None,
) -> list[OutboxMessage]:
    """The outbox rows for one rendered invitation: by e-mail and by text, for what the person has."""
    messages = []
    if email:
        messages.append(
            OutboxMessage(
                kind="invitation",
                channel="email",
                recipient=email,
                dedupe_key=invitation_key(community_key, person_id, "email"),
                subject=invitation.subject,
                body_text=invitation.text,
                body_html=invitation.html,
                run_id=run_id,
                person_id=person_id,
            )
        )
    if phone:
        messages.append(
            OutboxMessage(
                kind="invitation",
                channel="sms",
                recipient=phone,
                dedupe_key=invitation_key(community_key, person_id, "sms"),
                body_text=invitation.sms,
                run_id=run_id,
                person_id=person_id,
            )
        )
    return messages


def status_message(
    email: Email,
    *,
    run_id: int,
    person_id: int,
    recipient: str,
    community_key: str | None = None,
    status: str | None = None,
) -> OutboxMessage:
    """The outbox row for one admin's Bulk Import Status e-mail."""
    return OutboxMessage(
        kind="import_status",
        channel="email",
        recipient=recipient,
        dedupe_key=status_key(run_id, person_id, community_key, status),
        subject=email.subject,
        body_text=email.text,
        body_html=email.html,
        run_id=run_id,
        person_id=person_id,
    )
