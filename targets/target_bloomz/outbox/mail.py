"""E-mail: builds the message for an outbox row and sends it by SMTP or into a folder of .eml files."""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from plugin_runtime import private
from target_bloomz.outbox.errors import MessageRejected
from target_bloomz.outbox.settings import SmtpSettings

_POLICY = policy.default.clone(max_line_length=998)


def build_message(row: dict[str, Any], sender: str) -> EmailMessage:
    """The e-mail for one outbox row: plain text, plus an HTML alternative when the row has one.

    The Message-ID is derived from the row's dedupe key, so a message resent after a crash is
    recognisably the same message (mail clients and the .eml folder both collapse it). A row that
    cannot make a valid e-mail raises :class:`MessageRejected`.
    """
    # Fold headers only past RFC 5322's hard limit: at 78, a long subject is folded right after
    # "Subject:" and some clients then show it with a leading space.
    message = EmailMessage(policy=_POLICY)
    try:
        message["From"] = sender
        message["To"] = row["recipient"]
        message["Subject"] = row["subject"] or ""
    except ValueError as err:  # a line break or a malformed address in a header
        raise MessageRejected(f"the row cannot be made into an e-mail: {err}") from err
    message["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(row["dedupe_key"].encode()).hexdigest()[:24]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "bloomz.net"
    message["Message-ID"] = f"<{row['id']}.{digest}@{domain}>"
    message["X-Bloomz-Kind"] = str(row["kind"])
    if row.get("run_id") is not None:
        message["X-Bloomz-Run"] = str(row["run_id"])
    message.set_content(row["body_text"] or "")
    if row.get("body_html"):
        message.add_alternative(row["body_html"], subtype="html")
    return message


class Mailer(Protocol):
    """Sends e-mails within a ``with`` block (the block holds the connection, if any)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """One SMTP connection for the whole delivery; STARTTLS and login when the settings ask."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        smtp = (
            smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            if s.ssl
            else smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        )
        try:
            if s.starttls and not s.ssl:
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            raise RuntimeError("SmtpMailer.send outside its with block")
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            if all(code >= 500 for code in codes):
                raise MessageRejected(f"the SMTP server refused the recipient ({codes[0]})") from err
            raise  # 4xx: the server asks to try later, the row stays pending
        except smtplib.SMTPDataError as err:
            if err.smtp_code >= 500:
                raise MessageRejected(f"the SMTP server refused the message ({err.smtp_code})") from err
            raise


class EmlFolderMailer:
    """Writes each message as ``<Message-ID>.eml`` in a folder (no SMTP configured).

    The name comes from the Message-ID, so writing a message again replaces the same file.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __enter__(self) -> Self:
        private.folder(self.folder)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def send(self, message: EmailMessage) -> None:
        name = str(message["Message-ID"]).strip("<>").partition("@")[0]
        path = self.folder / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        with os.fdopen(private.create(partial), "wb") as file:
            file.write(message.as_bytes())
        os.replace(partial, path)  # a crash never leaves half a message under the real name
