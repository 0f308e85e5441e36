"""People tests: a real Bloomz store per test, and real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from target_bloomz import store
from target_bloomz.outbox import SmtpSettings

SMTP_USER = "relay-user"
SMTP_PASSWORD = "relay-secret-7f3a"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh Bloomz store file, created by the store's own DDL."""
    connection = store.connect(tmp_path / "bloomz.duckdb")
    yield connection
    connection.close()


_ids = itertools.count(1)


@pytest.fixture
def add_outbox_row(con: duckdb.DuckDBPyConnection) -> Callable[..., int]:
    """Insert a pending outbox row the way a run does; returns its id."""

    def add(channel: str, recipient: str | None, **values: Any) -> int:
        row_id = next(_ids)
        row = {
            "id": row_id,
            "run_id": 1,
            "kind": "invitation",
            "channel": channel,
            "recipient": recipient,
            "person_id": 100 + row_id,
            "subject": "Ms Rivera invited you to Lincoln Elementary on Bloomz",
            "body_text": "Join: https://bloomz.net/join",
            "body_html": None,
            "dedupe_key": f"invitation:run1:person{100 + row_id}:{channel}",
            **values,
        }
        columns = ", ".join(row)
        con.execute(
            f"INSERT INTO outbox ({columns}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
        )
        return row_id

    return add


@pytest.fixture
def statuses(con: duckdb.DuckDBPyConnection) -> Callable[[], dict[int, dict[str, Any]]]:
    """Read the outbox back: id -> status, sent_at, error."""

    def read() -> dict[int, dict[str, Any]]:
        cursor = con.execute("SELECT id, status, sent_at, error FROM outbox ORDER BY id")
        return {row[0]: {"status": row[1], "sent_at": row[2], "error": row[3]} for row in cursor.fetchall()}

    return read


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: an SMTP server that is down."""
    return free_port()


@dataclass
class Mailbox:
    """What a test SMTP server received; addresses in ``refuse`` get a permanent 550, in ``defer`` a 450."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)  # these get a temporary 450

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


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # let the server answer 535 on a refusal


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server that wants a login (as a district's relay would, minus TLS)."""
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture
def relay(smtp_server: SmtpServer) -> Callable[..., SmtpSettings]:
    """SMTP settings for the module's relay, with its login; keyword arguments override."""

    def settings(**overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "port": smtp_server.port,
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "timeout": 10,
            **overrides,
        }
        return SmtpSettings(host="127.0.0.1", **values)

    return settings


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    """The module server's mailbox, emptied for this test."""
    smtp_server.mailbox.messages.clear()
    smtp_server.mailbox.refuse.clear()
    smtp_server.mailbox.defer.clear()
    return smtp_server.mailbox


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None and not os.environ.get("CI"):  # CI installs openssl (.ci/run)
        pytest.skip("the openssl command is not installed: cannot make a certificate for the STARTTLS server")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def starttls_server(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """An SMTP server that refuses mail until the client has switched to TLS."""
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True
    )
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture(scope="module")
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """An SMTP server that speaks TLS from the first byte (what port 465 does)."""
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=context)
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()
