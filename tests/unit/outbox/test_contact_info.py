"""E-mail addresses and phone numbers: normalised when valid, a warning without the value when not."""

from __future__ import annotations

import pytest
from target_bloomz.contacts.rules import Normalized, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Maria.Diaz@Example.NET", "maria.diaz@example.net"),
        ("  jo@lincoln.k12.il.us \t", "jo@lincoln.k12.il.us"),
        ("ana+bloomz@example.org", "ana+bloomz@example.org"),
    ],
)
def test_valid_addresses_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == Normalized(expected)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_address_is_no_warning(raw: str | None) -> None:
    assert normalize_email(raw) == Normalized(None, None)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("maria.diaz.example.net", "must have an @-sign"),
        ("maria@@example.net", "invalid characters"),
        ("maria@lincolnschool", "should have a period"),
        ("maria..diaz@example.net", "two periods"),
        ("Maria Diaz <maria@example.net>", "display name"),
    ],
)
def test_an_invalid_address_is_dropped_with_a_warning_that_hides_it(raw: str, why: str) -> None:
    result = normalize_email(raw)
    assert result.value is None
    assert result.warning is not None
    assert result.warning.startswith("e-mail address is not valid: ")
    assert why in result.warning
    assert "maria" not in result.warning.lower()
    assert "lincolnschool" not in result.warning


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(312) 867-5309", "US", "+13128675309"),
        ("312.867.5309 ext. 12", "US", "+13128675309"),
        ("+1 202 555 0123", "US", "+12025550123"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_valid_numbers_become_e164_with_the_districts_region(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == Normalized(expected)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("8675309", "no such number in US"),
        ("(555) 555-0123", "no such number in US"),
        ("call the office", "could not be read as a phone number"),
        ("020 7946 0958", "no such number in US"),  # a UK number written for the UK, read in a US district
    ],
)
def test_an_invalid_number_is_dropped_with_a_warning_that_hides_it(raw: str, why: str) -> None:
    result = normalize_phone(raw, "US")
    assert result.value is None
    assert result.warning is not None
    assert result.warning.startswith("phone number is not valid: ")
    assert why in result.warning
    digits = "".join(ch for ch in raw if ch.isdigit())
    assert not digits or digits[-4:] not in result.warning


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_a_missing_number_is_no_warning(raw: str | None) -> None:
    assert normalize_phone(raw, "US") == Normalized(None, None)
