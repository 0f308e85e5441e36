"""Where and how the outbox is delivered, read from the target's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from plugin_runtime import network
from plugin_runtime.failures import BadSetting
from target_bloomz.outbox.sms import FileSmsProvider, SmsProvider

DEFAULT_SENDER = "Bloomz <no-reply@bloomz.net>"
DEFAULT_FOLDER = "output/outbox"

# The target's settings for delivery: add them to TargetBloomz.config_jsonschema.
CONFIG_PROPERTIES: tuple[th.Property[Any], ...] = (
    th.Property(
        "outbox_dir",
        th.StringType,
        title="Outbox folder",
        description="Folder for e-mails (.eml files) when no SMTP server is set, and for sms.jsonl.",
    ),
    th.Property(
        "mail_from",
        th.StringType,
        title="Mail from",
        description=f'The From of every e-mail, e.g. "{DEFAULT_SENDER}".',
    ),
    th.Property(
        "smtp_host",
        th.StringType,
        title="SMTP host",
        description="SMTP server; without it e-mails are written as files.",
    ),
    th.Property(
        "smtp_port",
        th.IntegerType,
        title="SMTP port",
        description="SMTP port (default 25, or 465 with smtp_ssl).",
    ),
    th.Property(
        "smtp_username",
        th.StringType,
        title="SMTP username",
        description="SMTP login, if the server wants one.",
    ),
    th.Property(
        "smtp_password", th.StringType, secret=True, title="SMTP password", description="SMTP password."
    ),
    th.Property(
        "smtp_starttls",
        th.BooleanType,
        title="SMTP STARTTLS",
        description="Switch to TLS with STARTTLS after connecting.",
    ),
    th.Property(
        "smtp_ssl",
        th.BooleanType,
        title="SMTP over TLS",
        description="Connect over TLS from the start (port 465).",
    ),
    th.Property(
        "smtp_ca_file",
        th.StringType,
        title="SMTP CA file",
        description="CA certificate to trust for a private relay.",
    ),
)


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP relay. TLS (STARTTLS or from the start) and login are each optional."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False  # TLS from the first byte (port 465) instead of STARTTLS
    ca_file: str | None = None  # trust this CA (a private relay's own certificate)
    timeout: float = 30.0


@dataclass(frozen=True)
class DeliverySettings:
    """E-mail goes by SMTP when ``smtp`` is set, otherwise as .eml files in ``folder``.

    Text messages go to ``sms``, by default a :class:`FileSmsProvider` writing ``folder/sms.jsonl``.
    """

    folder: Path
    sender: str = DEFAULT_SENDER
    smtp: SmtpSettings | None = None
    sms: SmsProvider | None = None

    @property
    def sms_provider(self) -> SmsProvider:
        return self.sms if self.sms is not None else FileSmsProvider(self.folder / "sms.jsonl")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliverySettings:
        """Read the target's settings (the names in :data:`CONFIG_PROPERTIES`)."""
        smtp = None
        if config.get("smtp_host"):
            implicit_tls = bool(config.get("smtp_ssl", False))
            in_clear = not (implicit_tls or config.get("smtp_starttls"))
            # The password, and the messages' addresses and texts, would cross the network in clear.
            if config.get("smtp_password") and in_clear and not network.is_loopback(str(config["smtp_host"])):
                raise BadSetting(
                    f"smtp_password is set for {config['smtp_host']} without TLS: the password would be "
                    "sent in clear; set smtp_starttls (or smtp_ssl with port 465)"
                )
            smtp = SmtpSettings(
                host=config["smtp_host"],
                port=int(config.get("smtp_port") or (465 if implicit_tls else 25)),
                username=config.get("smtp_username") or None,
                password=config.get("smtp_password") or None,
                starttls=bool(config.get("smtp_starttls", False)),
                ssl=implicit_tls,
                ca_file=config.get("smtp_ca_file") or None,
            )
        return cls(
            folder=Path(config.get("outbox_dir") or DEFAULT_FOLDER),
            sender=config.get("mail_from") or DEFAULT_SENDER,
            smtp=smtp,
        )
