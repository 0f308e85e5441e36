"""The fixtures every layer's tests share (unit, integration, e2e): the shared reference data, sandboxes,
a store per test, mapping files, the target run on a district, the admin CLI, SMTP servers.

A folder keeps a conftest.py of its own only for fixtures no other folder uses (tests/README.md). Helpers that
are not fixtures live in tests/support/.
"""

from __future__ import annotations

import itertools
import os
import shutil
import ssl
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from roster_sandbox.testing import Sandbox, free_port, run_sandbox
from target_bloomz import store
from target_bloomz.outbox import SmtpSettings

from bloomz_sync.cli import main
from tests.support.district import Result, run_target, singer_lines
from tests.support.dumps import generate
from tests.support.mappings import OPEN_LIMITS
from tests.support.project import REPO_ROOT
from tests.support.smtp import SMTP_PASSWORD, SMTP_USER, Mailbox, RelayMailbox, SmtpServer, authenticate

# --- the shared reference and sandboxes ---


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """<repo>/../shared (CI clones the repo with shared/ beside it)."""
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.fail(f"the shared folder is missing: expected it at {path}")
    return path


@pytest.fixture(scope="session")
def demo_district_dir(shared_dir: Path) -> Path:
    """Clever's real #DEMO_DISTRICT dump (users.json, sections.json, districts.json)."""
    return shared_dir / "reference" / "clever" / "demo-district"


@pytest.fixture(scope="session")
def demo_sandbox(demo_district_dir: Path) -> Iterator[Sandbox]:
    """A roster-sandbox server serving the demo district for the whole session (default credentials).

    Its Clever rate limit is off, so many tests sharing it never meet a 429 by accident; test rate limiting
    with a fault (``set_faults({"kind": "rate_limit", ...})``) or your own ``run_sandbox(..., rate_limit=N)``.
    Tests that switch faults on it must clear them (``demo_sandbox.clear_faults()``) before they end.
    """
    with run_sandbox(demo_district_dir, rate_limit=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def tiny_district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic tiny district (about 50 students in 2 schools) that a module's tests may move forward night
    by night."""
    return generate(tmp_path_factory.mktemp("tiny") / "district")


@pytest.fixture(scope="module")
def tiny_sandbox(tiny_district: Path) -> Iterator[Sandbox]:
    """The sandbox serving the tiny district (no rate limit)."""
    with run_sandbox(tiny_district, rate_limit=0) as sandbox:
        yield sandbox


# --- a store, mapping files, the target run on a district, the admin CLI ---


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where this test's Bloomz store lives (created by the first run)."""
    return tmp_path / "data" / "bloomz.duckdb"


@pytest.fixture
def store_con(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh Bloomz store file at ``database``, created by the store's own DDL, and a connection to it."""
    connection = store.connect(database)
    yield connection
    connection.close()


@pytest.fixture
def mapping_file(tmp_path: Path) -> Callable[[str], Path]:
    """mapping_file(yaml_text) → a district mapping file extending the Clever default."""

    def write(text: str) -> Path:
        path = tmp_path / f"district-{len(list(tmp_path.glob('district-*.yml')))}.yml"
        path.write_text("extends: clever\n" + textwrap.dedent(text).lstrip("\n"))
        return path

    return write


@pytest.fixture
def open_limits(mapping_file: Callable[[str], Path]) -> Path:
    """This test's mapping file: the Clever default with safety limits wide open."""
    return mapping_file(OPEN_LIMITS)


@pytest.fixture
def sync(database: Path, tmp_path: Path, open_limits: Path) -> Callable[..., Result]:
    """sync(records, activate=True, **settings) → run target-bloomz on this test's store, safety limits wide
    open; the caller checks the result."""

    def run(records: dict[str, list[dict[str, Any]]], *, activate: bool = True, **settings: Any) -> Result:
        config = {"database": str(database), "mapping": str(open_limits), **settings}
        return run_target(config, singer_lines(records, activate=activate), tmp_path)

    return run


@pytest.fixture
def sync_ok(sync: Callable[..., Result], tmp_path: Path) -> Callable[..., Result]:
    """sync_ok(records, **settings) → ``sync`` with outbox files under tmp_path/outbox; the run must
    succeed."""

    def run(records: dict[str, list[dict[str, Any]]], **settings: Any) -> Result:
        result = sync(records, outbox_dir=str(tmp_path / "outbox"), **settings)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


@pytest.fixture
def target_config(database: Path, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """target-bloomz settings for this test's store; outbox files under tmp_path/outbox."""

    def config(**settings: Any) -> dict[str, Any]:
        return {"database": str(database), "outbox_dir": str(tmp_path / "outbox"), **settings}

    return config


@pytest.fixture
def cli(database: Path) -> Callable[..., Any]:
    """cli(*args) → the bloomz-sync command's result on this test's store (in this process)."""

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, ["--database", str(database), *args], catch_exceptions=False)

    return invoke


# --- the outbox: rows in a store, SMTP servers ---


_outbox_ids = itertools.count(1)  # one sequence for the session, as before the fixtures were shared


@pytest.fixture
def add_outbox_row(store_con: duckdb.DuckDBPyConnection) -> Callable[..., int]:
    """Insert a pending outbox row the way a run does; returns its id."""

    def add(channel: str, recipient: str | None, **values: Any) -> int:
        row_id = next(_outbox_ids)
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
        store_con.execute(
            f"INSERT INTO outbox ({columns}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
        )
        return row_id

    return add


@pytest.fixture
def statuses(store_con: duckdb.DuckDBPyConnection) -> Callable[[], dict[int, dict[str, Any]]]:
    """Read the outbox back: id -> status, sent_at, error."""

    def read() -> dict[int, dict[str, Any]]:
        cursor = store_con.execute("SELECT id, status, sent_at, error FROM outbox ORDER BY id")
        return {row[0]: {"status": row[1], "sent_at": row[2], "error": row[3]} for row in cursor.fetchall()}

    return read


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: an SMTP server that is down."""
    return free_port()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer[Mailbox]]:
    """A plain SMTP server on 127.0.0.1 for the module, that target-bloomz delivers to."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer[Mailbox]) -> Mailbox:
    """The module server's mailbox, emptied for this test."""
    smtp_server.mailbox.messages.clear()
    smtp_server.mailbox.stall = False
    smtp_server.mailbox.stalled.clear()
    return smtp_server.mailbox


@pytest.fixture(scope="module")
def relay_server() -> Iterator[SmtpServer[RelayMailbox]]:
    """A plain SMTP server that wants a login (as a district's relay would, minus TLS)."""
    mailbox = RelayMailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture
def relay(relay_server: SmtpServer[RelayMailbox]) -> Callable[..., SmtpSettings]:
    """SMTP settings for the module's relay, with its login; keyword arguments override."""

    def settings(**overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "port": relay_server.port,
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "timeout": 10,
            **overrides,
        }
        return SmtpSettings(host="127.0.0.1", **values)

    return settings


@pytest.fixture
def relay_mailbox(relay_server: SmtpServer[RelayMailbox]) -> RelayMailbox:
    """The module relay's mailbox, emptied for this test."""
    relay_server.mailbox.messages.clear()
    relay_server.mailbox.refuse.clear()
    relay_server.mailbox.defer.clear()
    return relay_server.mailbox


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
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
def starttls_server(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer[RelayMailbox]]:
    """An SMTP server that refuses mail until the client has switched to TLS."""
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = RelayMailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True
    )
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()


@pytest.fixture(scope="module")
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer[RelayMailbox]]:
    """An SMTP server that speaks TLS from the first byte (what port 465 does)."""
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = RelayMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=context)
    controller.start()
    yield SmtpServer(controller.port, mailbox)
    controller.stop()
