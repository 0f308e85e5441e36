"""A real SMTP server for the people integration tests (aiosmtpd on 127.0.0.1) and its mailbox."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any


def body(message: EmailMessage, subtype: str) -> str:
    """The text of a received e-mail's plain or html part."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"the e-mail has no {subtype} part"
    return str(part.get_content())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """Every message a test SMTP server received: (envelope to, parsed message).

    With ``stall`` set, the server holds each message without answering (a sender killed meanwhile has
    delivered nothing) and sets ``stalled``.
    """

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    stall: bool = False
    stalled: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall:
            self.stalled.set()
            await asyncio.sleep(3)
            return "451 4.3.0 try again later"
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.messages if address in rcpt]


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
