"""Read each REST collection once per run: later readers replay it from a private temporary file.

Several streams are built from the same collection (four from `users`, two from `enrollments`). Replaying a
spool keeps one HTTP pass per collection, bounded memory, and one consistent snapshot for every stream.
"""

from __future__ import annotations

import itertools
import shutil
import weakref
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import msgspec

from bloomz_sync import private


class Source(Protocol):
    def is_complete(self, collection: str) -> bool: ...

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]: ...


class SpooledSource:
    """Wraps a source; a read that ran to its end is kept on disk (a private folder) and replayed."""

    def __init__(self, source: Source) -> None:
        self._source = source
        # Roster data at rest: in the user's private spool folder (bloomz_sync/private.py), removed when the
        # run ends, or by the next run when this one was killed.
        self._folder = private.new_spool("tap-oneroster")
        weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
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
        path = self._folder / f"{collection}-{next(self._names)}.jsonl"
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
