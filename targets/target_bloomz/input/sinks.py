"""One sink per standard roster stream: it spools records to an NDJSON file for DuckDB to stage in bulk.

Nothing is checked per record here: the contract (keys, types, formats, references) is checked set-based
in SQL when the spool is staged (stage/staging.py), so a bad record is set aside with its reason, never fatal.
Most records never reach a sink: the reader (input/reader.py) appends them to the spool as they came. Sinks
take the rest (records of other streams, or when stream maps are configured) and BATCH files.
"""

from __future__ import annotations

import gzip
import typing as t
import zlib
from pathlib import Path

import msgspec
from singer_sdk.helpers._batch import BaseBatchFileEncoding
from singer_sdk.sinks import Sink

from plugin_runtime.failures import BadInput
from roster_streams import batches, contract

if t.TYPE_CHECKING:
    from target_bloomz.target import TargetBloomz


# Added to every record by the SDK along with _sdc_deleted_at, which we keep (deletions need it).
_SDK_BOOKKEEPING = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_table_version",  # the reader notes which streams carried one (RosterReader.versioned)
    "_sdc_sync_started_at",
)
_CHUNK = 1 << 20


class Spools:
    """The run's spool files, one append handle per stream.

    One handle per stream, shared: a changed SCHEMA makes the SDK start a new sink for the stream while the
    old one lives on until the end of input, and the reader writes records beside both; one handle keeps
    the lines in the order they came (the last record of a key wins in staging).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, t.BinaryIO] = {}

    def file(self, stream: str) -> t.BinaryIO:
        """The stream's spool, opened for appending on first use."""
        if stream not in self._files:
            self._files[stream] = spool_file(self.directory, stream).open("ab")
        return self._files[stream]

    def close(self) -> None:
        """Close every spool, so staging reads all that was written."""
        for spool in self._files.values():
            spool.close()
        self._files.clear()


class RosterSink(Sink):
    """Appends each record of one stream to ``<spool dir>/<stream>.ndjson``."""

    def __init__(self, target: TargetBloomz, stream_name: str, schema: dict, key_properties: t.Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target

    def setup(self) -> None:
        """Open the spool file."""
        super().setup()
        self._encoder = msgspec.json.Encoder()
        self._spool = self.target.spools.file(self.stream_name)

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Keep ``_sdc_deleted_at`` (deletions need it) and ACTIVATE_VERSION without the SDK's warning."""
        return True

    def get_validator(self) -> None:
        """No per-record JSON Schema validation: staging validates the whole batch in SQL."""
        return

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        """Leave date strings as they came: staging checks and casts them in SQL.

        The SDK's per-record pass looked up every field's schema for a date format; on a district's
        million records it was the largest cost of reading input (bench/README.md, "target-bloomz").
        """

    def preprocess_record(self, record: dict, context: dict) -> dict:
        """Let a roster record without its key through (as null): staging sets it aside and reports it.

        Streams outside the contract are not staged, so for them the SDK's own missing-key error stands.
        """
        if self.stream_name in contract.STREAMS:
            for key in self.key_properties:
                record.setdefault(key, None)
        return record

    def process_record(self, record: dict, context: dict) -> None:
        """Spool the record as one NDJSON line, without the SDK's bookkeeping fields (half the bytes)."""
        for name in _SDK_BOOKKEEPING:
            del record[name]
        self._spool.write(self._encoder.encode(record))
        self._spool.write(b"\n")

    def process_batch(self, context: dict) -> None:
        """Flush the spool; the records reach the store at the end of input, in one plan and apply."""
        self._spool.flush()

    def process_batch_files(self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> None:
        """Append each JSONL batch file (one record a line) to the spool in one copy, then delete it.

        Every file of the message must be a regular file in the target's own batch folder (its
        ``batch_config.storage.root``): that is checked for all of them before any is opened, so a message
        naming another file (a store, a device) reads and deletes nothing.
        """
        if encoding.format != "jsonl" or encoding.compression not in {None, "none", "gzip"}:
            raise BadInput(
                f"BATCH of stream {self.stream_name}: {encoding.format[:40]} files (compression: "
                f"{(encoding.compression or 'none')[:40]}) are not supported; target-bloomz reads jsonl "
                "batch files, uncompressed or gzip"
            )
        # The target needs only batch_config.storage.root (the SDK's BatchConfig would want an encoding too).
        root = ((self.config.get("batch_config") or {}).get("storage") or {}).get("root")
        paths = [batches.confined(url, root, "target-bloomz") for url in files]
        for path in paths:
            with batches.open_confined(path) as file:
                if encoding.compression == "gzip":
                    with gzip.open(file) as unzipped:
                        self._append(unzipped, path)
                else:
                    self._append(file, path)
            path.unlink()  # the tap leaves its files for the target; their records are in the spool now
        self._spool.flush()

    def _append(self, source: t.IO[bytes] | gzip.GzipFile, path: Path) -> None:
        """Copy a batch file to the spool, ending it with a newline (the spool is one record a line).

        shutil.copyfileobj's loop, keeping the last chunk to see whether the file ended its last line.
        """
        last = b""
        size = 0
        try:
            while chunk := source.read(_CHUNK):
                self._spool.write(chunk)
                size += len(chunk)
                last = chunk
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise BadInput(f"BATCH file {path.name} of stream {self.stream_name}: {error}") from None
        if last and not last.endswith(b"\n"):
            self._spool.write(b"\n")
        self.target.progress.add_batch(size)

    def activate_version(self, new_version: int) -> None:
        """The stream was pulled complete: remember it for the run (only complete streams may remove)."""
        self.target.mark_complete(self.stream_name, new_version)

    def clean_up(self) -> None:
        """Flush the spool file; the target closes it (TargetBloomz.spools) once every sink is done."""
        self._spool.flush()
        super().clean_up()


def spool_file(spool_dir: Path, stream: str) -> Path:
    """Where a stream's records are spooled."""
    return spool_dir / f"{stream}.ndjson"
