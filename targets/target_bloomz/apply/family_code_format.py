"""Family codes: what a parent types to sign up and be linked to a student with no imported contact.

A code such as ``K7RX-M4TW-9HJP`` is printed on a letter and sometimes read out over the phone, so
its alphabet leaves out every character that looks or sounds like another one: no 0/O/Q/D, 1/I/L,
2/Z, 5/S, 8/B, no G (looks like 6), no U/V, no vowels (so no words), and of the letters that rhyme
("bee", "cee", "dee"...) only P and T.

16 symbols x 12 characters = 48 random bits (from ``secrets``): with a code for each of half a
million students, a guesser still needs about 500 million tries per hit.

Codes are made once and stored with the student (the store's ``people.family_code``); a later run
reuses the stored code, so a printed letter stays valid.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import duckdb

from plugin_runtime.failures import Failure

ALPHABET = "34679FHJKMPRTWXY"
GROUPS = 3
GROUP_LENGTH = 4
_MAX_TRIES = 100


class FamilyCodeError(Failure, RuntimeError):
    """No free code was found (only possible if ``taken`` answers yes to everything)."""


def new_family_code(taken: Callable[[str], bool]) -> str:
    """Return a fresh random code for which ``taken(code)`` is false.

    ``taken`` checks uniqueness where codes live: ``codes.__contains__`` for a set being built, or
    :func:`taken_in_store` for the Bloomz store.
    """
    for _ in range(_MAX_TRIES):
        code = _random_code()
        if not taken(code):
            return code
    raise FamilyCodeError(f"no free family code after {_MAX_TRIES} tries: is the uniqueness check right?")


def _random_code() -> str:
    """A random code: 16 symbols are 4 bits, so each random byte gives two characters, uniformly."""
    symbols = "".join(
        ALPHABET[b >> 4] + ALPHABET[b & 15] for b in secrets.token_bytes(GROUPS * GROUP_LENGTH // 2)
    )
    return "-".join(symbols[i : i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))


def taken_in_store(con: duckdb.DuckDBPyConnection) -> Callable[[str], bool]:
    """A ``taken`` check against the family codes already stored in ``people``."""

    def taken(code: str) -> bool:
        return (
            con.execute("SELECT 1 FROM people WHERE family_code = ? LIMIT 1", [code]).fetchone() is not None
        )

    return taken


def normalize_family_code(typed: str) -> str | None:
    """Return the code a person typed in its printed form, or None if it cannot be a family code.

    Forgives what people do when typing a code: lower case, spaces, missing or extra dashes.
    """
    symbols = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(symbols) != GROUPS * GROUP_LENGTH or any(ch not in ALPHABET for ch in symbols):
        return None
    return "-".join(symbols[i : i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))


def is_family_code(text: str) -> bool:
    """True if ``text`` is a family code exactly as printed."""
    return normalize_family_code(text) == text
