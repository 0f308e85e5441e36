"""Reads the tap's Singer messages, spooling roster records to disk without the SDK's per-record path.

A district's first sync is about a million RECORD messages. For each, singer-sdk's own path copies the
record, runs the stream map, adds its ``_sdc_`` fields, calls the validation hooks, counts it, checks the
drain limits, and our sink then encodes the dict again. Staging (stage.py) only needs the record's JSON as
one line of its stream's spool file, so this reader decodes each line only as far as its envelope and
appends a roster record's bytes as they came. Every other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH,
records of other streams, or any record when stream maps are configured) is decoded fully and handed to the
SDK's callback, so the SDK's behaviour stays for those.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter
from collections.abc import Callable

import msgspec
from singer_sdk.contrib.msgspec import decoder as sdk_decoder
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

if t.TYPE_CHECKING:
    from target_bloomz.progress import Progress

SpoolFor = Callable[[str], t.BinaryIO | None]


class Envelope(msgspec.Struct):
    """The part of a Singer message the reader decodes; ``record`` stays raw JSON, the rest is skipped."""

    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw()
    version: int | None = None


_decode_envelope = msgspec.json.Decoder(Envelope).decode
_VERSIONED = frozenset({"RECORD", "BATCH"})


class RosterReader(GenericSingerReader[t.Any]):
    """Singer input as bytes (the CLI's standard input) or text (singer-sdk's test suites)."""

    def __init__(self) -> None:
        super().__init__()
        self._spool_for: SpoolFor | None = None
        self._files: dict[str, t.BinaryIO] = {}  # the spools spool_for gave, by stream
        self.versioned: set[str] = set()
        self.spooled: Counter[str] = Counter()
        self._progress: Progress | None = None

    def spool_records(self, spool_for: SpoolFor) -> None:
        """Enable the fast path: ``spool_for(stream)`` is the file a stream's records go to, or None."""
        self._spool_for = spool_for

    def report_progress(self, progress: Progress) -> None:
        """Have ``progress`` watch the spooled records from the first line read (the target stops it)."""
        self._progress = progress

    def spooled_so_far(self) -> int:
        """Records spooled so far; safe to call from another thread (the progress reporter)."""
        return sum(list(self.spooled.values()))  # list() copies under the GIL, while records arrive

    @property
    def default_input(self) -> t.IO[bytes]:
        """Standard input, as bytes: a record is written to its spool without decoding it."""
        return sys.stdin.buffer

    def process_lines(
        self, file_input: t.IO[t.Any] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        """Spool roster records, hand every other message to its callback; count messages by type."""
        stats: Counter[str] = Counter()
        if self._progress is not None:
            self._progress.watch(self.spooled_so_far)
        try:
            self._process(file_input, callbacks, stats)
        except BaseException:
            if self._progress is not None:
                self._progress.stop()  # no end of input: no import to report on
            raise
        stats["RECORD"] += self.spooled.total()
        return stats

    def _process(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, Callable[[dict], None]],
        stats: Counter[str],
    ) -> None:
        for number, line in enumerate(file_input or self.default_input, start=1):
            envelope = _envelope(line, number)
            if envelope.version is not None and envelope.type in _VERSIONED and envelope.stream:
                self.versioned.add(envelope.stream)  # a full pull's table version (a delta's carry none)
            if envelope.type == "RECORD" and self._spooled(envelope, number):
                continue
            self._current_message = line
            message = self.deserialize_json(line)
            if callback := callbacks.get(envelope.type):
                callback(message)
            else:
                self._process_unknown_message(message)
            stats[envelope.type] += 1

    def _spooled(self, envelope: Envelope, number: int) -> bool:
        """Append a roster record to its stream's spool; False when the SDK must take it."""
        stream, record = envelope.stream, envelope.record
        if stream is None or not len(record):
            raise InvalidInputLine(f"line {number}: a RECORD message needs a stream and a record")
        if memoryview(record)[:1] != b"{":
            raise InvalidInputLine(f"line {number}: the record of a {stream} RECORD is not a JSON object")
        spool = self._files.get(stream)
        if spool is None:
            spool = self._spool_for(stream) if self._spool_for else None
            if spool is None:
                return False
            self._files[stream] = spool
        spool.write(record)
        spool.write(b"\n")
        self.spooled[stream] += 1
        return True

    def deserialize_json(self, line: t.Any) -> dict:
        """Decode a whole message as singer-sdk's msgspec reader does (its line is known to be valid)."""
        return t.cast("dict", sdk_decoder.decode(line))


def _envelope(line: bytes | str, number: int) -> Envelope:
    """Decode a line's envelope; a bad line is named by its number and msgspec's reason, never its content
    (records hold students' personal data)."""
    try:
        return _decode_envelope(line)
    except msgspec.DecodeError as err:
        raise InvalidInputLine(f"line {number} of the input is not a valid Singer message: {err}") from None
