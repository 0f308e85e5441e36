"""BATCH files: a stream's records as JSON Lines files, written with msgspec (both taps share this), and
read back only from the batch folder the reader was configured with (``confined``).

singer-sdk's own JSONL batcher (``singer_sdk.contrib.batch_encoder_jsonl``) is not used: it always gzips at
level 9 and encodes each record with the json module, which is slower than the RECORD messages batches are
meant to replace (bench/README.md, "tap-clever"). Here records are encoded with msgspec as the taps'
RECORD messages are (``MsgSpecWriter``'s settings), one per line; files are gzipped (at a low level, for
speed) only when ``batch_config.encoding.compression`` is ``gzip``. They hold personal data: a local batch
folder is made owner-only, and so is each file.

A BATCH message names its files by URL, and whoever reads them (target-bloomz) deletes them once read. A
hostile or broken message could name any file (another store, ``/dev/zero``): ``confined`` accepts only a
regular file inside the reader's own ``batch_config.storage.root``, checked before anything is opened.
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from uuid import uuid4

import msgspec
from singer_sdk import Stream
from singer_sdk.contrib.msgspec import enc_hook
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.mapper import SameRecordTransform

from plugin_runtime import private
from plugin_runtime.failures import BadInput, BadSetting

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, SDKBatchMessage

Writable = IO[bytes] | gzip.GzipFile

GZIP_LEVEL = 1  # level 9 (the SDK's) costs more CPU than the whole rest of the tap
CHUNK_RECORDS = 5000  # records encoded and written at a time


class BatchingStream(Stream):
    """A stream that writes its records as JSONL files, one BATCH message per file, when batch_config is set.

    A tap's stream gives ``batch_records`` (this run's records, as its record path pulls them) and
    ``_pulled_complete`` (what follows the last record of a complete pull: ACTIVATE_VERSION, bookmarks).
    The SDK writes each BATCH message, then a STATE, as each file is yielded; ``_pulled_complete`` comes after
    the last one, as it comes after the last RECORD in record mode.

    It also counts what it wrote (``records_sent``, ``closed_complete``) for the pull's finished record
    (roster_streams/pull.py).
    """

    records_sent = 0  # records written this run, as RECORD messages or in BATCH files
    closed_complete = False  # ACTIVATE_VERSION written: the stream was pulled whole

    def batch_records(self, context: Any) -> Iterator[dict[str, Any]]:
        """This run's records, for the files."""
        raise NotImplementedError

    def _pulled_complete(self) -> None:
        """What a complete pull writes after its last record."""
        raise NotImplementedError

    def get_batches(
        self, batch_config: BatchConfig, context: Any = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        check(batch_config, self.tap_name)
        reason = record_path_reason(self)
        if reason:
            self.logger.info("%s: %s, so it is written as RECORD messages, not BATCH", self.name, reason)
            for _ in self._sync_records(context):
                pass
            return
        with self.get_record_counter() as counter:
            for batch in write(self.batch_records(context), batch_config, self.tap_name, self.name):
                counter.increment(batch.records)
                self.records_sent += batch.records
                yield batch_config.encoding, [batch.url]
        self._pulled_complete()

    def _write_record_message(self, record: dict[str, Any]) -> None:
        super()._write_record_message(record)
        self.records_sent += 1

    def _write_activate_version_message(self, full_table_version: int) -> None:
        super()._write_activate_version_message(full_table_version)
        self.closed_complete = True

    def _generate_batch_messages(
        self, encoding: BaseBatchFileEncoding, manifest: list[str]
    ) -> Generator[SDKBatchMessage, None, None]:
        # Our extension of the SDK's BATCH message: a full pull's files carry its version, as its RECORD
        # messages do, so target-bloomz tells a full pull cut short from a delta (which carries none).
        # SDKBatchMessage has the field; singer-sdk 0.54 leaves it empty. Check this on an SDK upgrade.
        for message in super()._generate_batch_messages(encoding, manifest):
            message.version = self._stream_version
            yield message


class BatchSettingError(FatalAPIError):
    """batch_config asks for files this writer does not produce (the taps stop with the message)."""


@dataclass(frozen=True)
class BatchFile:
    """One written file: its URL (the BATCH message's manifest entry) and how many records it holds."""

    url: str
    records: int


def check(config: BatchConfig, tap_name: str) -> None:
    """Refuse an encoding this writer does not produce, before anything is written."""
    encoding = config.encoding
    if encoding.format != "jsonl":
        raise BatchSettingError(
            f"batch_config.encoding.format {encoding.format!r} is not supported by {tap_name}; use 'jsonl'."
        )
    if encoding.compression not in (None, "none", "gzip"):
        raise BatchSettingError(
            f"batch_config.encoding.compression {encoding.compression!r} is not supported; "
            "use 'none' or 'gzip'."
        )


def record_path_reason(stream: Stream) -> str | None:
    """Why a stream's records must go through singer-sdk's per-record path, if they must.

    Batch files hold the records exactly as the tap builds them: stream maps, flattening, deselected
    properties and a record limit (``--test``) are applied only on the SDK's record path.
    """
    if stream.ABORT_AT_RECORD_COUNT is not None:
        return "a record limit is set (--test)"
    if maps_change_records(stream):
        return "stream maps are configured for it"
    if stream.stream_maps[0].flattening_enabled:
        return "flattening is enabled"
    if not all(stream.mask.values()):
        return "some of its properties are deselected"
    return None


def maps_change_records(stream: Stream) -> bool:
    """Whether stream maps rename, filter or change the stream's records (the identity map does not)."""
    maps = stream.stream_maps
    return len(maps) != 1 or type(maps[0]) is not SameRecordTransform or maps[0].stream_alias != stream.name


def write(
    records: Iterable[dict[str, Any]], config: BatchConfig, tap_name: str, stream: str
) -> Iterator[BatchFile]:
    """Write the records to files of at most ``batch_size`` records each; yield each file once closed."""
    gzipped = config.encoding.compression == "gzip"
    run = f"{config.storage.prefix or ''}{tap_name}--{stream}-{uuid4()}"
    suffix = ".jsonl.gz" if gzipped else ".jsonl"
    encoder = msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number")
    source = iter(records)
    number = 0
    while chunk := list(islice(source, min(CHUNK_RECORDS, config.batch_size))):
        number += 1
        filename = f"{run}-{number}{suffix}"
        count = 0
        with _open(config, filename, gzipped) as file:
            while chunk:
                file.write(encoder.encode_lines(chunk))  # one JSON object per line, in one C call
                count += len(chunk)
                chunk = list(islice(source, min(CHUNK_RECORDS, config.batch_size - count)))
        yield BatchFile(config.storage.get_url(filename), count)


@contextmanager
def _open(config: BatchConfig, filename: str, gzipped: bool) -> Iterator[Writable]:
    folder = local_root(config.storage.root)
    if folder is not None:
        private.folder(folder)  # personal data: the owner's alone
    with config.storage.open(filename, "wb") as raw:
        if folder is not None:
            private.protect(folder / filename)
        if not gzipped:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL) as zipped:
            yield zipped


def local_root(root: str | None) -> Path | None:
    """The folder a ``batch_config.storage.root`` names, when it is local (``file://`` or a plain path)."""
    if not root:
        return None
    parts = urlsplit(root)
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parts.path))


def confined(url: str, root: str | None, reader: str) -> Path:
    """The local file a BATCH manifest entry names, once it is known to be a regular file in ``root``.

    ``root`` is the reader's own ``batch_config.storage.root``; ``reader`` names the reader in messages.
    """
    folder = local_root(root)
    if folder is None:
        raise BadSetting(
            f"{reader} reads BATCH files only from a local batch folder: set its batch_config.storage.root "
            f"to the folder the tap writes them to (a file:// URL){f', not {root}' if root else ''}"
        )
    parts = urlsplit(url)
    shown = url[:200]
    path, base = _resolved(unquote(parts.path)), folder.resolve()
    if (
        parts.scheme not in ("", "file")
        or parts.netloc not in ("", "localhost")
        or path is None
        or not path.is_relative_to(base)
        or path == base
    ):
        raise BadInput(
            f"BATCH file {shown} is outside {reader}'s batch folder {folder}; {reader} reads (and deletes) "
            "only files there: check the tap's and the target's batch_config.storage.root"
        )
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:
        raise BadInput(f"BATCH file {shown} is not in {reader}'s batch folder {folder} (any more?)") from None
    if not regular:
        raise BadInput(f"BATCH file {shown} is not a regular file; {reader} reads only files a tap wrote")
    return path


def _resolved(text: str) -> Path | None:
    """The path with its links followed (a link in the folder may point outside it); None if it cannot be."""
    try:
        return Path(text).resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte
        return None


def open_confined(path: Path) -> IO[bytes]:
    """Open a file ``confined`` returned, refusing it if it was swapped for a link since."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
