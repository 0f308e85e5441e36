"""Delivery of the store's outbox: invitations and import status messages, by e-mail and text.

The run puts messages into the ``outbox`` table with :func:`enqueue` (one row per message and
channel, at most once per ``dedupe_key``, so no one gets the same message twice however often a run
is repeated); :func:`deliver_pending` sends the rows still pending and marks each one sent or failed.
"""

from target_bloomz.outbox.deliver import DeliveryReport, deliver_pending
from target_bloomz.outbox.errors import MessageRejected
from target_bloomz.outbox.mail import EmlFolderMailer, Mailer, SmtpMailer
from target_bloomz.outbox.queue import (
    OutboxMessage,
    enqueue,
    enqueue_many,
    invitation_key,
    invitation_messages,
    status_key,
    status_message,
)
from target_bloomz.outbox.settings import CONFIG_PROPERTIES, DeliverySettings, SmtpSettings
from target_bloomz.outbox.sms import FileSmsProvider, SmsProvider

__all__ = [
    "CONFIG_PROPERTIES",
    "DeliveryReport",
    "DeliverySettings",
    "EmlFolderMailer",
    "FileSmsProvider",
    "Mailer",
    "MessageRejected",
    "OutboxMessage",
    "SmsProvider",
    "SmtpMailer",
    "SmtpSettings",
    "deliver_pending",
    "enqueue",
    "enqueue_many",
    "invitation_key",
    "invitation_messages",
    "status_key",
    "status_message",
]
