"""Family codes: short, unambiguous, random, unique where the caller says, typed back forgivingly."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from target_bloomz.apply.family_code_format import (
    ALPHABET,
    FamilyCodeError,
    is_family_code,
    new_family_code,
    normalize_family_code,
    taken_in_store,
)

PRINTED = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def test_a_code_is_three_groups_of_four_from_an_unambiguous_alphabet() -> None:
    code = new_family_code(lambda _: False)
    assert PRINTED.match(code), code
    assert is_family_code(code)
    # Look-alikes and sound-alikes never appear, nor vowels (so no words).
    assert not set(ALPHABET) & set("0OQD1IL2Z5SG8BUVAEC")
    assert len(set(ALPHABET)) == len(ALPHABET) == 16


def test_codes_spread_evenly_over_the_alphabet() -> None:
    codes = [new_family_code(lambda _: False) for _ in range(4000)]
    assert len(set(codes)) == len(codes), "48 random bits: 4000 codes never collide by chance"
    symbols = Counter("".join(code.replace("-", "") for code in codes))
    expected = 4000 * 12 / len(ALPHABET)
    chi_square = sum((symbols[ch] - expected) ** 2 / expected for ch in ALPHABET)
    # 15 degrees of freedom: a fair source goes over 60 about once in ten million runs.
    assert chi_square < 60, symbols
    first = Counter(code[0] for code in codes)
    assert set(first) == set(ALPHABET), "every symbol can start a code"


def test_a_taken_code_is_never_returned() -> None:
    asked: list[str] = []

    def taken(code: str) -> bool:
        asked.append(code)
        return len(asked) <= 3  # the first three candidates are in use

    code = new_family_code(taken)
    assert asked[-1] == code
    assert len(asked) == 4
    assert code not in asked[:3]


def test_it_gives_up_loudly_when_everything_is_taken() -> None:
    with pytest.raises(FamilyCodeError, match="no free family code"):
        new_family_code(lambda _: True)


def test_uniqueness_against_the_store(store_con) -> None:
    store_con.execute(
        "INSERT INTO people (id, kind, first_name, family_code) "
        "VALUES (1, 'student', 'Ana', 'K7RX-M4TW-9HJP')"
    )
    taken = taken_in_store(store_con)
    assert taken("K7RX-M4TW-9HJP")
    assert not taken("FHJK-7X9W-PRTY")
    assert new_family_code(taken) != "K7RX-M4TW-9HJP"


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        ("K7RX-M4TW-9HJP", "K7RX-M4TW-9HJP"),
        ("k7rx m4tw 9hjp", "K7RX-M4TW-9HJP"),
        ("k7rxm4tw9hjp", "K7RX-M4TW-9HJP"),
        (" K7RX--M4TW-9HJP ", "K7RX-M4TW-9HJP"),
        ("K7RX-M4TW-9HJ", None),
        ("K7RX-M4TW-9HJO", None),
        ("hello", None),
    ],
)
def test_typed_codes_are_read_forgivingly(typed: str, printed: str | None) -> None:
    assert normalize_family_code(typed) == printed
    assert is_family_code(typed) == (typed == printed)
