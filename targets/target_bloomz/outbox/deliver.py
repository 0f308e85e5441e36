"""Sends the outbox rows still pending and marks each one sent or failed.

Delivery is at-least-once, one row at a time: a message is handed to its channel, then its row is
marked sent at once (autocommit). A crash between the two leaves exactly that one row pending, and
it is sent again by the next delivery. Both default channels make that resend harmless (the .eml
file is rewritten under the same name, the SMS file skips a dedupe key it already holds) and an
SMTP resend carries the same Message-ID. The other order (mark, then send) would instead lose the
message on a crash, and a lost invitation is worse than a repeated one.

Call it outside any open transaction, from one process at a time (DuckDB lets only one process
write a store file anyway).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import duckdb

from target_bloomz.outbox.errors import MessageRejected
from target_bloomz.outbox.mail import EmlFolderMailer, Mailer, SmtpMailer, build_message
from target_bloomz.outbox.settings import DeliverySettings

log = logging.getLogger(__name__)

_BATCH = 500
_ADDRESS = re.compile(r"[^\s<>()\[\]'\"{},;:]+@[^\s<>()\[\]'\"{},;:]+")
_COLUMNS = ("id", "run_id", "kind", "channel", "recipient", "subject", "body_text", "body_html", "dedupe_key")


@dataclass
class DeliveryReport:
    """What one delivery did. ``pending`` counts rows left for next time because a channel was down."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.failed} failed, {self.pending} left pending"
        return "\n".join([text, *(f"  {problem}" for problem in self.problems)])


def deliver_pending(
    conn: duckdb.DuckDBPyConnection, settings: DeliverySettings, *, run_id: int | None = None
) -> DeliveryReport:
    """Deliver every pending outbox row (only ``run_id``'s when given) in the order they were queued."""
    report = DeliveryReport()
    down: dict[str, tuple[str, int]] = {}  # channel -> (why it stopped, rows it left pending)
    with ExitStack() as stack:
        channels = _Channels(settings, stack)
        for row in _pending_rows(conn, run_id):
            channel = row["channel"]
            if channel in down:
                down[channel] = (down[channel][0], down[channel][1] + 1)
                continue
            if not row["recipient"] or not row["body_text"]:
                _mark_failed(conn, report, row, "the row has no recipient or no text")
                continue
            try:
                channels.send(row)
            except MessageRejected as err:
                _mark_failed(conn, report, row, _redacted(str(err), row["recipient"]))
                continue
            except Exception as err:  # the channel itself is down: keep this row and the rest pending
                down[channel] = (_redacted(f"{type(err).__name__}: {err}", row["recipient"]), 1)
                continue
            conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = current_timestamp, error = NULL WHERE id = ?",
                [row["id"]],
            )
            report.sent += 1
            log.info("outbox %s (%s by %s) sent", row["id"], row["kind"], channel)
    for channel, (why, left) in down.items():
        name = "e-mail" if channel == "email" else "text message"
        report.pending += left
        report.problems.append(f"{name} delivery stopped, {left} left pending for the next delivery: {why}")
        log.error("%s delivery stopped with %d messages left pending: %s", name, left, why)
    return report


class _Channels:
    """Sends a row by its channel; opens the mailer (an SMTP connection) on the first e-mail."""

    def __init__(self, settings: DeliverySettings, stack: ExitStack) -> None:
        self.settings = settings
        self.stack = stack
        self.mailer: Mailer | None = None
        self.sms = settings.sms_provider

    def send(self, row: dict[str, Any]) -> None:
        if row["channel"] == "sms":
            self.sms.send(row["recipient"], row["body_text"], dedupe_key=row["dedupe_key"])
            return
        message = build_message(row, self.settings.sender)
        if self.mailer is None:
            smtp = self.settings.smtp
            mailer: Mailer = SmtpMailer(smtp) if smtp else EmlFolderMailer(self.settings.folder)
            self.mailer = self.stack.enter_context(mailer)
        self.mailer.send(message)


def _pending_rows(conn: duckdb.DuckDBPyConnection, run_id: int | None) -> Iterator[dict[str, Any]]:
    # In batches by id, so a million queued invitations never sit in memory at once.
    last_id = None
    while True:
        where, params = "status = 'pending'", list[Any]()
        if last_id is not None:
            where, params = where + " AND id > ?", [last_id]
        if run_id is not None:
            where, params = where + " AND run_id = ?", [*params, run_id]
        batch = conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM outbox WHERE {where} ORDER BY id LIMIT {_BATCH}", params
        ).fetchall()
        for values in batch:
            yield dict(zip(_COLUMNS, values, strict=True))
        if len(batch) < _BATCH:
            return
        last_id = batch[-1][0]


def _mark_failed(
    conn: duckdb.DuckDBPyConnection, report: DeliveryReport, row: dict[str, Any], why: str
) -> None:
    conn.execute("UPDATE outbox SET status = 'failed', error = ? WHERE id = ?", [why, row["id"]])
    report.failed += 1
    report.problems.append(f"outbox {row['id']} ({row['kind']} by {row['channel']}) failed: {why}")
    log.warning("outbox %s (%s by %s) failed: %s", row["id"], row["kind"], row["channel"], why)


def _redacted(text: str, recipient: str) -> str:
    # Servers echo the address they refuse, in any case or form; errors are stored and logged, addresses
    # are not.
    return _ADDRESS.sub("<recipient>", text.replace(recipient, "<recipient>"))
