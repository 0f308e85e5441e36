"""Text messages: the provider interface, and the default provider that writes them to a file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from plugin_runtime import private


class SmsProvider(Protocol):
    """Sends one text message to an E.164 number.

    Raise :class:`MessageRejected` when the provider refuses this message for good; any other
    exception stops delivery and leaves the rest pending. ``dedupe_key`` is the outbox row's key:
    a provider that supports idempotency keys should pass it on, so a resend after a crash is a no-op.
    """

    def send(self, to: str, body: str, *, dedupe_key: str) -> None: ...


class FileSmsProvider:
    """Appends one JSON line per message (``to``, ``body``, ``dedupe_key``, ``at``) to a file.

    A message whose ``dedupe_key`` is already in the file is not written again, so a delivery that
    crashed between writing and marking the row sent does not duplicate it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._written: set[str] | None = None
        self._cut_short = False

    def send(self, to: str, body: str, *, dedupe_key: str) -> None:
        written = self._keys_in_file()
        if dedupe_key in written:
            return
        line = json.dumps(
            {"to": to, "body": body, "dedupe_key": dedupe_key, "at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        private.folder(self.path.parent)
        append = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        with os.fdopen(private.create(self.path, append), "a", encoding="utf-8") as out:
            if self._cut_short:
                out.write("\n")  # end the partial line a crash left, so this one stays whole
                self._cut_short = False
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())  # on disk before the row is marked sent
        written.add(dedupe_key)

    def _keys_in_file(self) -> set[str]:
        if self._written is None:
            self._written = set()
            if self.path.exists():
                with self.path.open(encoding="utf-8") as lines:
                    for line in lines:
                        self._cut_short = not line.endswith("\n")
                        # A line cut short by a crash carries no complete message: ignore it.
                        try:
                            self._written.add(json.loads(line)["dedupe_key"])
                        except (ValueError, KeyError, TypeError):
                            continue
        return self._written
