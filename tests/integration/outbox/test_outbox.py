"""Delivering the outbox: SMTP against real servers on 127.0.0.1, or .eml files and an SMS file."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from singer_sdk import typing as th
from target_bloomz.outbox import (
    CONFIG_PROPERTIES,
    DeliverySettings,
    FileSmsProvider,
    MessageRejected,
    SmtpSettings,
    deliver_pending,
)
from target_bloomz.report.render import render_invitation

INVITATION = render_invitation(
    {
        "recipient_name": "Maria",
        "role": "parent",
        "school": "Lincoln Elementary",
        "invite_from": "Ms Rivera",
        "classes": ["3A Homeroom", "Art <K-5>"],
        "link": "https://bloomz.net/join/abc",
        "students": ["Ana"],
    }
)


# The test relay asks for a login over plain SMTP (no certificate to manage); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body((subtype,))
    assert body is not None, f"no text/{subtype} part"
    return str(body.get_content())


def test_without_smtp_emails_become_eml_files_and_texts_lines(
    store_con, add_outbox_row, tmp_path: Path, statuses
) -> None:
    mail = add_outbox_row(
        "email",
        "maria@example.net",
        subject=INVITATION.subject,
        body_text=INVITATION.text,
        body_html=INVITATION.html,
    )
    plain = add_outbox_row("email", "jo@example.net", kind="import_status", subject="Bulk Import Status")
    text = add_outbox_row("sms", "+13125551234", body_text=INVITATION.sms)

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path / "out"))

    assert (report.sent, report.failed, report.pending) == (3, 0, 0)
    assert report.ok
    emls = sorted((tmp_path / "out").glob("*.eml"))
    assert len(emls) == 2
    messages = {
        m["To"]: m for m in (BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in emls)
    }
    invitation = messages["maria@example.net"]
    assert invitation["Subject"] == "Ms Rivera invited you to Lincoln Elementary on Bloomz"
    assert invitation["From"] == "Bloomz <no-reply@bloomz.net>"
    assert invitation.get_content_type() == "multipart/alternative"
    assert "3A Homeroom" in part(invitation, "plain")
    assert "Art &lt;K-5&gt;" in part(invitation, "html")
    assert messages["jo@example.net"].get_content_type() == "text/plain"
    (line,) = (tmp_path / "out" / "sms.jsonl").read_text().splitlines()
    assert json.loads(line)["to"] == "+13125551234"
    assert json.loads(line)["body"].startswith(
        "Ms Rivera invited you to Lincoln Elementary on Bloomz: classes"
    )
    rows = statuses()
    assert all(rows[i]["status"] == "sent" and rows[i]["sent_at"] is not None for i in (mail, plain, text))


def test_a_sent_row_is_never_sent_again(store_con, add_outbox_row, tmp_path: Path) -> None:
    add_outbox_row("email", "maria@example.net")
    add_outbox_row("sms", "+13125551234")
    settings = DeliverySettings(folder=tmp_path)
    assert deliver_pending(store_con, settings).sent == 2

    again = deliver_pending(store_con, settings)

    assert (again.sent, again.failed, again.pending) == (0, 0, 0)
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1


def test_a_crash_between_send_and_mark_resends_without_duplicating_files(
    store_con, add_outbox_row, tmp_path, statuses
) -> None:
    mail = add_outbox_row("email", "maria@example.net")
    text = add_outbox_row("sms", "+13125551234")
    deliver_pending(store_con, DeliverySettings(folder=tmp_path))
    # What a crash after sending and before marking leaves behind: the rows still pending.
    store_con.execute("UPDATE outbox SET status = 'pending', sent_at = NULL")

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path))

    assert report.sent == 2
    assert len(list(tmp_path.glob("*.eml"))) == 1, "the same message is rewritten under the same name"
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1, "a dedupe key already in the file"
    assert {statuses()[i]["status"] for i in (mail, text)} == {"sent"}


def test_a_line_cut_short_by_a_crash_does_not_spoil_the_next(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    path.write_text('{"to": "+13125551234", "body": "Ms Ri')

    FileSmsProvider(path).send("+13125550000", "hello", dedupe_key="k2")

    last = path.read_text().splitlines()[-1]
    assert json.loads(last)["dedupe_key"] == "k2"


def test_smtp_delivery_with_login_reaches_the_server(
    store_con, add_outbox_row, relay_mailbox, tmp_path, statuses, relay
) -> None:
    row = add_outbox_row(
        "email",
        "maria@example.net",
        subject=INVITATION.subject,
        body_text=INVITATION.text,
        body_html=INVITATION.html,
    )
    settings = DeliverySettings(
        folder=tmp_path, sender="Lincoln via Bloomz <notify@lincoln.example.org>", smtp=relay()
    )

    report = deliver_pending(store_con, settings)

    assert report.sent == 1, str(report)
    ((mail_from, rcpt_tos, message),) = relay_mailbox.messages
    assert mail_from == "notify@lincoln.example.org"
    assert rcpt_tos == ["maria@example.net"]
    assert message["Subject"] == "Ms Rivera invited you to Lincoln Elementary on Bloomz"
    assert message["X-Bloomz-Kind"] == "invitation"
    assert message["Message-ID"].endswith("@lincoln.example.org>")
    body = part(message, "plain")
    assert "Ms Rivera invited you to join Lincoln Elementary on Bloomz" in body
    assert "https://bloomz.net/join/abc" in body
    assert "Join Lincoln Elementary" in part(message, "html")
    assert statuses()[row]["status"] == "sent"
    assert not list(tmp_path.glob("*.eml")), "with SMTP configured no file is written"


def test_a_refused_recipient_fails_that_row_only(
    store_con, add_outbox_row, relay_mailbox, tmp_path, statuses, relay
) -> None:
    bad = add_outbox_row("email", "nobody@example.net")
    good = add_outbox_row("email", "maria@example.net")
    relay_mailbox.refuse.add("nobody@example.net")

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path, smtp=relay()))

    assert (report.sent, report.failed) == (1, 1)
    rows = statuses()
    assert rows[bad]["status"] == "failed"
    assert "refused the recipient (550)" in rows[bad]["error"]
    assert "nobody@example.net" not in rows[bad]["error"] + str(report)
    assert rows[good]["status"] == "sent"
    assert [rcpt for _, rcpt, _ in relay_mailbox.messages] == [["maria@example.net"]]


def test_a_server_that_asks_to_try_later_keeps_the_rows(
    store_con, add_outbox_row, relay_mailbox, tmp_path, statuses, relay
) -> None:
    sent = add_outbox_row("email", "jo@example.net")
    deferred = add_outbox_row("email", "busy@example.net")
    after = add_outbox_row("email", "maria@example.net")
    relay_mailbox.defer.add("busy@example.net")

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path, smtp=relay()))

    assert (report.sent, report.failed, report.pending) == (1, 0, 2)
    assert "busy@example.net" not in str(report)
    rows = statuses()
    assert [rows[i]["status"] for i in (sent, deferred, after)] == ["sent", "pending", "pending"]


def test_a_wrong_password_leaves_every_row_pending_and_says_why(
    store_con, add_outbox_row, relay_mailbox, tmp_path, statuses, relay
) -> None:
    rows = [add_outbox_row("email", f"parent{i}@example.net") for i in range(3)]
    settings = DeliverySettings(folder=tmp_path, smtp=relay(password="wrong-password"))

    report = deliver_pending(store_con, settings)

    assert (report.sent, report.failed, report.pending) == (0, 0, 3)
    assert "SMTPAuthenticationError" in str(report)
    assert "wrong-password" not in str(report)
    assert {statuses()[i]["status"] for i in rows} == {"pending"}
    assert relay_mailbox.messages == []


def test_an_smtp_server_that_is_down_loses_nothing(
    store_con, add_outbox_row, tmp_path, statuses, closed_port
) -> None:
    mail = add_outbox_row("email", "maria@example.net")
    text = add_outbox_row("sms", "+13125551234")

    report = deliver_pending(
        store_con,
        DeliverySettings(folder=tmp_path, smtp=SmtpSettings(host="127.0.0.1", port=closed_port, timeout=10)),
    )

    assert (report.sent, report.pending) == (1, 1)
    assert "e-mail delivery stopped, 1 left pending" in str(report)
    assert statuses()[mail]["status"] == "pending"
    assert statuses()[text]["status"] == "sent", "text messages do not wait for the mail server"


def test_starttls_with_the_relays_own_certificate(
    store_con, add_outbox_row, starttls_server, tls_files, tmp_path
) -> None:
    add_outbox_row("email", "maria@example.net", body_text="over TLS")
    cert, _ = tls_files
    settings = DeliverySettings(
        folder=tmp_path,
        smtp=SmtpSettings(
            host="127.0.0.1", port=starttls_server.port, starttls=True, ca_file=str(cert), timeout=10
        ),
    )

    report = deliver_pending(store_con, settings)

    assert report.sent == 1, str(report)
    ((_, _, message),) = starttls_server.mailbox.messages
    assert message.get_content().strip() == "over TLS"


def test_without_starttls_a_server_that_requires_it_refuses(
    store_con, add_outbox_row, starttls_server, tmp_path, statuses
) -> None:
    row = add_outbox_row("email", "maria@example.net")
    settings = DeliverySettings(
        folder=tmp_path, smtp=SmtpSettings(host="127.0.0.1", port=starttls_server.port)
    )

    report = deliver_pending(store_con, settings)

    assert (report.sent, report.pending) == (0, 1), "a settings problem, not the message's: keep it"
    assert statuses()[row]["status"] == "pending"
    assert "Must issue a STARTTLS command first" in str(report)


class RecordingProvider:
    """A text-message provider of our own: refuses one number, and can be switched off."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = False

    def send(self, to: str, body: str, *, dedupe_key: str) -> None:
        if self.down:
            raise ConnectionError("provider unreachable")
        if to == "+13125550000":
            raise MessageRejected("the provider says the number cannot receive texts")
        self.sent.append((to, body))


def test_text_messages_go_through_the_provider_interface(
    store_con, add_outbox_row, tmp_path, statuses
) -> None:
    refused = add_outbox_row("sms", "+13125550000")
    ok = add_outbox_row("sms", "+13125551234", body_text="hello")
    provider = RecordingProvider()

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path, sms=provider))

    assert provider.sent == [("+13125551234", "hello")]
    rows = statuses()
    assert rows[refused]["status"] == "failed"
    assert rows[refused]["error"] == "the provider says the number cannot receive texts"
    assert rows[ok]["status"] == "sent"
    assert not (tmp_path / "sms.jsonl").exists()

    provider.down = True
    later = add_outbox_row("sms", "+13125551235")
    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path, sms=provider))
    assert (report.sent, report.pending) == (0, 1)
    assert "ConnectionError: provider unreachable" in str(report)
    assert statuses()[later]["status"] == "pending"


def test_only_the_asked_runs_rows_and_rows_without_text_fail(
    store_con, add_outbox_row, tmp_path, statuses
) -> None:
    other_run = add_outbox_row("email", "maria@example.net", run_id=2)
    empty = add_outbox_row("email", "jo@example.net", body_text="")

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path), run_id=1)

    assert (report.sent, report.failed) == (0, 1)
    rows = statuses()
    assert rows[empty]["error"] == "the row has no recipient or no text"
    assert rows[other_run]["status"] == "pending"


def test_settings_from_the_targets_config(tmp_path: Path) -> None:
    config = {
        "outbox_dir": str(tmp_path),
        "mail_from": "Lincoln via Bloomz <notify@lincoln.example.org>",
        "smtp_host": "mail.example.org",
        "smtp_port": "587",
        "smtp_username": "relay",
        "smtp_password": "s3cret-pw",
        "smtp_starttls": True,
    }
    settings = DeliverySettings.from_config(config)
    assert settings.smtp == SmtpSettings(
        host="mail.example.org", port=587, username="relay", password="s3cret-pw", starttls=True
    )
    assert settings.sender == "Lincoln via Bloomz <notify@lincoln.example.org>"
    assert "s3cret-pw" not in repr(settings)
    assert DeliverySettings.from_config({"outbox_dir": str(tmp_path)}).smtp is None
    assert isinstance(DeliverySettings(folder=tmp_path).sms_provider, FileSmsProvider)

    declared = th.PropertiesList(*CONFIG_PROPERTIES).to_dict()["properties"]
    assert set(config) | {"smtp_ssl", "smtp_ca_file"} == set(declared)
    assert declared["smtp_password"].get("secret") is True


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_the_store_keeps_one_message_per_dedupe_key(store_con, add_outbox_row, channel) -> None:
    add_outbox_row(channel, "maria@example.net", dedupe_key="invitation:person7:community3:" + channel)
    with pytest.raises(Exception, match=r"(?i)constraint"):
        add_outbox_row(channel, "maria@example.net", dedupe_key="invitation:person7:community3:" + channel)


def test_tls_from_the_first_byte(store_con, add_outbox_row, tls_server, tls_files, tmp_path) -> None:
    add_outbox_row("email", "maria@example.net", body_text="over implicit TLS")
    cert, _ = tls_files
    settings = DeliverySettings.from_config(
        {
            "outbox_dir": str(tmp_path),
            "smtp_host": "127.0.0.1",
            "smtp_port": tls_server.port,
            "smtp_ssl": True,
            "smtp_ca_file": str(cert),
        }
    )

    report = deliver_pending(store_con, settings)

    assert report.sent == 1, str(report)
    ((_, _, message),) = tls_server.mailbox.messages
    assert message.get_content().strip() == "over implicit TLS"


def test_a_row_that_cannot_be_an_email_fails_alone(store_con, add_outbox_row, tmp_path, statuses) -> None:
    broken = add_outbox_row("email", "maria@example.net", subject="Lincoln\nBcc: everyone@example.net")
    fine = add_outbox_row("email", "jo@example.net")

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path))

    assert (report.sent, report.failed) == (1, 1)
    rows = statuses()
    assert rows[broken]["status"] == "failed"
    assert "linefeed" in rows[broken]["error"]
    assert rows[fine]["status"] == "sent"


def test_a_large_outbox_is_delivered_in_batches_each_row_once(store_con, tmp_path) -> None:
    store_con.execute(
        "INSERT INTO outbox (id, run_id, kind, channel, recipient, body_text, dedupe_key) "
        "SELECT i, 1, 'invitation', 'sms', '+1312555' || lpad(i::VARCHAR, 4, '0'), 'hello', 'k' || i "
        "FROM range(1, 1235) AS t(i)"
    )
    provider = RecordingProvider()

    report = deliver_pending(store_con, DeliverySettings(folder=tmp_path, sms=provider))

    assert report.sent == 1234
    assert len({to for to, _ in provider.sent}) == len(provider.sent) == 1234
    assert store_con.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone() == (1234,)
