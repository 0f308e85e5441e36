"""Read each REST collection once per run: later readers replay it from a private temporary file.

Several streams are built from the same collection (four from `users`, two from `enrollments`). Replaying a
spool keeps one HTTP pass per collection, bounded memory, and one consistent snapshot for every stream.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import msgspec


class Source(Protocol):
    def is_complete(self, collection: str) -> bool: ...

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]: ...


class SpooledSource:
    """Wraps a source; a read that ran to its end is kept on disk (a 0700 temporary folder) and replayed."""

    def __init__(self, source: Source) -> None:
        self._source = source
        # Roster data at rest: only this process may read it, and it is removed when the run ends.
        self._folder = tempfile.TemporaryDirectory(prefix="tap-oneroster-")
        self._spooled: dict[tuple[str, str | None], Path] = {}
        # A name per read, not per finished read: reads nest (a delta of users consults every user).
        self._names = itertools.count()

    def is_complete(self, collection: str) -> bool:
        return self._source.is_complete(collection)

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]:
        key = (collection, since)
        if key in self._spooled:
            yield from self._replay(self._spooled[key])
            return
        path = Path(self._folder.name) / f"{collection}-{next(self._names)}.jsonl"
        encoder = msgspec.json.Encoder(decimal_format="number")  # the SDK parses numbers as Decimal
        with path.open("wb") as spool:
            for obj in self._source.read(collection, since):
                spool.write(encoder.encode(obj) + b"\n")
                yield obj
        # Only a read that reached its end is replayed; one cut short is read again next time.
        self._spooled[key] = path

    @staticmethod
    def _replay(path: Path) -> Iterator[dict[str, Any]]:
        decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)
        with path.open("rb") as spool:
            for line in spool:
                yield decoder.decode(line)
