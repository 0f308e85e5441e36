"""Queueing messages: at most once per dedupe key, whatever the number of runs, retries or crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from target_bloomz.outbox import (
    DeliverySettings,
    OutboxMessage,
    deliver_pending,
    enqueue,
    invitation_messages,
    status_message,
)
from target_bloomz.report.render import Invitation, RunSummary, render_invitation, render_status_email

INVITATION: Invitation = {
    "recipient_name": "Maria",
    "role": "parent",
    "school": "Lincoln Elementary",
    "invite_from": "Ms Rivera",
    "classes": ["3A Homeroom"],
    "link": "https://bloomz.net/join/abc",
}


def queue_invitation(con, run_id: int, *, email: str | None, phone: str | None) -> list[bool]:
    messages = invitation_messages(
        render_invitation(INVITATION),
        community_key="clever:sch1",
        person_id=7,
        email=email,
        phone=phone,
        run_id=run_id,
    )
    return [enqueue(con, message) for message in messages]


def test_an_invitation_is_queued_once_by_email_and_once_by_text_over_many_runs(store_con) -> None:
    assert queue_invitation(store_con, 1, email="maria@example.net", phone="+13125551234") == [True, True]
    assert queue_invitation(store_con, 2, email="maria@example.net", phone="+13125551234") == [False, False]

    rows = store_con.execute(
        "SELECT run_id, channel, recipient, dedupe_key FROM outbox ORDER BY id"
    ).fetchall()
    assert rows == [
        (1, "email", "maria@example.net", "invitation:clever:sch1:7:email"),
        (1, "sms", "+13125551234", "invitation:clever:sch1:7:sms"),
    ]


def test_no_second_invitation_after_the_first_was_sent(store_con, tmp_path: Path) -> None:
    queue_invitation(store_con, 1, email="maria@example.net", phone=None)
    assert deliver_pending(store_con, DeliverySettings(folder=tmp_path)).sent == 1

    assert queue_invitation(store_con, 2, email="maria@example.net", phone="+13125551234") == [False, True]
    assert deliver_pending(store_con, DeliverySettings(folder=tmp_path)).sent == 1
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_person_without_a_phone_gets_no_text(store_con) -> None:
    assert queue_invitation(store_con, 1, email="maria@example.net", phone=None) == [True]
    assert queue_invitation(store_con, 1, email=None, phone=None) == []


def test_queued_messages_roll_back_with_the_run(store_con) -> None:
    store_con.execute("BEGIN TRANSACTION")
    queue_invitation(store_con, 1, email="maria@example.net", phone="+13125551234")
    store_con.execute("ROLLBACK")

    assert store_con.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    assert queue_invitation(store_con, 2, email="maria@example.net", phone=None) == [True]


def test_each_run_sends_each_admin_one_status_email(store_con) -> None:
    summary: RunSummary = {
        "run_id": 3,
        "community": "Lincoln Elementary",
        "source": "clever",
        "status": "applied",
        "started_at": "2026-11-23 02:00 UTC",
    }
    email = render_status_email(summary)
    for run_id in (3, 3, 4):
        enqueue(
            store_con, status_message(email, run_id=run_id, person_id=11, recipient="principal@example.net")
        )

    rows = store_con.execute("SELECT kind, run_id, subject FROM outbox ORDER BY id").fetchall()
    assert rows == [
        ("import_status", 3, "Bulk Import Status: Lincoln Elementary (Clever): Completed"),
        ("import_status", 4, "Bulk Import Status: Lincoln Elementary (Clever): Completed"),
    ]


def test_the_store_refuses_a_channel_it_does_not_know(store_con) -> None:
    message = OutboxMessage(kind="invitation", channel="fax", recipient="x", dedupe_key="k", body_text="hi")
    with pytest.raises(Exception, match=r"(?i)constraint"):
        enqueue(store_con, message)
