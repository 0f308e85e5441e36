"""Reads the tap's Singer messages, spooling roster records to disk without the SDK's per-record path.

A district's first sync is about a million RECORD messages. For each, singer-sdk's own path copies the
record, runs the stream map, adds its ``_sdc_`` fields, calls the validation hooks, counts it, checks the
drain limits, and our sink then encodes the dict again. Staging only needs the record's JSON as
one line of its stream's spool file, so this reader decodes each line only as far as its envelope and
appends a roster record's bytes as they came. Every other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH,
records of other streams, or any record when stream maps are configured) is decoded fully and handed to the
SDK's callback, so the SDK's behaviour stays for those. Messages of the contract stream ``pull`` go to the
run's ``PullInput`` (guard/pull_verdict.py), with the order streams came in and where the input broke off.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import decoder as sdk_decoder
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.encoding.base import GenericSingerReader

from plugin_runtime.failures import BadInput
from roster_streams import contract
from target_bloomz.input.pull_input import PullInput

if t.TYPE_CHECKING:
    from target_bloomz.progress import Progress

SpoolFor = Callable[[str], t.BinaryIO | None]


class MessageBeforeSchema(BadInput, RecordsWithoutSchemaException):
    """A message of a stream whose SCHEMA has not come (singer-sdk's exception, for its test suites)."""


# A roster record is a few kilobytes; DuckDB reads a spooled record of at most 16 MB. A longer line is
# refused before it is held in memory whole.
MAX_LINE_BYTES = 8 << 20


class Envelope(msgspec.Struct):
    """The part of a Singer message the reader decodes; ``record`` stays raw JSON, the rest is skipped."""

    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw()
    version: int | None = None


class _JsonSchema(msgspec.Struct):
    properties: dict[str, Any]


class _Schema(msgspec.Struct):
    stream: str
    schema: _JsonSchema
    key_properties: list[str] | None = None
    bookmark_properties: list[str] | None = None


class _Record(msgspec.Struct):
    stream: str
    record: dict[str, Any]
    version: int | None = None


class _State(msgspec.Struct):
    value: Any


class _ActivateVersion(msgspec.Struct):
    stream: str
    version: int


class _Encoding(msgspec.Struct):
    format: str
    compression: str | None = None


class _Batch(msgspec.Struct):
    stream: str
    encoding: _Encoding
    manifest: list[str]
    version: int | None = None


# What each message type must carry (the Singer spec, and singer-sdk's BATCH extension). Checked before a
# message reaches singer-sdk, whose own errors print the whole message (a student's record).
_SHAPES: dict[str, type[msgspec.Struct]] = {
    "SCHEMA": _Schema,
    "RECORD": _Record,
    "STATE": _State,
    "ACTIVATE_VERSION": _ActivateVersion,
    "BATCH": _Batch,
}
_decode_envelope = msgspec.json.Decoder(Envelope).decode
_VERSIONED = frozenset({"RECORD", "BATCH"})


class RosterReader(GenericSingerReader[t.Any]):
    """Singer input as bytes (the CLI's standard input) or text (singer-sdk's test suites).

    Every problem with a message is a ``BadInput`` naming its line and what is wrong, never its content.
    """

    def __init__(self) -> None:
        super().__init__()
        self._spool_for: SpoolFor | None = None
        self._files: dict[str, t.BinaryIO] = {}  # the spools spool_for gave, by stream
        self._schemas: set[str] = set()  # streams whose SCHEMA came
        self.versioned: set[str] = set()
        self.spooled: Counter[str] = Counter()
        self._progress: Progress | None = None
        self.pull = PullInput()

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
        seen = self.pull.seen
        for number, line in _lines(file_input or self.default_input):
            if not line.strip():
                continue
            try:
                envelope = _envelope(line, number)
            except BadInput:
                if line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
                    raise
                self.pull.broke_off(number)  # the tap was killed while writing its last message
                break
            stream = envelope.stream
            if envelope.type != "SCHEMA" and stream is not None and stream not in self._schemas:
                raise MessageBeforeSchema(
                    f"line {number} of the input: a {envelope.type} message of stream {stream[:60]!r} "
                    "came before the stream's SCHEMA message; the tap must send the SCHEMA first"
                )
            if stream == contract.PULL:
                self._take_pull(envelope)  # not counted: the counts are of what the run imports
                continue
            if stream is not None and (stream not in seen or self.pull.finished is not None):
                self.pull.saw(stream, envelope.type)
            if envelope.version is not None and envelope.type in _VERSIONED and stream:
                self.versioned.add(stream)  # a full pull's table version (a delta's carry none)
            if envelope.type == "RECORD" and self._spooled(envelope, number):
                continue
            self._current_message = None  # singer-sdk would print it on some errors: it holds personal data
            message = self._checked(envelope.type, line, number)
            try:
                callbacks[envelope.type](message)
            except BadInput as error:
                raise BadInput(f"line {number} of the input: {error}") from None
            if envelope.type == "SCHEMA":
                self._schemas.add(message["stream"])
            stats[envelope.type] += 1

    def _checked(self, kind: str, line: bytes | str, number: int) -> dict:
        """The whole message, once it is known to carry what its type needs."""
        shape = _SHAPES.get(kind)
        if shape is None:
            raise BadInput(
                f"line {number} of the input: unknown Singer message type {kind[:40]!r}; "
                f"expected one of {', '.join(_SHAPES)}"
            )
        try:
            msgspec.json.decode(line, type=shape)
        except msgspec.ValidationError as error:
            raise BadInput(f"line {number} of the input: {kind} message: {error}") from None
        return self.deserialize_json(line)

    def _take_pull(self, envelope: Envelope) -> None:
        """A message of the pull stream: its records go to ``self.pull``, never to a sink or the store."""
        if envelope.type == "SCHEMA":
            self.pull.announced = True
            self._schemas.add(contract.PULL)
        elif envelope.type == "RECORD":
            self.pull.take(msgspec.json.decode(envelope.record) if len(envelope.record) else None)

    def _spooled(self, envelope: Envelope, number: int) -> bool:
        """Append a roster record to its stream's spool; False when the SDK must take it."""
        stream, record = envelope.stream, envelope.record
        if stream is None or not len(record):
            raise BadInput(f"line {number} of the input: a RECORD message needs a stream and a record")
        if memoryview(record)[:1] != b"{":
            raise BadInput(
                f"line {number} of the input: the record of a {stream} RECORD is not a JSON object"
            )
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


def _lines(source: t.IO[t.Any]) -> Iterator[tuple[int, t.Any]]:
    """The input's numbered lines; one longer than MAX_LINE_BYTES is refused before it is read whole."""
    number = 0
    while line := source.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise BadInput(
                f"line {number} of the input is longer than {MAX_LINE_BYTES >> 20} MB: "
                "a Singer message that large is not a roster record"
            )
        yield number, line


def _envelope(line: bytes | str, number: int) -> Envelope:
    """Decode a line's envelope; a bad line is named by its number and msgspec's reason, never its content
    (records hold students' personal data)."""
    try:
        return _decode_envelope(line)
    except msgspec.DecodeError as err:
        raise BadInput(f"line {number} of the input is not a valid Singer message: {err}") from None
    except RecursionError:
        raise BadInput(f"line {number} of the input is nested too deeply to be a Singer message") from None
