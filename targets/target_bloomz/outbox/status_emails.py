"""The Bulk Import Status e-mail to the "Notify to" roles of each community of a run.

:func:`queue_status_emails` puts one e-mail per run and admin into the outbox, for every run status it is
called for (applied, held, failed; a dry run sends nothing); the run as the e-mail tells it is
``report.status.run_summary``.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from target_bloomz.outbox import enqueue_many, status_message
from target_bloomz.report.render import render_status_email
from target_bloomz.report.status import NO_RECIPIENT_STREAM, run_communities, run_summary

# The admins of the "Notify to" roles, of every community of the run in one query.
_RECIPIENTS = """
SELECT DISTINCT c.key, p.id, p.email FROM community_members m
JOIN communities c ON c.id = m.community_id
JOIN people p ON p.id = m.person_id
WHERE c.key IN (SELECT unnest($keys::VARCHAR[])) AND m.role IN (SELECT unnest($roles::VARCHAR[]))
  AND p.email IS NOT NULL
ORDER BY c.key, p.id
"""


def _warn_no_recipient(con: duckdb.DuckDBPyConnection, run_id: int, key: str, roles: list[str]) -> None:
    """The run's warning that a community's status e-mail had nobody to go to, and how to fix it (once)."""
    seen = con.execute(
        "SELECT 1 FROM run_issues WHERE run_id = ? AND stream = ? AND list_contains(communities, ?)",
        [run_id, NO_RECIPIENT_STREAM, key],
    ).fetchone()
    if seen:
        return
    wanted = ", ".join(roles) if roles else "no role (notify_to is empty)"
    message = (
        f"the Bulk Import Status e-mail of {key} was sent to nobody: no member with an e-mail has a "
        f"Notify to role ({wanted}). Every staff member an import adds starts as School Support Staff: "
        f'raise an admin\'s role (bloomz-sync set-role {key} PERSON "School Admin"), or add the role '
        "your admins have to notify_to in the mapping's options."
    )
    con.execute(
        "INSERT INTO run_issues (run_id, severity, stream, record_key, message, communities) "
        "VALUES (?, 'warning', ?, NULL, ?, ?)",
        [run_id, NO_RECIPIENT_STREAM, message, [key]],
    )


def no_recipient_warnings(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    """The run's warnings that a status e-mail reached nobody."""
    rows = con.execute(
        "SELECT message FROM run_issues WHERE run_id = ? AND stream = ? ORDER BY message",
        [run_id, NO_RECIPIENT_STREAM],
    ).fetchall()
    return [message for (message,) in rows]


def queue_status_emails(con: duckdb.DuckDBPyConnection, run_id: int) -> int:
    """Queue the run's Bulk Import Status e-mail for each admin of the "Notify to" roles; return how many.

    Keyed per run, admin, community and run status: calling it again for the same run queues nothing, an
    admin of two of the run's communities gets each one's e-mail, and a held run that is approved later
    sends its "Completed" e-mail too. A community with nobody to send to gets a warning in the run saying
    how to fix it.
    """
    options: dict[str, Any] = json.loads(
        (con.execute("SELECT options FROM runs WHERE id = ?", [run_id]).fetchone() or ["{}"])[0] or "{}"
    )
    roles = list(options.get("notify_to") or [])
    keys = run_communities(con, run_id)
    recipients_of: dict[str, list[tuple[int, str]]] = {}
    for key, person_id, address in con.execute(_RECIPIENTS, {"keys": keys, "roles": roles}).fetchall():
        recipients_of.setdefault(key, []).append((person_id, address))
    messages = []
    for key in keys:
        recipients = recipients_of.get(key)
        if not recipients:
            _warn_no_recipient(con, run_id, key, roles)
            continue
        summary = run_summary(con, run_id, key)
        email = render_status_email(summary)
        messages += [
            status_message(
                email,
                run_id=run_id,
                person_id=person_id,
                recipient=address,
                community_key=key,
                status=summary["status"],
            )
            for person_id, address in recipients
        ]
    return enqueue_many(con, messages)
