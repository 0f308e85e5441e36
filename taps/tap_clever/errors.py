"""Errors that end a run with a message for the person running it (no traceback needed)."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class CleverError(FatalAPIError):
    """A problem the user must fix (settings, sharing in Clever).

    ``status`` is the HTTP status, when Clever answered with one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
