"""Who may use the console: users with argon2 password hashes, the session key, and CSRF tokens.

Users are created on the command line (``bloomz-sync console add-user NAME``) into an owner-only file of
the console's folder; the web pages have no way to add one. The session cookie is signed with a key kept
in the same folder (made on first start), is HTTP-only and SameSite=strict, and every form carries the
session's CSRF token, checked on every POST before anything else runs.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USERS = "users.json"
SESSION_KEY = "session.key"
MIN_PASSWORD = 12
_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class AuthError(ValueError):
    """A user cannot be added as asked; the message says why."""


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def users(folder: Path) -> dict[str, str]:
    path = folder / USERS
    if not path.is_file():
        return {}
    found: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return found


def add_user(folder: Path, name: str, password: str) -> bool:
    """Create or replace a user; True when the user is new."""
    if not _USERNAME.match(name):
        raise AuthError("a user name is 1 to 64 letters, digits, dots, dashes, underscores or @")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must be at least {MIN_PASSWORD} characters long")
    known = users(folder)
    new = name not in known
    known[name] = _hasher.hash(password)
    _write_private(folder / USERS, json.dumps(known, indent=2, sort_keys=True))
    return new


# Compared against when the user is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def check_password(folder: Path, name: str, password: str) -> bool:
    stored = users(folder).get(name)
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def session_key(folder: Path) -> str:
    """The key signing session cookies, made once and kept owner-only."""
    path = folder / SESSION_KEY
    if not path.is_file():
        _write_private(path, secrets.token_urlsafe(48))
    path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def csrf_token(session: dict) -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def csrf_ok(session: dict, submitted: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(str(expected), submitted))
