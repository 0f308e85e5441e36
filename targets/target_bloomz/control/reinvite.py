"""Reinvite: invite everyone of a school community not yet registered in Bloomz, as Bloomz's Manage
screens do after a pre-launch import. The invitations are queued in one transaction; delivering them is
the outbox's job (``outbox.deliver_pending``), which the caller runs next."""

from __future__ import annotations

import duckdb

from target_bloomz.outbox import invitations


def queue_reinvitations(
    con: duckdb.DuckDBPyConnection,
    community_key: str,
    kinds: list[str],
    *,
    invite_from: str | None,
    signup_url: str,
) -> invitations.InvitationCounts:
    """Queue the invitations of ``kinds`` (staff, parent, student) in the community; all or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        counts = invitations.queue_reinvitations(
            con, community_key, kinds, invite_from=invite_from, signup_url=signup_url
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts
