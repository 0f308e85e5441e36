"""Checks and normalises the e-mail addresses and phone numbers a roster brings in.

An invalid value is never an error: the caller keeps the person, drops the value and records the
warning on that person. Warnings describe the problem, never the value itself (the store and the
logs name people by id only; the caller adds the id).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class Normalized:
    """The normalised value (None when absent or invalid) and, when invalid, why."""

    value: str | None
    warning: str | None = None


_ABSENT = Normalized(None)


def normalize_email(value: str | None) -> Normalized:
    """Return the address trimmed and in lower case, or a warning when its syntax is not valid.

    Syntax only: no DNS lookup, so a run never waits on the network. Lower case (local part too)
    because Bloomz signs people in by e-mail without regard to case, and matching a churned
    contact by e-mail must not depend on how the district typed it.
    """
    text = (value or "").strip()
    if not text:
        return _ABSENT
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as err:
        return Normalized(None, f"e-mail address is not valid: {_without_value(str(err), text)}")
    return Normalized(info.normalized.lower())


def normalize_phone(value: str | None, region: str) -> Normalized:
    """Return the number in E.164 (``+13125551234``), or a warning when it is not a valid number.

    ``region`` (ISO 3166 code such as "US") is the district's default for numbers written without
    a country code. Extensions are dropped: a text message cannot reach them.
    """
    text = (value or "").strip()
    if not text:
        return _ABSENT
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Normalized(None, "phone number is not valid: it could not be read as a phone number")
    # is_valid_number(number) is is_valid_number_for_region(number, region_code_for_number(number)):
    # spelled out, the region (which the warning names) is looked up once instead of twice.
    where = phonenumbers.region_code_for_number(number)
    if where is None or not phonenumbers.is_valid_number_for_region(number, where):
        return Normalized(None, f"phone number is not valid: no such number in {where or region}")
    return Normalized(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _without_value(message: str, raw: str) -> str:
    # Syntax messages name offending characters, but the IDNA ones may quote the domain.
    domain = raw.rpartition("@")[2]
    for piece in (raw, domain):
        if len(piece) > 3:
            message = message.replace(piece, "…")
    return message
