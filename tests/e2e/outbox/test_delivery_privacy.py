"""A relay that refuses a recipient and echoes the address: no address reaches the target's output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from roster_sandbox.testing import free_port

from tests.support.district import district, query, run_target, singer_lines


class _BusyMailbox:
    """Answers every RCPT with a temporary refusal that names the address as the sender typed it."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return f"450 4.2.1 <{address.upper()}>: mailbox busy, try again later"


@pytest.fixture(scope="module")
def busy_relay() -> Iterator[int]:
    controller = Controller(_BusyMailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


def test_a_refused_recipient_is_logged_without_its_address(database, tmp_path, busy_relay):
    config = {
        "database": str(database),
        "notify_to": ["School Support Staff"],  # Ann, whose e-mail is Ann.Smith@Example.org
        "invite_teachers": True,
        "smtp_host": "127.0.0.1",
        "smtp_port": busy_relay,
    }

    result = run_target(config, singer_lines(district()), tmp_path)

    assert result.returncode == 0, result.stderr
    assert (
        "e-mail delivery stopped, 2 left pending for the next delivery: SMTPRecipientsRefused"
        in result.stderr
    )
    assert "ann.smith" not in result.stderr.lower()
    assert query(database, "SELECT count(*) FROM outbox WHERE status = 'pending'") == [(2,)]
    [(error,)] = query(database, "SELECT DISTINCT coalesce(error, '') FROM outbox")
    assert "ann.smith" not in error.lower()
