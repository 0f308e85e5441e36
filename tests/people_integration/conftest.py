"""People integration tests: the real target-bloomz executable on a small district, a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.people_integration.people_smtp import Mailbox, SmtpServer, free_port

# tests/target_bloomz/district.py: the hand-made district and the run_target helper.


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 for the module."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    smtp_server.mailbox.messages.clear()
    smtp_server.mailbox.stall = False
    smtp_server.mailbox.stalled.clear()
    return smtp_server.mailbox


@pytest.fixture
def target_config(database: Path, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """target-bloomz settings for this test's store; outbox files under tmp_path/outbox."""

    def config(**settings: Any) -> dict[str, Any]:
        return {"database": str(database), "outbox_dir": str(tmp_path / "outbox"), **settings}

    return config
