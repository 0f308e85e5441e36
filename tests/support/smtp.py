"""Real SMTP servers for the tests (aiosmtpd on 127.0.0.1), and what they received.

Two kinds of mailbox: ``Mailbox`` for a plain server the target delivers to (it can stall, to test a sender
killed mid-delivery), and ``RelayMailbox`` for a district's relay that wants a login and can refuse or defer
a recipient (the outbox's delivery tests).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Generic, TypeVar

from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "relay-user"
SMTP_PASSWORD = "relay-secret-7f3a"


def body(message: EmailMessage, subtype: str) -> str:
    """The text of a received e-mail's plain or html part."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"the e-mail has no {subtype} part"
    return str(part.get_content())


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
class RelayMailbox:
    """What a test relay received: (envelope from, envelope to, parsed message); addresses in ``refuse``
    get a permanent 550, in ``defer`` a temporary 450."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox"
        if address in self.defer:
            return f"450 4.2.1 <{address}>: mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


MailboxT = TypeVar("MailboxT", Mailbox, RelayMailbox)


@dataclass
class SmtpServer(Generic[MailboxT]):
    port: int
    mailbox: MailboxT


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    """The relay's login check: SMTP_USER with SMTP_PASSWORD."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # let the server answer 535 on a refusal
